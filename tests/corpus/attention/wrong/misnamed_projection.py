"""Bug: the output projection is called out_proj (as in nn.MultiheadAttention), not o_proj: the
reference's state_dict does not load with strict=True."""

LOSES = {"MultiHeadSelfAttention"}
HINT = "Missing key(s) in state_dict"

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
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x, key_padding_mask=None):
        T = x.shape[-2]
        mask = None
        if self.causal:
            mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        if key_padding_mask is not None:
            pad = key_padding_mask[..., None, :]
            mask = pad if mask is None else mask & pad
        return multi_head_attention(
            x, x, self.q_proj.weight.T, self.k_proj.weight.T, self.v_proj.weight.T, self.out_proj.weight.T,
            self.n_heads, mask, self.q_proj.bias, self.k_proj.bias, self.v_proj.bias, self.out_proj.bias)
