"""Bug: MultiHeadSelfAttention.forward checks key_padding_mask's dtype but not its shape."""

LOSES = {"MultiHeadSelfAttention"}
HINT = "key_padding_mask must have shape"

import torch
from torch import nn


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=True, bias=True):
        if isinstance(d_model, bool) or not isinstance(d_model, int) or d_model < 1:
            raise ValueError("d_model must be an int >= 1")
        _check_heads(n_heads, d_model)
        super().__init__()
        self.n_heads = n_heads
        self.causal = causal
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.o_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x, key_padding_mask=None):
        _check_module_input(self, x, None)
        if key_padding_mask is not None and key_padding_mask.dtype != torch.bool:
            raise ValueError("key_padding_mask must be a torch.bool tensor")
        T = x.shape[-2]
        mask = None
        if self.causal:
            mask = torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device))
        if key_padding_mask is not None:
            pad = key_padding_mask[..., None, :]
            mask = pad if mask is None else mask & pad
        return multi_head_attention(
            x, x, self.q_proj.weight.T, self.k_proj.weight.T, self.v_proj.weight.T, self.o_proj.weight.T,
            self.n_heads, mask, self.q_proj.bias, self.k_proj.bias, self.v_proj.bias, self.o_proj.bias)
