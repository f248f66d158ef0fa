"""Bug: the LayerNorm module ignores its `eps` argument (always 1e-5), so GPTConfig's
layer_norm_eps has no effect."""

LOSES = {"GPT"}
HINT = "layer_norm_eps"

import torch
from torch import nn


class LayerNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x):
        return layer_norm(x, self.weight, self.bias)
