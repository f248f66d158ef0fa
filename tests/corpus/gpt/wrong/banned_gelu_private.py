"""Bug: gelu through torch's private torch._C._nn.gelu: not the banned name, the banned work
(the ATen operator aten.gelu)."""

LOSES = {"gelu"}
HINT = "gelu"

import torch


def gelu(x):
    return torch._C._nn.gelu(x)
