"""Bug: ALiBi slopes 2^(-8(h+1)/n) for every n, also when n is not a power of two. alibi_bias
uses these slopes, so its non-power-of-two head counts are wrong too."""

LOSES = {"alibi_slopes"}
HINT = "rule for a power of two n only"

import torch


def alibi_slopes(n_heads):
    h = torch.arange(1, n_heads + 1, dtype=torch.float32)
    return 2.0 ** (-8.0 * h / n_heads)
