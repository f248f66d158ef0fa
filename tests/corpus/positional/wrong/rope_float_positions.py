"""Bug: rotary_embedding accepts float positions (it converts them) instead of refusing them."""

LOSES = {"rotary_embedding"}
HINT = "integer tensor"

import torch


def rotary_embedding(x, positions=None, base=10000.0):
    _check_rope(x, None if positions is None else positions.long(), base)
    T, d = x.shape[-2], x.shape[-1]
    if d % 2 != 0:
        raise ValueError(f"d must be even, got {d}")
    if positions is None:
        positions = torch.arange(T)
    freq = base ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)
    angle = positions.float()[:, None] * freq[None, :]
    cos, sin = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)
    return out.flatten(-2)
