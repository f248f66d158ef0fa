"""Bug: causal mask aligned top-left (j <= i) instead of bottom-right when q_len != k_len."""

LOSES = {"causal_mask"}
HINT = "bottom-right"

import torch


def causal_mask(q_len, k_len=None, *, device=None):
    if k_len is None:
        k_len = q_len
    return torch.tril(torch.ones(q_len, k_len, dtype=torch.bool, device=device))
