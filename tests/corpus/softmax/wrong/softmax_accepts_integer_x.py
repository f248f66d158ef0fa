"""Bug: softmax checks dim but not x's dtype: an integer tensor is normalised instead of refused."""

LOSES = {"softmax"}
HINT = "floating-point"

import torch


def softmax(x, dim=-1):
    if not isinstance(x, torch.Tensor) or x.dim() == 0:
        raise ValueError("x must be a tensor with at least one dimension")
    _check_x(x.float(), dim)
    z = x - x.amax(dim=dim, keepdim=True)
    e = torch.exp(z)
    return e / e.sum(dim=dim, keepdim=True)
