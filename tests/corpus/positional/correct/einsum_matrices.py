"""Correct, written differently: the sinusoidal table from torch.where on the column parity,
RoPE as explicit 2x2 rotation matrices applied with einsum (and unflatten/movedim-free
reshapes), ALiBi slopes with torch.pow on tensors, the bias as an outer product via einsum."""

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
    if seq_len < 0 or d_model < 1 or not base > 0:
        raise ValueError("bad arguments")
    col = torch.arange(d_model)
    exponent = (col - col % 2).double() / d_model  # 2i / d_model for columns 2i and 2i+1
    angle = torch.arange(seq_len).double()[:, None] / torch.pow(torch.tensor(float(base), dtype=torch.float64), exponent)
    table = torch.where(col % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.to(dtype)


def rotary_embedding(x, positions=None, base=10000.0):
    _check_rope(x, positions, base)
    d = x.size(-1)
    if d % 2:
        raise ValueError(f"odd feature size {d}")
    T = x.size(-2)
    p = torch.arange(T) if positions is None else positions
    theta = torch.einsum("t,i->ti", p.to(torch.float64),
                         torch.pow(float(base), -torch.arange(d // 2, dtype=torch.float64) * 2 / d))
    c, s = theta.cos(), theta.sin()
    rotation = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # [T, d/2, 2, 2]
    pairs = x.to(torch.float64).unflatten(-1, (d // 2, 2))  # [..., T, d/2, 2]
    out = torch.einsum("tiab,...tib->...tia", rotation, pairs)
    return out.flatten(-2).to(x.dtype)


def alibi_slopes(n_heads):
    _whole(n_heads, "n_heads", 1)
    if n_heads < 1:
        raise ValueError("need at least one head")
    m = 1
    while 2 * m <= n_heads:
        m *= 2
    first = torch.pow(2.0, -8.0 * torch.arange(1, m + 1, dtype=torch.float64) / m)
    rest = torch.pow(2.0, -8.0 * torch.arange(1, 2 * m + 1, 2, dtype=torch.float64) / (2 * m))[: n_heads - m]
    return torch.cat([first, rest]).float()


def alibi_bias(n_heads, q_len, k_len=None):
    _check_bias(n_heads, q_len, k_len)
    k_len = q_len if k_len is None else k_len
    if q_len < 0 or k_len < 0:
        raise ValueError("negative length")
    distance = torch.arange(k_len).view(1, -1) - torch.arange(k_len - q_len, k_len).view(-1, 1)
    return torch.einsum("h,qk->hqk", alibi_slopes(n_heads), distance.float())
