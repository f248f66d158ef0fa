"""Bug: key_padding_mask read with PyTorch's nn.MultiheadAttention convention (True = padding)
instead of this course's (True = real token): queries attend only to the padding."""

LOSES = {"MultiHeadSelfAttention"}
HINT = "other way round"

import torch
from torch import nn


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=True, bias=True):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError("d_model must be divisible by n_heads")
        self.n_heads = n_heads
        self.causal = causal
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.o_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x, key_padding_mask=None):
        T = x.shape[-2]
        mask = None
        if self.causal:
            mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        if key_padding_mask is not None:
            pad = ~key_padding_mask[..., None, :]
            mask = pad if mask is None else mask & pad
        return multi_head_attention(
            x, x, self.q_proj.weight.T, self.k_proj.weight.T, self.v_proj.weight.T, self.o_proj.weight.T,
            self.n_heads, mask, self.q_proj.bias, self.k_proj.bias, self.v_proj.bias, self.o_proj.bias)
