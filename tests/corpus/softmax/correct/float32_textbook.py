"""Correct, written differently: every computation done the textbook way in float32 (even for
float64 inputs) and cast back at the end; the grader's tolerance must accept float32 rounding,
also for logits near 1e4."""

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
    x32 = x.to(torch.float32)
    num = torch.exp(x32 - torch.max(x32, dim=dim, keepdim=True).values)
    return (num / torch.sum(num, dim=dim, keepdim=True)).to(x.dtype)


def log_softmax(x, dim=-1):
    _check_x(x, dim)
    x32 = x.to(torch.float32)
    m = torch.max(x32, dim=dim, keepdim=True).values
    lse = m + torch.log(torch.sum(torch.exp(x32 - m), dim=dim, keepdim=True))
    return (x32 - lse).to(x.dtype)


def masked_softmax(x, mask, dim=-1):
    _check_x(x, dim)
    _check_mask(x, mask)
    x32 = x.to(torch.float32)
    mask = mask.expand_as(x32)
    very_negative = torch.finfo(torch.float32).min
    z = torch.where(mask, x32, torch.full_like(x32, very_negative))
    num = torch.exp(z - torch.max(z, dim=dim, keepdim=True).values) * mask  # exactly 0 where masked
    den = torch.sum(num, dim=dim, keepdim=True)
    return torch.where(den > 0, num / den.clamp_min(1e-30), torch.zeros_like(num)).to(x.dtype)


def causal_mask(q_len, k_len=None, *, device=None):
    q_len = _check_size(q_len, "q_len")
    k_len = q_len if k_len is None else _check_size(k_len, "k_len")
    if k_len is None:
        k_len = q_len
    mask = torch.zeros(q_len, k_len, dtype=torch.bool, device=device)
    for i in range(q_len):
        last = i + k_len - q_len  # the last key query i may see
        if last >= 0:
            mask[i, : last + 1] = True
    return mask


def padding_mask(lengths, max_len):
    _check_lengths(lengths, max_len)
    rows = [[t < int(n) for t in range(max_len)] for n in lengths]
    return torch.tensor(rows, dtype=torch.bool).reshape(len(rows), max_len)
