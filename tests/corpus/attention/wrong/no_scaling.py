"""Bug: no 1/sqrt(d_k) scaling: the scores are plain dot products q @ k^T."""

LOSES = {"scaled_dot_product_attention"}
HINT = "without the scaling"
SAMPLE = True  # the unit's sample wrong entry: graded in a Gradescope tree and both ways by the fast path

import torch


def scaled_dot_product_attention(q, k, v, mask=None):
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError("q and k need the same d_k, k and v the same number of keys")
    scores = q @ k.transpose(-2, -1)
    weights = masked_softmax(scores, mask)
    return weights @ v, weights
