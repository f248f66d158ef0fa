"""Correct: the straightforward student solution, and the base every wrong submission edits.

Computed in float32 like most students would (the grader must accept float32 rounding of
large angles). alibi_bias calls alibi_slopes, as the notebook suggests.
"""

import math

import torch


# argument checks: every documented invalid argument is a ValueError
def _whole(value, name, least):
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name} must be an int >= {least}, got {value!r}")


def _positive(base):
    if isinstance(base, bool) or not isinstance(base, (int, float)) or not 0 < base < float("inf"):
        raise ValueError(f"base must be a positive finite number, got {base!r}")


def _check_table(seq_len, d_model, base, dtype):
    _whole(seq_len, "seq_len", 0)
    _whole(d_model, "d_model", 1)
    _positive(base)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point dtype, got {dtype!r}")


def _check_rope(x, positions, base):
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() < 2:
        raise ValueError("x must be a floating-point tensor [..., T, d]")
    if positions is not None and (not isinstance(positions, torch.Tensor) or positions.is_floating_point()
                                  or positions.dtype == torch.bool or positions.shape != x.shape[-2:-1]):
        raise ValueError("positions must be an integer tensor of shape [T]")
    _positive(base)


def _check_bias(n_heads, q_len, k_len):
    _whole(n_heads, "n_heads", 1)
    _whole(q_len, "q_len", 0)
    if k_len is not None:
        _whole(k_len, "k_len", 0)


def sinusoidal_encoding(seq_len, d_model, base=10000.0, *, dtype=torch.float32):
    _check_table(seq_len, d_model, base, dtype)
    if seq_len < 0 or d_model < 1 or base <= 0:
        raise ValueError("seq_len must be >= 0, d_model >= 1 and base > 0")
    pos = torch.arange(seq_len, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angle = pos / base ** (two_i / d_model)
    pe = torch.zeros(seq_len, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.to(dtype)


def rotary_embedding(x, positions=None, base=10000.0):
    _check_rope(x, positions, base)
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


def alibi_slopes(n_heads):
    _whole(n_heads, "n_heads", 1)
    if n_heads < 1:
        raise ValueError("n_heads must be >= 1")

    def power_of_two(n):
        return [2 ** (-8 * (h + 1) / n) for h in range(n)]

    m = 2 ** int(math.log2(n_heads))
    slopes = power_of_two(m) + power_of_two(2 * m)[0::2][: n_heads - m]
    return torch.tensor(slopes, dtype=torch.float32)


def alibi_bias(n_heads, q_len, k_len=None):
    _check_bias(n_heads, q_len, k_len)
    if k_len is None:
        k_len = q_len
    if q_len < 0 or k_len < 0:
        raise ValueError("lengths must be >= 0")
    slopes = alibi_slopes(n_heads)
    i = torch.arange(q_len)[:, None] + (k_len - q_len)
    j = torch.arange(k_len)[None, :]
    return slopes[:, None, None] * (j - i).float()
