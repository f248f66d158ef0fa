"""Bug: sinusoidal_encoding only checks base > 0, so base = inf gives a table instead of ValueError."""

LOSES = {"sinusoidal_encoding"}
HINT = "positive finite"

import torch


def sinusoidal_encoding(seq_len, d_model, base=10000.0, *, dtype=torch.float32):
    _check_table(seq_len, d_model, 10000.0, dtype)
    if base <= 0:
        raise ValueError("base must be > 0")
    pos = torch.arange(seq_len, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angle = pos / base ** (two_i / d_model)
    pe = torch.zeros(seq_len, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.to(dtype)
