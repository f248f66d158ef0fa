"""Bug: softmax switches torch's default dtype to x's dtype and leaves it changed, a side
effect on every later computation of the notebook."""

LOSES = {"softmax"}
HINT = "default dtype"

import torch


def softmax(x, dim=-1):
    _check_x(x, dim)
    torch.set_default_dtype(x.dtype)
    z = x - x.amax(dim=dim, keepdim=True)
    e = torch.exp(z)
    return e / e.sum(dim=dim, keepdim=True)
