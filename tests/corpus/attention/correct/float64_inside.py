"""Correct: computes everything in float64 and casts back to the input's dtype; a manual
softmax (exp of the max-shifted scores) whose fully masked rows are zeroed by multiplying
with mask.any(-1); split/merge with permute on explicit dims; the module reuses the
student's functions through a stacked weight."""

import math

import torch
from torch import nn


def scaled_dot_product_attention(q, k, v, mask=None):
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError("incompatible q, k, v")
    dtype = q.dtype
    q, k, v = q.double(), k.double(), v.double()
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is None:
        scores = scores - scores.max(dim=-1, keepdim=True).values
        e = scores.exp()
    else:
        big = scores.masked_fill(~mask, -1e300).max(dim=-1, keepdim=True).values
        e = (scores - big).clamp(max=0).exp() * mask
    weights = e / e.sum(-1, keepdim=True).clamp(min=1e-300)
    return (weights @ v).to(dtype), weights.to(dtype)


def split_heads(x, n_heads):
    *batch, T, D = x.shape
    if n_heads < 1 or D % n_heads:
        raise ValueError("D must be divisible by n_heads")
    y = x.reshape(-1, T, n_heads, D // n_heads).permute(0, 2, 1, 3)
    return y.reshape(*batch, n_heads, T, D // n_heads)


def merge_heads(x):
    *batch, H, T, d = x.shape
    y = x.reshape(-1, H, T, d).permute(0, 2, 1, 3)
    return y.reshape(*batch, T, H * d)


def multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask=None,
                         b_q=None, b_k=None, b_v=None, b_o=None):
    zero = torch.zeros((), dtype=x_q.dtype)
    q = torch.addmm(b_q if b_q is not None else zero, x_q.reshape(-1, x_q.shape[-1]), W_q)
    k = torch.addmm(b_k if b_k is not None else zero, x_kv.reshape(-1, x_kv.shape[-1]), W_k)
    v = torch.addmm(b_v if b_v is not None else zero, x_kv.reshape(-1, x_kv.shape[-1]), W_v)
    q = q.reshape(*x_q.shape[:-1], -1)
    k = k.reshape(*x_kv.shape[:-1], -1)
    v = v.reshape(*x_kv.shape[:-1], -1)
    m = None if mask is None else mask[..., None, :, :]
    heads, _ = scaled_dot_product_attention(split_heads(q, n_heads), split_heads(k, n_heads),
                                            split_heads(v, n_heads), m)
    merged = merge_heads(heads)
    out = merged.reshape(-1, merged.shape[-1]) @ W_o
    out = out.reshape(*merged.shape[:-1], W_o.shape[1])
    return out if b_o is None else out + b_o


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=True, bias=True):
        super().__init__()
        if d_model % n_heads:
            raise ValueError("n_heads must divide d_model")
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.o_proj = nn.Linear(d_model, d_model, bias=bias)
        self.n_heads = n_heads
        self.causal = causal

    def forward(self, x, key_padding_mask=None):
        T = x.shape[1]
        keep = torch.ones(x.shape[0], T, T, dtype=torch.bool)
        if self.causal:
            keep &= ~torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        if key_padding_mask is not None:
            keep &= key_padding_mask[:, None, :]
        biases = [None if p.bias is None else p.bias for p in (self.q_proj, self.k_proj, self.v_proj, self.o_proj)]
        return multi_head_attention(x, x, self.q_proj.weight.t(), self.k_proj.weight.t(), self.v_proj.weight.t(),
                                    self.o_proj.weight.t(), self.n_heads, keep, *biases)
