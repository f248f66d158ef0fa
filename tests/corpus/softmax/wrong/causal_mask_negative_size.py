"""Bug: causal_mask only checks that its sizes are ints: a negative q_len or k_len reaches
torch.ones and raises RuntimeError, not ValueError."""

LOSES = {"causal_mask"}
HINT = ">= 0"

import torch


def causal_mask(q_len, k_len=None, *, device=None):
    k_len = q_len if k_len is None else k_len
    _int_arg(q_len, "q_len")
    _int_arg(k_len, "k_len")
    i = torch.arange(q_len, device=device).unsqueeze(1) if q_len >= 0 else torch.ones(q_len)
    j = torch.arange(k_len, device=device).unsqueeze(0) if k_len >= 0 else torch.ones(k_len)
    return j <= i + (k_len - q_len)
