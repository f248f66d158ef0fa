"""Bug: RoPE rotates every pair in the other direction (by -theta)."""

LOSES = {"rotary_embedding"}
HINT = "clockwise"
SAMPLE = True  # the unit's sample wrong entry: graded in a Gradescope tree and both ways by the fast path

import torch


def rotary_embedding(x, positions=None, base=10000.0):
    T, d = x.shape[-2], x.shape[-1]
    if d % 2 != 0:
        raise ValueError(f"d must be even, got {d}")
    if positions is None:
        positions = torch.arange(T)
    freq = base ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)
    angle = positions.float()[:, None] * freq[None, :]
    cos, sin = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = torch.stack([x0 * cos + x1 * sin, -x0 * sin + x1 * cos], dim=-1)
    return out.flatten(-2)
