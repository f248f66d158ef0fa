"""Bug: split_heads reshapes [..., T, D] straight to [..., H, T, D/H] with no transpose, mixing
positions into heads. Invisible with one head; multi-head attention and the module call it."""

LOSES = {"split_heads"}
HINT = "then transpose to [H, T, D/H]"

import torch


def split_heads(x, n_heads):
    if n_heads < 1 or x.shape[-1] % n_heads != 0:
        raise ValueError(f"D={x.shape[-1]} is not divisible by n_heads={n_heads}")
    *batch, T, D = x.shape
    return x.reshape(*batch, n_heads, T, D // n_heads)
