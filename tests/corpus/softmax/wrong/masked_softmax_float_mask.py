"""Bug: masked_softmax accepts a float mask (it never checks mask.dtype) instead of refusing it."""

LOSES = {"masked_softmax"}
HINT = "torch.bool"

import torch


def masked_softmax(x, mask, dim=-1):
    _check_x(x, dim)
    if not isinstance(mask, torch.Tensor):
        raise ValueError("mask must be a tensor")
    _check_mask(x, mask.bool())
    z = x.masked_fill(~mask.bool(), float("-inf"))
    m = z.amax(dim=dim, keepdim=True)
    m = torch.where(torch.isinf(m), torch.zeros_like(m), m)
    e = torch.exp(z - m)
    s = e.sum(dim=dim, keepdim=True)
    return e / torch.where(s == 0, torch.ones_like(s), s)
