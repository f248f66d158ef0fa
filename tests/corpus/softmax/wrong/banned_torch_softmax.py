"""Bug: a banned call: softmax is just torch.softmax."""

LOSES = {"softmax"}
HINT = "called torch.softmax"

import torch


def softmax(x, dim=-1):
    return torch.softmax(x, dim=dim)
