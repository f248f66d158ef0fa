"""Correct: the straightforward student solution, and the base every wrong submission edits.

Written the way the notebook suggests: multi_head_attention calls split_heads,
scaled_dot_product_attention (which uses the notebook's masked_softmax helper) and
merge_heads; the module calls multi_head_attention with its nn.Linear weights. So a bug
planted in one function by a wrong/ submission also costs the questions whose functions
call it, and each wrong/ file says so in LOSES.
"""

import math

import torch
from torch import nn


def scaled_dot_product_attention(q, k, v, mask=None):
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError("q and k need the same d_k, k and v the same number of keys")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = masked_softmax(scores, mask)
    return weights @ v, weights


def split_heads(x, n_heads):
    if n_heads < 1 or x.shape[-1] % n_heads != 0:
        raise ValueError(f"D={x.shape[-1]} is not divisible by n_heads={n_heads}")
    *batch, T, D = x.shape
    return x.view(*batch, T, n_heads, D // n_heads).transpose(-3, -2)


def merge_heads(x):
    *batch, H, T, d = x.shape
    return x.transpose(-3, -2).reshape(*batch, T, H * d)


def multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask=None,
                         b_q=None, b_k=None, b_v=None, b_o=None):
    q = x_q @ W_q
    k = x_kv @ W_k
    v = x_kv @ W_v
    if b_q is not None:
        q = q + b_q
    if b_k is not None:
        k = k + b_k
    if b_v is not None:
        v = v + b_v
    if mask is not None:
        mask = mask.unsqueeze(-3)  # the same mask for every head
    heads, _ = scaled_dot_product_attention(split_heads(q, n_heads), split_heads(k, n_heads),
                                            split_heads(v, n_heads), mask)
    out = merge_heads(heads) @ W_o
    if b_o is not None:
        out = out + b_o
    return out


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
            mask = torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device))
        if key_padding_mask is not None:
            pad = key_padding_mask[..., None, :]  # [B, 1, T]
            mask = pad if mask is None else mask & pad
        return multi_head_attention(
            x, x, self.q_proj.weight.T, self.k_proj.weight.T, self.v_proj.weight.T, self.o_proj.weight.T,
            self.n_heads, mask, self.q_proj.bias, self.k_proj.bias, self.v_proj.bias, self.o_proj.bias)
