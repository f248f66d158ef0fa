"""Bug: RoPE frequencies base^(-i/d) with the pair index i, not base^(-2i/d)."""

LOSES = {"rotary_embedding"}
HINT = "base^(-2i/d), not base^(-i/d)"

import torch


def rotary_embedding(x, positions=None, base=10000.0):
    T, d = x.shape[-2], x.shape[-1]
    if d % 2 != 0:
        raise ValueError(f"d must be even, got {d}")
    if positions is None:
        positions = torch.arange(T)
    freq = base ** (-torch.arange(d // 2, dtype=torch.float32) / d)
    angle = positions.float()[:, None] * freq[None, :]
    cos, sin = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).flatten(-2)
