"""Correct, written differently: everything through torch.logsumexp; -inf masking repaired
with nan_to_num; the causal mask from torch.tril(..., diagonal=k_len - q_len)."""

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
    return torch.exp(x - torch.logsumexp(x, dim=dim, keepdim=True))


def log_softmax(x, dim=-1):
    _check_x(x, dim)
    return x - torch.logsumexp(x, dim=dim, keepdim=True)


def masked_softmax(x, mask, dim=-1):
    _check_x(x, dim)
    _check_mask(x, mask)
    z = x.masked_fill(~mask, float("-inf"))
    # a fully masked row: logsumexp is -inf and -inf - (-inf) is NaN; NaN means "no key", so 0
    out = torch.exp(z - torch.logsumexp(z, dim=dim, keepdim=True))
    return torch.nan_to_num(out, nan=0.0)


def causal_mask(q_len, k_len=None, *, device=None):
    q_len = _check_size(q_len, "q_len")
    k_len = q_len if k_len is None else _check_size(k_len, "k_len")
    k_len = q_len if k_len is None else k_len
    ones = torch.ones(q_len, k_len, dtype=torch.bool, device=device)
    return torch.tril(ones, diagonal=k_len - q_len)


def padding_mask(lengths, max_len):
    _check_lengths(lengths, max_len)
    positions = torch.arange(max_len).expand(len(lengths), max_len)
    return positions < lengths.unsqueeze(-1)
