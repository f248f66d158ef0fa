"""Bug: softmax over the wrong dim: the `dim` argument is ignored, always the last axis."""

LOSES = {"softmax"}
HINT = "softmax along another dimension"

import torch


def softmax(x, dim=-1):
    z = x - x.amax(dim=-1, keepdim=True)
    e = torch.exp(z)
    return e / e.sum(dim=-1, keepdim=True)
