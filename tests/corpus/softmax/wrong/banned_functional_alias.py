"""Bug: a banned call hidden behind an alias: F.softmax imported under another name."""

LOSES = {"masked_softmax"}
HINT = "TODO"

import torch
from torch.nn.functional import softmax as _normalise


def masked_softmax(x, mask, dim=-1):
    p = _normalise(x.masked_fill(~mask, float("-inf")), dim=dim)
    return torch.nan_to_num(p, nan=0.0)
