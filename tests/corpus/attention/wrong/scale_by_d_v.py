"""Bug: the scores are scaled by 1/sqrt(d_v) (v.shape[-1]) instead of 1/sqrt(d_k). Invisible
whenever d_k == d_v, as inside multi-head attention, where both are the head width."""

LOSES = {"scaled_dot_product_attention"}
HINT = "1/sqrt(d_v)"

import math

import torch


def scaled_dot_product_attention(q, k, v, mask=None):
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError("q and k need the same d_k, k and v the same number of keys")
    scores = q @ k.transpose(-2, -1) / math.sqrt(v.shape[-1])
    weights = masked_softmax(scores, mask)
    return weights @ v, weights
