"""Bug: -inf masking then a plain stable softmax: a fully masked row is -inf - (-inf) = NaN."""

LOSES = {"masked_softmax"}
HINT = "got NaN"

import torch


def masked_softmax(x, mask, dim=-1):
    z = x.masked_fill(~mask, float("-inf"))
    z = z - z.amax(dim=dim, keepdim=True)
    e = torch.exp(z)
    return e / e.sum(dim=dim, keepdim=True)
