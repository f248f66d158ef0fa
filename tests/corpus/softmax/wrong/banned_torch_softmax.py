"""Bug: a banned call: softmax is just torch.softmax."""

LOSES = {"softmax"}
HINT = "TODO"

import torch


def softmax(x, dim=-1):
    return torch.softmax(x, dim=dim)
