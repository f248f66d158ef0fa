"""Bug: all the sines, then all the cosines ([sin | cos]), instead of interleaving them."""

LOSES = {"sinusoidal_encoding"}
HINT = "all the sines first"

import torch


def sinusoidal_encoding(seq_len, d_model, base=10000.0, *, dtype=torch.float32):
    pos = torch.arange(seq_len, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angle = pos / base ** (two_i / d_model)
    return torch.cat([torch.sin(angle), torch.cos(angle[:, : d_model // 2])], dim=1).to(dtype)
