"""Correct: computes everything in float64 and casts back to the input's dtype; a manual
softmax (exp of the max-shifted scores) whose fully masked rows are zeroed by multiplying
with mask.any(-1); split/merge with permute on explicit dims; the module reuses the
student's functions through a stacked weight."""

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
    if not isinstance(x, torch.Tensor) or x.dim() < 3:
        raise ValueError("x must be a tensor [..., H, T, d]")
    *batch, H, T, d = x.shape
    y = x.reshape(-1, H, T, d).permute(0, 2, 1, 3)
    return y.reshape(*batch, T, H * d)


def multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask=None,
                         b_q=None, b_k=None, b_v=None, b_o=None):
    _check_mha(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask, dict(b_q=b_q, b_k=b_k, b_v=b_v, b_o=b_o))
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
        if isinstance(d_model, bool) or not isinstance(d_model, int) or d_model < 1:
            raise ValueError("d_model must be an int >= 1")
        _check_heads(n_heads, d_model)
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
        _check_module_input(self, x, key_padding_mask)
        T = x.shape[1]
        keep = torch.ones(x.shape[0], T, T, dtype=torch.bool)
        if self.causal:
            keep &= ~torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        if key_padding_mask is not None:
            keep &= key_padding_mask[:, None, :]
        biases = [None if p.bias is None else p.bias for p in (self.q_proj, self.k_proj, self.v_proj, self.o_proj)]
        return multi_head_attention(x, x, self.q_proj.weight.t(), self.k_proj.weight.t(), self.v_proj.weight.t(),
                                    self.o_proj.weight.t(), self.n_heads, keep, *biases)
