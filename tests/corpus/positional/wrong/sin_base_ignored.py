"""Bug: the `base` argument is ignored (10000 is hard-coded)."""

LOSES = {"sinusoidal_encoding"}
HINT = "use the `base` argument"

import torch


def sinusoidal_encoding(seq_len, d_model, base=10000.0, *, dtype=torch.float32):
    pos = torch.arange(seq_len, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angle = pos / 10000.0 ** (two_i / d_model)
    pe = torch.zeros(seq_len, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.to(dtype)
