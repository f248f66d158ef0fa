"""Bug: scaled_dot_product_attention converts a float mask with .bool() instead of refusing it
(the docstring's ValueError: mask must be a torch.bool tensor)."""

LOSES = {"scaled_dot_product_attention"}
HINT = "torch.bool"

import math

import torch


def scaled_dot_product_attention(q, k, v, mask=None):
    if mask is not None:
        mask = mask.bool()
    _check_attention(q, k, v, mask)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = masked_softmax(scores, mask)
    return weights @ v, weights
