"""Bug: masking with a large negative fill (-1e9) instead of -inf: masked entries are ~0, but a
fully masked row comes out uniform (1/n) instead of all zeros."""

LOSES = {"masked_softmax"}
HINT = "large negative fill such as -1e9 gives 1/n"

import torch


def masked_softmax(x, mask, dim=-1):
    z = x.masked_fill(~mask, -1e9)
    z = z - z.amax(dim=dim, keepdim=True)
    e = torch.exp(z)
    return e / e.sum(dim=dim, keepdim=True)
