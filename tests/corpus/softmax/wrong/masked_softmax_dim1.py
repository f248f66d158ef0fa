"""Bug: masked_softmax over a hard-coded dim=1 (written for [B, T] scores), whatever `dim` says."""

LOSES = {"masked_softmax"}
HINT = "softmax along another dimension"

import torch


def masked_softmax(x, mask, dim=-1):
    z = x.masked_fill(~mask, float("-inf"))
    m = z.amax(dim=1, keepdim=True)
    m = torch.where(torch.isinf(m), torch.zeros_like(m), m)
    e = torch.exp(z - m)
    s = e.sum(dim=1, keepdim=True)
    return e / torch.where(s == 0, torch.ones_like(s), s)
