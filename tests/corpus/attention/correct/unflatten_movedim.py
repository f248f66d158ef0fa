"""Correct: heads with unflatten/movedim and flatten, the safe softmax written by hand with
masked_fill + nan_to_num, projections with torch.nn.functional.linear (weights transposed),
and a module that keeps its own copy of the attention instead of calling the functions."""

import math

import torch
import torch.nn.functional as F
from torch import nn


def _softmax_keep(scores, mask):
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    weights = torch.softmax(scores, dim=-1)
    return torch.nan_to_num(weights, nan=0.0)


def scaled_dot_product_attention(q, k, v, mask=None):
    if q.size(-1) != k.size(-1) or k.size(-2) != v.size(-2):
        raise ValueError("shapes of q, k, v do not agree")
    weights = _softmax_keep(torch.matmul(q, k.mT) / math.sqrt(k.size(-1)), mask)
    return torch.matmul(weights, v), weights


def split_heads(x, n_heads):
    if not isinstance(n_heads, int) or n_heads < 1 or x.size(-1) % n_heads:
        raise ValueError("bad n_heads")
    return x.unflatten(-1, (n_heads, x.size(-1) // n_heads)).movedim(-2, -3)


def merge_heads(x):
    return x.movedim(-3, -2).flatten(-2)


def multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask=None,
                         b_q=None, b_k=None, b_v=None, b_o=None):
    if W_q.shape[1] % n_heads:
        raise ValueError("n_heads must divide D")
    q = split_heads(F.linear(x_q, W_q.T, b_q), n_heads)
    k = split_heads(F.linear(x_kv, W_k.T, b_k), n_heads)
    v = split_heads(F.linear(x_kv, W_v.T, b_v), n_heads)
    if mask is not None:
        mask = mask.unsqueeze(-3)
    out, _ = scaled_dot_product_attention(q, k, v, mask)
    return F.linear(merge_heads(out), W_o.T, b_o)


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=True, bias=True):
        super().__init__()
        if d_model % n_heads:
            raise ValueError("d_model % n_heads != 0")
        self.n_heads, self.causal = n_heads, causal
        self.q_proj = nn.Linear(d_model, d_model, bias)
        self.k_proj = nn.Linear(d_model, d_model, bias)
        self.v_proj = nn.Linear(d_model, d_model, bias)
        self.o_proj = nn.Linear(d_model, d_model, bias)

    def forward(self, x, key_padding_mask=None):
        T = x.size(-2)
        q, k, v = (p(x).unflatten(-1, (self.n_heads, -1)).movedim(-2, -3)
                   for p in (self.q_proj, self.k_proj, self.v_proj))
        keep = None
        if self.causal:
            idx = torch.arange(T)
            keep = idx[None, :] <= idx[:, None]
        if key_padding_mask is not None:
            pad = key_padding_mask.unsqueeze(-2).unsqueeze(-3)  # [B, 1, 1, T]
            keep = pad if keep is None else keep & pad
        weights = _softmax_keep(q @ k.mT / math.sqrt(q.size(-1)), keep)
        return self.o_proj((weights @ v).movedim(-3, -2).flatten(-2))
