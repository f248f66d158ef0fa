"""Bug: alibi_bias never checks q_len and k_len: a negative length gives an empty bias instead of
ValueError."""

LOSES = {"alibi_bias"}
HINT = ">= 0"

import torch


def alibi_bias(n_heads, q_len, k_len=None):
    if k_len is None:
        k_len = q_len
    slopes = alibi_slopes(n_heads)
    i = torch.arange(max(q_len, 0))[:, None] + (k_len - q_len)
    j = torch.arange(max(k_len, 0))[None, :]
    return slopes[:, None, None] * (j - i).float()
