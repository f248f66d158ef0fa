"""Bug: mask applied after the softmax: masked positions are zeroed but still took part in the
normalisation, so the kept ones no longer sum to 1."""

LOSES = {"masked_softmax"}
HINT = "apply the mask before the softmax"

import torch


def masked_softmax(x, mask, dim=-1):
    z = x - x.amax(dim=dim, keepdim=True)
    p = torch.exp(z) / torch.exp(z).sum(dim=dim, keepdim=True)
    return p * mask
