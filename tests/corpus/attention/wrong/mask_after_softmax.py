"""Bug: the mask is applied after the softmax: masked keys get 0, but they took part in the
normalisation, so the kept keys' weights no longer sum to 1."""

LOSES = {"scaled_dot_product_attention"}
HINT = "apply the mask before the softmax"

import math

import torch


def scaled_dot_product_attention(q, k, v, mask=None):
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError("q and k need the same d_k, k and v the same number of keys")
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    if mask is not None:
        weights = weights * mask
    return weights @ v, weights
