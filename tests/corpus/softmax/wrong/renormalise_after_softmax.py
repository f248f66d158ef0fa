"""Bug: softmax over every position, then mask and renormalise: right for small logits, but a
large masked logit leaves all kept probabilities at exactly 0, and 0/0 = NaN."""

LOSES = {"masked_softmax"}
HINT = "mask before the softmax"

import torch


def masked_softmax(x, mask, dim=-1):
    z = x - x.amax(dim=dim, keepdim=True)
    p = torch.exp(z) / torch.exp(z).sum(dim=dim, keepdim=True)
    p = p * mask
    s = p.sum(dim=dim, keepdim=True)
    return p / torch.where(s == 0, torch.ones_like(s), s)
