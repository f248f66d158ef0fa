"""Bug: log_softmax never checks `dim`: an out-of-range dim raises IndexError, not ValueError."""

LOSES = {"log_softmax"}
HINT = "out of range"

import torch


def log_softmax(x, dim=-1):
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() == 0:
        raise ValueError("x must be a floating-point tensor with at least one dimension")
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise ValueError("dim must be an int")
    z = x - x.amax(dim=dim, keepdim=True)
    return z - torch.log(torch.exp(z).sum(dim=dim, keepdim=True))
