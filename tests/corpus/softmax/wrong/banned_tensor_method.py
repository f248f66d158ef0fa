"""Bug: a banned call through the Tensor method alias: x.log_softmax(dim)."""

LOSES = {"log_softmax"}
HINT = "called torch.Tensor.log_softmax"

import torch


def log_softmax(x, dim=-1):
    return x.log_softmax(dim)
