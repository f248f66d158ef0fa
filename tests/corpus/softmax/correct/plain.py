"""Correct: the straightforward student solution, and the base every wrong submission edits.

Each function stands alone (none calls another), so a bug planted in one function by a
wrong/ submission cannot leak into the grade of another question.
"""

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
    z = x - x.amax(dim=dim, keepdim=True)
    e = torch.exp(z)
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(x, dim=-1):
    _check_x(x, dim)
    z = x - x.amax(dim=dim, keepdim=True)
    return z - torch.log(torch.exp(z).sum(dim=dim, keepdim=True))


def masked_softmax(x, mask, dim=-1):
    _check_x(x, dim)
    _check_mask(x, mask)
    z = x.masked_fill(~mask, float("-inf"))
    m = z.amax(dim=dim, keepdim=True)
    m = torch.where(torch.isinf(m), torch.zeros_like(m), m)  # fully masked row: shift by 0
    e = torch.exp(z - m)
    s = e.sum(dim=dim, keepdim=True)
    return e / torch.where(s == 0, torch.ones_like(s), s)


def causal_mask(q_len, k_len=None, *, device=None):
    q_len = _check_size(q_len, "q_len")
    k_len = q_len if k_len is None else _check_size(k_len, "k_len")
    if k_len is None:
        k_len = q_len
    i = torch.arange(q_len, device=device)[:, None]
    j = torch.arange(k_len, device=device)[None, :]
    return j <= i + (k_len - q_len)


def padding_mask(lengths, max_len):
    _check_lengths(lengths, max_len)
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]
