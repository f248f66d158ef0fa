"""Bug: the scores are multiplied by sqrt(d_k) instead of divided by it."""

LOSES = {"scaled_dot_product_attention"}
HINT = "multiplied by sqrt(d_k)"

import math

import torch


def scaled_dot_product_attention(q, k, v, mask=None):
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError("q and k need the same d_k, k and v the same number of keys")
    scores = q @ k.transpose(-2, -1) * math.sqrt(q.shape[-1])
    weights = masked_softmax(scores, mask)
    return weights @ v, weights
