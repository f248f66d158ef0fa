"""Bug: the queries are scaled in place (q /= sqrt(d_k)): the caller's q changes. Multi-head
attention passes its own projected queries, so only the first question sees it."""

LOSES = {"scaled_dot_product_attention"}
HINT = "modified its input in place"

import math

import torch


def scaled_dot_product_attention(q, k, v, mask=None):
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError("q and k need the same d_k, k and v the same number of keys")
    q /= math.sqrt(q.shape[-1])
    weights = masked_softmax(q @ k.transpose(-2, -1), mask)
    return weights @ v, weights
