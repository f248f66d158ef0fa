"""Correct, written differently: everything in float32 the textbook way. The sinusoidal
frequencies are exp(-log(base) * 2i / d) (the PyTorch tutorial's div_term), RoPE uses
cos/sin tables repeated with repeat_interleave and GPT-J's rotate_every_two, ALiBi slopes
follow the paper's code (start = 2^(-2^-(log2(n) - 3)), ratio = start, recursion for other n)."""

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
    position = torch.arange(seq_len, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(base) / d_model))
    pe = torch.zeros(seq_len, d_model, dtype=torch.float32)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)[:, : d_model // 2]
    return pe.to(dtype)


def rotate_every_two(x):
    x1 = x[..., ::2]
    x2 = x[..., 1::2]
    return torch.stack((-x2, x1), dim=-1).flatten(-2)


def rotary_embedding(x, positions=None, base=10000.0):
    _check_rope(x, positions, base)
    d = x.shape[-1]
    if d % 2 == 1:
        raise ValueError("rotary_embedding needs an even last dimension")
    if positions is None:
        positions = torch.arange(x.shape[-2])
    inv_freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(base) / d))
    sinusoid = positions.to(torch.float32)[:, None] * inv_freq[None, :]
    sin = torch.sin(sinusoid).repeat_interleave(2, dim=-1)
    cos = torch.cos(sinusoid).repeat_interleave(2, dim=-1)
    return (x * cos + rotate_every_two(x) * sin).to(x.dtype)


def alibi_slopes(n_heads):
    _whole(n_heads, "n_heads", 1)
    if n_heads < 1:
        raise ValueError("n_heads must be positive")

    def get_slopes_power_of_2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        ratio = start
        return [start * ratio ** i for i in range(n)]

    def get_slopes(n):
        if math.log2(n).is_integer():
            return get_slopes_power_of_2(n)
        closest_power_of_2 = 2 ** math.floor(math.log2(n))
        return (get_slopes_power_of_2(closest_power_of_2)
                + get_slopes(2 * closest_power_of_2)[0::2][: n - closest_power_of_2])

    return torch.tensor(get_slopes(n_heads), dtype=torch.float32)


def alibi_bias(n_heads, q_len, k_len=None):
    _check_bias(n_heads, q_len, k_len)
    if k_len is None:
        k_len = q_len
    if min(q_len, k_len) < 0:
        raise ValueError("negative length")
    context = torch.arange(q_len, dtype=torch.float32)[:, None] + (k_len - q_len)
    memory = torch.arange(k_len, dtype=torch.float32)[None, :]
    relative = memory - context  # [q_len, k_len]
    return alibi_slopes(n_heads).unsqueeze(1).unsqueeze(1) * relative.unsqueeze(0)
