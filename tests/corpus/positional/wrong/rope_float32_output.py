"""Bug: RoPE returns float32 for float64 queries (the cos/sin tables' dtype wins)."""

LOSES = {"rotary_embedding"}
HINT = "return the input's dtype"

import torch


def rotary_embedding(x, positions=None, base=10000.0):
    _check_rope(x, positions, base)
    T, d = x.shape[-2], x.shape[-1]
    if d % 2 != 0:
        raise ValueError(f"d must be even, got {d}")
    if positions is None:
        positions = torch.arange(T)
    freq = base ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)
    angle = positions.float()[:, None] * freq[None, :]
    cos, sin = torch.cos(angle), torch.sin(angle)
    x0, x1 = x[..., 0::2].float(), x[..., 1::2].float()
    return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).flatten(-2)
