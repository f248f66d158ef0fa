"""Bug: ALiBi bias aligned top-left (slope * (j - i)) when q_len != k_len."""

LOSES = {"alibi_bias"}
HINT = "bottom-right"

import torch


def alibi_bias(n_heads, q_len, k_len=None):
    if k_len is None:
        k_len = q_len
    slopes = alibi_slopes(n_heads)
    i = torch.arange(q_len)[:, None]
    j = torch.arange(k_len)[None, :]
    return slopes[:, None, None] * (j - i).float()
