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


def scaled_dot_product_attention(q, k, v, mask=None):
    _check_attention(q, k, v, mask)
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
    if not isinstance(x, torch.Tensor) or x.dim() < 3:
        raise ValueError("x must be a tensor [..., H, T, d]")
    *batch, H, T, d = x.shape
    return x.transpose(-3, -2).reshape(*batch, T, H * d)


def multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask=None,
                         b_q=None, b_k=None, b_v=None, b_o=None):
    _check_mha(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask, dict(b_q=b_q, b_k=b_k, b_v=b_v, b_o=b_o))
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
        if isinstance(d_model, bool) or not isinstance(d_model, int) or d_model < 1:
            raise ValueError("d_model must be an int >= 1")
        _check_heads(n_heads, d_model)
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
        _check_module_input(self, x, key_padding_mask)
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
