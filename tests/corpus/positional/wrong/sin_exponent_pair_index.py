"""Bug: the wrong frequency exponent: base^(i/d_model) with the pair index i, not 2i/d_model."""

LOSES = {"sinusoidal_encoding"}
HINT = "not the pair index i"

import torch


def sinusoidal_encoding(seq_len, d_model, base=10000.0, *, dtype=torch.float32):
    pos = torch.arange(seq_len, dtype=torch.float32)[:, None]
    i = torch.arange((d_model + 1) // 2, dtype=torch.float32)
    angle = pos / base ** (i / d_model)
    pe = torch.zeros(seq_len, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.to(dtype)
