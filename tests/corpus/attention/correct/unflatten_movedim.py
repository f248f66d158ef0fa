"""Correct: heads with unflatten/movedim and flatten, the safe softmax written by hand with
masked_fill + nan_to_num, projections with torch.nn.functional.linear (weights transposed),
and a module that keeps its own copy of the attention instead of calling the functions."""

import math

import torch
import torch.nn.functional as F
from torch import nn


# argument checks: every documented invalid argument is a ValueError
def _floats(*tensors, least=2):
    for t in tensors:
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.dim() < least:
            raise ValueError(f"expected a floating-point tensor with at least {least} dims")
    if len({t.dtype for t in tensors}) > 1 or len({t.device for t in tensors}) > 1:
        raise ValueError("the tensors must share one dtype and device")


def _check_mask(mask, scores_shape):
    if mask is None:
        return
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ValueError("mask must be a torch.bool tensor")
    try:
        fits = torch.broadcast_shapes(mask.shape, scores_shape) == torch.Size(scores_shape)
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError("mask does not broadcast to the scores without enlarging them")


def _batch_shape(*shapes):
    try:
        return torch.broadcast_shapes(*shapes)
    except RuntimeError:
        raise ValueError("the batch dimensions do not broadcast") from None


def _check_attention(q, k, v, mask):
    _floats(q, k, v)
    if q.shape[-1] != k.shape[-1] or q.shape[-1] == 0 or k.shape[-2] != v.shape[-2]:
        raise ValueError("q and k need one d_k >= 1, k and v one number of keys")
    batch = _batch_shape(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    _check_mask(mask, (*batch, q.shape[-2], k.shape[-2]))


def _check_heads(n_heads, width):
    if isinstance(n_heads, bool) or not isinstance(n_heads, int) or n_heads < 1 or width % n_heads:
        raise ValueError("n_heads must be an int >= 1 that divides D")


def _check_mha(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask, biases):
    _floats(x_q, x_kv, *[b for b in biases.values() if b is not None], least=1)
    _floats(x_q, x_kv, W_q, W_k, W_v, W_o)
    d_in, width = x_q.shape[-1], W_q.shape[-1]
    if x_kv.shape[-1] != d_in or any(W.dim() != 2 or W.shape != (d_in, width) for W in (W_q, W_k, W_v)) \
            or W_o.dim() != 2 or W_o.shape[0] != width:
        raise ValueError("the weight matrices do not fit")
    sizes = {"b_q": width, "b_k": width, "b_v": width, "b_o": W_o.shape[1]}
    if any(b is not None and tuple(b.shape) != (sizes[name],) for name, b in biases.items()):
        raise ValueError("a bias has the wrong shape")
    _check_heads(n_heads, width)
    batch = _batch_shape(x_q.shape[:-2], x_kv.shape[:-2])
    _check_mask(mask, (*batch, x_q.shape[-2], x_kv.shape[-2]))


def _check_module_input(module, x, key_padding_mask):
    _floats(x)
    if x.shape[-1] != module.q_proj.in_features or x.dtype != module.q_proj.weight.dtype:
        raise ValueError("x must be [..., T, d_model] of the parameters' dtype")
    if key_padding_mask is not None and (not isinstance(key_padding_mask, torch.Tensor)
                                         or key_padding_mask.dtype != torch.bool
                                         or key_padding_mask.shape != x.shape[:-1]):
        raise ValueError("key_padding_mask must be a torch.bool tensor of shape x.shape[:-1]")


def _softmax_keep(scores, mask):
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    weights = torch.softmax(scores, dim=-1)
    return torch.nan_to_num(weights, nan=0.0)


def scaled_dot_product_attention(q, k, v, mask=None):
    _check_attention(q, k, v, mask)
    if q.size(-1) != k.size(-1) or k.size(-2) != v.size(-2):
        raise ValueError("shapes of q, k, v do not agree")
    weights = _softmax_keep(torch.matmul(q, k.mT) / math.sqrt(k.size(-1)), mask)
    return torch.matmul(weights, v), weights


def split_heads(x, n_heads):
    if not isinstance(n_heads, int) or n_heads < 1 or x.size(-1) % n_heads:
        raise ValueError("bad n_heads")
    return x.unflatten(-1, (n_heads, x.size(-1) // n_heads)).movedim(-2, -3)


def merge_heads(x):
    if not isinstance(x, torch.Tensor) or x.dim() < 3:
        raise ValueError("x must be a tensor [..., H, T, d]")
    return x.movedim(-3, -2).flatten(-2)


def multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask=None,
                         b_q=None, b_k=None, b_v=None, b_o=None):
    _check_mha(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask, dict(b_q=b_q, b_k=b_k, b_v=b_v, b_o=b_o))
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
        if isinstance(d_model, bool) or not isinstance(d_model, int) or d_model < 1:
            raise ValueError("d_model must be an int >= 1")
        _check_heads(n_heads, d_model)
        super().__init__()
        if d_model % n_heads:
            raise ValueError("d_model % n_heads != 0")
        self.n_heads, self.causal = n_heads, causal
        self.q_proj = nn.Linear(d_model, d_model, bias)
        self.k_proj = nn.Linear(d_model, d_model, bias)
        self.v_proj = nn.Linear(d_model, d_model, bias)
        self.o_proj = nn.Linear(d_model, d_model, bias)

    def forward(self, x, key_padding_mask=None):
        _check_module_input(self, x, key_padding_mask)
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
