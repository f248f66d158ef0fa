"""Bug: the input is modified in place (x -= max): the caller's logits change."""

LOSES = {"softmax"}
HINT = "modified its input in place"

import torch


def softmax(x, dim=-1):
    x -= x.amax(dim=dim, keepdim=True)
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)
