"""Correct: the straightforward student solution, and the base every wrong submission edits.

Each function stands alone (none calls another), so a bug planted in one function by a
wrong/ submission cannot leak into the grade of another question.
"""

import torch


def softmax(x, dim=-1):
    z = x - x.amax(dim=dim, keepdim=True)
    e = torch.exp(z)
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(x, dim=-1):
    z = x - x.amax(dim=dim, keepdim=True)
    return z - torch.log(torch.exp(z).sum(dim=dim, keepdim=True))


def masked_softmax(x, mask, dim=-1):
    z = x.masked_fill(~mask, float("-inf"))
    m = z.amax(dim=dim, keepdim=True)
    m = torch.where(torch.isinf(m), torch.zeros_like(m), m)  # fully masked row: shift by 0
    e = torch.exp(z - m)
    s = e.sum(dim=dim, keepdim=True)
    return e / torch.where(s == 0, torch.ones_like(s), s)


def causal_mask(q_len, k_len=None, *, device=None):
    if k_len is None:
        k_len = q_len
    i = torch.arange(q_len, device=device)[:, None]
    j = torch.arange(k_len, device=device)[None, :]
    return j <= i + (k_len - q_len)


def padding_mask(lengths, max_len):
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]
