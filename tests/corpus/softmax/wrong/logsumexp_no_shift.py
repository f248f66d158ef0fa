"""Bug: log_softmax as x - log(sum(exp(x))) with no max shift: overflows to -inf/NaN at 1000."""

LOSES = {"log_softmax"}
HINT = "subtract the maximum of each row"

import torch


def log_softmax(x, dim=-1):
    return x - torch.log(torch.exp(x).sum(dim=dim, keepdim=True))
