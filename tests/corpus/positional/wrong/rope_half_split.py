"""Bug: RoPE in the GPT-NeoX/LLaMA half-split layout (pairs (i, i + d/2)), not interleaved pairs."""

LOSES = {"rotary_embedding"}
HINT = "paired dimension i with i + d/2"

import torch


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def rotary_embedding(x, positions=None, base=10000.0):
    T, d = x.shape[-2], x.shape[-1]
    if d % 2 != 0:
        raise ValueError(f"d must be even, got {d}")
    if positions is None:
        positions = torch.arange(T)
    freq = base ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)
    angle = positions.float()[:, None] * freq[None, :]
    angle = torch.cat([angle, angle], dim=-1)
    return (x * torch.cos(angle).to(x.dtype) + rotate_half(x) * torch.sin(angle).to(x.dtype))
