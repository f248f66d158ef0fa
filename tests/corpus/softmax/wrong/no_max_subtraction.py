"""Bug: softmax without subtracting the row maximum: exp(1000) overflows to inf, inf/inf = NaN."""

LOSES = {"softmax"}
HINT = "subtract the maximum of each row"

import torch


def softmax(x, dim=-1):
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)
