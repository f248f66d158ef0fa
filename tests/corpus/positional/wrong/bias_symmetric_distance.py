"""Bug: ALiBi bias -slope * |j - i'| (the bidirectional variant): future keys get penalties too."""

LOSES = {"alibi_bias"}
HINT = "not -slope * |j - i'|"

import torch


def alibi_bias(n_heads, q_len, k_len=None):
    if k_len is None:
        k_len = q_len
    slopes = alibi_slopes(n_heads)
    i = torch.arange(q_len)[:, None] + (k_len - q_len)
    j = torch.arange(k_len)[None, :]
    return -slopes[:, None, None] * (j - i).abs().float()
