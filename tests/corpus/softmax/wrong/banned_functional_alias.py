"""Bug: a banned call hidden behind an alias: F.softmax imported under another name."""

LOSES = {"masked_softmax"}
HINT = "called torch.nn.functional.softmax"

import torch
from torch.nn.functional import softmax as _normalise


def masked_softmax(x, mask, dim=-1):
    p = _normalise(x.masked_fill(~mask, float("-inf")), dim=dim)
    return torch.nan_to_num(p, nan=0.0)
