"""Correct, written differently: RoPE with complex numbers (torch.view_as_complex, torch.polar),
the sinusoidal table stacked and flattened, ALiBi slopes by repeated halving, ALiBi biases by
broadcasting arange differences against a [H, 1, 1] view of the slopes."""

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
        raise ValueError("bad arguments")
    n = (d_model + 1) // 2
    freq = torch.tensor([base ** (-2 * i / d_model) for i in range(n)], dtype=torch.float64)
    angle = torch.outer(torch.arange(seq_len, dtype=torch.float64), freq)  # [T, n]
    table = torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)  # sin, cos, sin, cos, ...
    return table[:, :d_model].to(dtype)  # odd d_model: drop the last cosine


def rotary_embedding(x, positions=None, base=10000.0):
    _check_rope(x, positions, base)
    *batch, T, d = x.shape
    if d % 2:
        raise ValueError("odd d")
    if positions is None:
        positions = torch.arange(T)
    freq = 1.0 / base ** (torch.arange(0, d, 2).double() / d)
    rot = torch.polar(torch.ones(T, d // 2, dtype=torch.float64), positions.double()[:, None] * freq)
    z = torch.view_as_complex(x.double().reshape(*batch, T, d // 2, 2).contiguous())
    return torch.view_as_real(z * rot).reshape(x.shape).to(x.dtype)


def _geometric(n):
    # 2^(-8/n), 2^(-16/n), ...: start at r = 2^(-8/n) and multiply by r
    r = 0.5 ** (8 / n)
    return [r ** (h + 1) for h in range(n)]


def alibi_slopes(n_heads):
    _whole(n_heads, "n_heads", 1)
    if n_heads < 1:
        raise ValueError("n_heads >= 1")
    if n_heads & (n_heads - 1) == 0:
        return torch.tensor(_geometric(n_heads), dtype=torch.float32)
    closest = 2 ** math.floor(math.log2(n_heads))
    extra = _geometric(2 * closest)[::2][: n_heads - closest]
    return torch.tensor(_geometric(closest) + extra, dtype=torch.float32)


def alibi_bias(n_heads, q_len, k_len=None):
    _check_bias(n_heads, q_len, k_len)
    k_len = q_len if k_len is None else k_len
    if q_len < 0 or k_len < 0:
        raise ValueError("negative length")
    rel = torch.arange(k_len)[None, :] - torch.arange(q_len)[:, None] - (k_len - q_len)
    return alibi_slopes(n_heads).view(-1, 1, 1) * rel
