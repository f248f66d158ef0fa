"""Bug: an odd d_model crashes (the cosine columns get one frequency too many)."""

LOSES = {"sinusoidal_encoding"}
HINT = "with an odd d_model there is one more sine column"

import torch


def sinusoidal_encoding(seq_len, d_model, base=10000.0, *, dtype=torch.float32):
    pos = torch.arange(seq_len, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angle = pos / base ** (two_i / d_model)
    pe = torch.zeros(seq_len, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)  # shape mismatch when d_model is odd
    return pe.to(dtype)
