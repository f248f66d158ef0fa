"""Bug: a hand-written softmax without subtracting the row maximum: exp overflows to inf (and
inf/inf = NaN) or underflows to 0 (0/0) once the scores reach a few hundred. Ordinary
inputs, and the multi-head questions' small inputs, are fine."""

LOSES = {"scaled_dot_product_attention"}
HINT = "subtract each row's maximum"

import math

import torch


def scaled_dot_product_attention(q, k, v, mask=None):
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError("q and k need the same d_k, k and v the same number of keys")
    e = torch.exp(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]))
    if mask is not None:
        e = e * mask
    total = e.sum(dim=-1, keepdim=True)
    weights = e / torch.where(total == 0, torch.ones_like(total), total)
    return weights @ v, weights
