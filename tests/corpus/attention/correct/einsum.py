"""Correct: everything with torch.einsum, the scale folded into q (q * d_k**-0.5) before the
product, masking with -inf and an explicit fix-up of fully masked rows with torch.where."""

import torch
from torch import nn


def scaled_dot_product_attention(q, k, v, mask=None):
    if q.shape[-1] != k.shape[-1]:
        raise ValueError("q and k must share d_k")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError("k and v must have the same number of keys")
    scores = torch.einsum("...id,...jd->...ij", q * q.shape[-1] ** -0.5, k)
    if mask is not None:
        scores = torch.where(mask, scores, torch.tensor(float("-inf"), dtype=scores.dtype))
    m = scores.amax(dim=-1, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    e = torch.exp(scores - m)
    total = e.sum(dim=-1, keepdim=True)
    weights = torch.where(total > 0, e / total.clamp_min(1e-30), torch.zeros_like(e))
    return torch.einsum("...ij,...jd->...id", weights, v), weights


def split_heads(x, n_heads):
    D = x.shape[-1]
    if n_heads <= 0 or D % n_heads:
        raise ValueError("n_heads must divide D")
    return torch.einsum("...thd->...htd", x.reshape(*x.shape[:-1], n_heads, D // n_heads))


def merge_heads(x):
    if x.dim() < 3:
        raise ValueError("x must be [..., H, T, d]")
    y = torch.einsum("...htd->...thd", x)
    return y.reshape(*y.shape[:-2], y.shape[-2] * y.shape[-1])


def multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask=None,
                         b_q=None, b_k=None, b_v=None, b_o=None):
    def proj(x, W, b):
        y = torch.einsum("...ti,io->...to", x, W)
        return y if b is None else y + b

    D = W_q.shape[1]
    if D % n_heads:
        raise ValueError("n_heads must divide D")
    d = D // n_heads
    q = proj(x_q, W_q, b_q).reshape(*x_q.shape[:-1], n_heads, d)  # [..., Lq, H, d]
    k = proj(x_kv, W_k, b_k).reshape(*x_kv.shape[:-1], n_heads, d)
    v = proj(x_kv, W_v, b_v).reshape(*x_kv.shape[:-1], n_heads, d)
    scores = torch.einsum("...ihd,...jhd->...hij", q, k) / d ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask[..., None, :, :], float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    heads = torch.einsum("...hij,...jhd->...ihd", weights, v)  # [..., Lq, H, d]: already merged order
    return proj(heads.reshape(*heads.shape[:-2], D), W_o, b_o)


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model, n_heads, causal=True, bias=True):
        super().__init__()
        if n_heads < 1 or d_model % n_heads:
            raise ValueError("n_heads must divide d_model")
        self.h, self.causal = n_heads, causal
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            setattr(self, name, nn.Linear(d_model, d_model, bias=bias))

    def forward(self, x, key_padding_mask=None):
        B, T, D = x.shape
        q = self.q_proj(x).reshape(B, T, self.h, D // self.h)
        k = self.k_proj(x).reshape(B, T, self.h, D // self.h)
        v = self.v_proj(x).reshape(B, T, self.h, D // self.h)
        scores = torch.einsum("bihd,bjhd->bhij", q, k) / (D // self.h) ** 0.5
        keep = torch.ones(B, 1, T, T, dtype=torch.bool)
        if self.causal:
            keep = keep & torch.ones(T, T, dtype=torch.bool).tril()
        if key_padding_mask is not None:
            keep = keep & key_padding_mask[:, None, None, :]
        scores = scores.masked_fill(~keep, float("-inf"))
        weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
        out = torch.einsum("bhij,bjhd->bihd", weights, v).reshape(B, T, D)
        return self.o_proj(out)
