"""Correct, written differently: move `dim` to the end, work on the last axis, move it back;
masking by multiplication with the mask and torch.where instead of -inf."""

import torch


# argument checks: every documented invalid argument is a ValueError
def _int_arg(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {value!r}")
    return value


def _check_x(x, dim):
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() == 0:
        raise ValueError("x must be a floating-point tensor with at least one dimension")
    if not -x.dim() <= _int_arg(dim, "dim") < x.dim():
        raise ValueError(f"dim={dim} is out of range")


def _check_mask(x, mask):
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ValueError("mask must be a torch.bool tensor")
    try:
        if torch.broadcast_shapes(mask.shape, x.shape) != x.shape:
            raise ValueError("mask would make the result larger than x")
    except RuntimeError:
        raise ValueError("mask does not broadcast to x's shape") from None


def _check_size(value, name):
    if _int_arg(value, name) < 0:
        raise ValueError(f"{name} must be >= 0")
    return value


def _check_lengths(lengths, max_len):
    if not isinstance(lengths, torch.Tensor) or lengths.dim() != 1 or lengths.dtype == torch.bool \
            or lengths.is_floating_point() or lengths.is_complex():
        raise ValueError("lengths must be a 1-D integer tensor")
    _check_size(max_len, "max_len")
    if lengths.numel() and (lengths.min() < 0 or lengths.max() > max_len):
        raise ValueError("every length must be in [0, max_len]")


def softmax(x, dim=-1):
    _check_x(x, dim)
    z = x.movedim(dim, -1)
    z = z - z.max(-1, keepdim=True).values
    p = z.exp()
    p = p / p.sum(-1, keepdim=True)
    return p.movedim(-1, dim)


def log_softmax(x, dim=-1):
    _check_x(x, dim)
    z = x.movedim(dim, -1)
    z = z - z.max(-1, keepdim=True).values
    return (z - z.exp().sum(-1, keepdim=True).log()).movedim(-1, dim)


def masked_softmax(x, mask, dim=-1):
    _check_x(x, dim)
    _check_mask(x, mask)
    keep = mask.expand(x.shape).movedim(dim, -1)
    z = x.movedim(dim, -1)
    m = torch.where(keep, z, torch.full_like(z, -torch.inf)).max(-1, keepdim=True).values
    m = torch.where(keep.any(-1, keepdim=True), m, torch.zeros_like(m))
    e = torch.where(keep, (z - m).exp(), torch.zeros_like(z))
    s = e.sum(-1, keepdim=True)
    p = torch.where(s > 0, e / torch.where(s > 0, s, torch.ones_like(s)), torch.zeros_like(e))
    return p.movedim(-1, dim)


def causal_mask(q_len, k_len=None, *, device=None):
    q_len = _check_size(q_len, "q_len")
    k_len = q_len if k_len is None else _check_size(k_len, "k_len")
    k_len = q_len if k_len is None else k_len
    offset = k_len - q_len
    i = torch.arange(q_len, device=device).unsqueeze(1).expand(q_len, k_len)
    j = torch.arange(k_len, device=device).unsqueeze(0).expand(q_len, k_len)
    return (j - i) <= offset


def padding_mask(lengths, max_len):
    _check_lengths(lengths, max_len)
    return torch.arange(max_len).unsqueeze(0).lt(lengths.unsqueeze(1))
