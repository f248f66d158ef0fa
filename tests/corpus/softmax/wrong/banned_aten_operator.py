"""Bug: log_softmax calls the ATen operator itself, torch.ops.aten._log_softmax, which no
Python-level ban sees."""

LOSES = {"log_softmax"}
HINT = "aten._log_softmax"

import torch


def log_softmax(x, dim=-1):
    _check_x(x, dim)
    return torch.ops.aten._log_softmax.default(x, dim, False)
