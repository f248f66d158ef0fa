"""Bug: merge_heads reshapes [..., H, T, d] straight to [..., T, H*d] with no transpose.
Invisible with one head; multi-head attention and the module call it."""

LOSES = {"merge_heads"}
HINT = "transpose [H, T, d] to [T, H, d]"

import torch


def merge_heads(x):
    *batch, H, T, d = x.shape
    return x.reshape(*batch, T, H * d)
