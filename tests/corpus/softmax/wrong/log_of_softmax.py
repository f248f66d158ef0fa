"""Bug: log_softmax as log(softmax(x)): softmax underflows to exactly 0 at -1e4, log(0) = -inf."""

LOSES = {"log_softmax"}
HINT = "log(softmax(x)) underflows"

import torch


def log_softmax(x, dim=-1):
    z = x - x.amax(dim=dim, keepdim=True)
    p = torch.exp(z) / torch.exp(z).sum(dim=dim, keepdim=True)
    return torch.log(p)
