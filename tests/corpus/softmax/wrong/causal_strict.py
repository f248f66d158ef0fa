"""Bug: causal mask off by one on the diagonal: j < i (strict triangle), a query cannot see itself."""

LOSES = {"causal_mask"}
HINT = "True on the diagonal"

import torch


def causal_mask(q_len, k_len=None, *, device=None):
    if k_len is None:
        k_len = q_len
    i = torch.arange(q_len, device=device)[:, None]
    j = torch.arange(k_len, device=device)[None, :]
    return j < i + (k_len - q_len)
