"""Bug: a banned call through torch's private entry point torch._softmax, which no banned
name matches: the ATen operator it runs (aten._softmax) is softmax's own work."""

LOSES = {"softmax"}
HINT = "aten._softmax"

import torch


def softmax(x, dim=-1):
    _check_x(x, dim)
    return torch._softmax(x, dim, False)
