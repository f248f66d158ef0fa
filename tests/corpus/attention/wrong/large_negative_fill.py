"""Bug: masking with a large negative number (-1e9) instead of -inf: masked keys get ~0, but a
query whose every key is masked attends uniformly (1/Lk) instead of getting zeros."""

LOSES = {"scaled_dot_product_attention"}
HINT = "uniform (1/Lk)"

import math

import torch


def scaled_dot_product_attention(q, k, v, mask=None):
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError("q and k need the same d_k, k and v the same number of keys")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, -1e9)
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights
