"""Correct: everything with torch.einsum, the scale folded into q (q * d_k**-0.5) before the
product, masking with -inf and an explicit fix-up of fully masked rows with torch.where."""

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
    if not isinstance(x, torch.Tensor) or x.dim() < 3:
        raise ValueError("x must be a tensor [..., H, T, d]")
    if x.dim() < 3:
        raise ValueError("x must be [..., H, T, d]")
    y = torch.einsum("...htd->...thd", x)
    return y.reshape(*y.shape[:-2], y.shape[-2] * y.shape[-1])


def multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask=None,
                         b_q=None, b_k=None, b_v=None, b_o=None):
    _check_mha(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask, dict(b_q=b_q, b_k=b_k, b_v=b_v, b_o=b_o))
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
        if isinstance(d_model, bool) or not isinstance(d_model, int) or d_model < 1:
            raise ValueError("d_model must be an int >= 1")
        _check_heads(n_heads, d_model)
        super().__init__()
        if n_heads < 1 or d_model % n_heads:
            raise ValueError("n_heads must divide d_model")
        self.h, self.causal = n_heads, causal
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            setattr(self, name, nn.Linear(d_model, d_model, bias=bias))

    def forward(self, x, key_padding_mask=None):
        _check_module_input(self, x, key_padding_mask)
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
