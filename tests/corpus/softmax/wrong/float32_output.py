"""Bug: softmax computed in float32 and returned as float32, also for float64 input."""

LOSES = {"softmax"}
HINT = "input's dtype"

import torch


def softmax(x, dim=-1):
    x = x.float()
    z = x - x.amax(dim=dim, keepdim=True)
    e = torch.exp(z)
    return e / e.sum(dim=dim, keepdim=True)
