"""Bug: merge_heads never checks that x has at least 3 dimensions [..., H, T, d]."""

LOSES = {"merge_heads"}
HINT = "at least 3 dimensions"

import torch


def merge_heads(x):
    if not isinstance(x, torch.Tensor):
        raise ValueError("x must be a tensor")
    if x.dim() < 3:
        return x
    *batch, H, T, d = x.shape
    return x.transpose(-3, -2).reshape(*batch, T, H * d)
