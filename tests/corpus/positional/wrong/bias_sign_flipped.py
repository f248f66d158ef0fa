"""Bug: ALiBi bias with its sign flipped: keys in the past get a bonus instead of a penalty."""

LOSES = {"alibi_bias"}
HINT = "the sign is flipped"

import torch


def alibi_bias(n_heads, q_len, k_len=None):
    if k_len is None:
        k_len = q_len
    slopes = alibi_slopes(n_heads)
    i = torch.arange(q_len)[:, None] + (k_len - q_len)
    j = torch.arange(k_len)[None, :]
    return slopes[:, None, None] * (i - j).float()
