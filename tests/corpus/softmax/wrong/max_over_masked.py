"""Bug: the max is taken over all positions, masked ones included: a large masked logit (1e4)
makes every kept exp() underflow to 0, and 0/0 = NaN."""

LOSES = {"masked_softmax"}
HINT = "maximum is taken over the kept positions"

import torch


def masked_softmax(x, mask, dim=-1):
    z = x - x.amax(dim=dim, keepdim=True)  # should only look at kept positions
    e = torch.exp(z) * mask
    s = e.sum(dim=dim, keepdim=True)
    return e / torch.where(mask.expand_as(x).any(dim=dim, keepdim=True), s, torch.ones_like(s))
