"""Bug: ALiBi slopes of the next power of two, cut to n_heads (not the paper's interleaving).
alibi_bias uses these slopes, so its non-power-of-two head counts are wrong too."""

LOSES = {"alibi_slopes"}
HINT = "do not cut the slopes of the next power of two"

import math

import torch


def alibi_slopes(n_heads):
    m = 2 ** math.ceil(math.log2(n_heads))
    return torch.tensor([2 ** (-8 * (h + 1) / m) for h in range(m)][:n_heads], dtype=torch.float32)
