"""Bug: the row sum taken without keepdim=True: it broadcasts against the wrong axis (or fails)."""

LOSES = {"softmax"}
HINT = "keepdim=True"
SAMPLE = True  # the unit's sample wrong entry: graded in a Gradescope tree and both ways by the fast path

import torch


def softmax(x, dim=-1):
    z = x - x.amax(dim=dim, keepdim=True)
    e = torch.exp(z)
    return e / e.sum(dim=dim)
