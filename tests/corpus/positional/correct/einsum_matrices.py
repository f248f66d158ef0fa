"""Correct, written differently: the sinusoidal table from torch.where on the column parity,
RoPE as explicit 2x2 rotation matrices applied with einsum (and unflatten/movedim-free
reshapes), ALiBi slopes with torch.pow on tensors, the bias as an outer product via einsum."""

import torch


def sinusoidal_encoding(seq_len, d_model, base=10000.0, *, dtype=torch.float32):
    if seq_len < 0 or d_model < 1 or not base > 0:
        raise ValueError("bad arguments")
    col = torch.arange(d_model)
    exponent = (col - col % 2).double() / d_model  # 2i / d_model for columns 2i and 2i+1
    angle = torch.arange(seq_len).double()[:, None] / torch.pow(torch.tensor(float(base), dtype=torch.float64), exponent)
    table = torch.where(col % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.to(dtype)


def rotary_embedding(x, positions=None, base=10000.0):
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
    if n_heads < 1:
        raise ValueError("need at least one head")
    m = 1
    while 2 * m <= n_heads:
        m *= 2
    first = torch.pow(2.0, -8.0 * torch.arange(1, m + 1, dtype=torch.float64) / m)
    rest = torch.pow(2.0, -8.0 * torch.arange(1, 2 * m + 1, 2, dtype=torch.float64) / (2 * m))[: n_heads - m]
    return torch.cat([first, rest]).float()


def alibi_bias(n_heads, q_len, k_len=None):
    k_len = q_len if k_len is None else k_len
    if q_len < 0 or k_len < 0:
        raise ValueError("negative length")
    distance = torch.arange(k_len).view(1, -1) - torch.arange(k_len - q_len, k_len).view(-1, 1)
    return torch.einsum("h,qk->hqk", alibi_slopes(n_heads), distance.float())
