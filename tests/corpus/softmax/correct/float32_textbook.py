"""Correct, written differently: every computation done the textbook way in float32 (even for
float64 inputs) and cast back at the end; the grader's tolerance must accept float32 rounding,
also for logits near 1e4."""

import torch


def softmax(x, dim=-1):
    x32 = x.to(torch.float32)
    num = torch.exp(x32 - torch.max(x32, dim=dim, keepdim=True).values)
    return (num / torch.sum(num, dim=dim, keepdim=True)).to(x.dtype)


def log_softmax(x, dim=-1):
    x32 = x.to(torch.float32)
    m = torch.max(x32, dim=dim, keepdim=True).values
    lse = m + torch.log(torch.sum(torch.exp(x32 - m), dim=dim, keepdim=True))
    return (x32 - lse).to(x.dtype)


def masked_softmax(x, mask, dim=-1):
    x32 = x.to(torch.float32)
    mask = mask.expand_as(x32)
    very_negative = torch.finfo(torch.float32).min
    z = torch.where(mask, x32, torch.full_like(x32, very_negative))
    num = torch.exp(z - torch.max(z, dim=dim, keepdim=True).values) * mask  # exactly 0 where masked
    den = torch.sum(num, dim=dim, keepdim=True)
    return torch.where(den > 0, num / den.clamp_min(1e-30), torch.zeros_like(num)).to(x.dtype)


def causal_mask(q_len, k_len=None, *, device=None):
    if k_len is None:
        k_len = q_len
    mask = torch.zeros(q_len, k_len, dtype=torch.bool, device=device)
    for i in range(q_len):
        last = i + k_len - q_len  # the last key query i may see
        if last >= 0:
            mask[i, : last + 1] = True
    return mask


def padding_mask(lengths, max_len):
    rows = [[t < int(n) for t in range(max_len)] for n in lengths]
    return torch.tensor(rows, dtype=torch.bool).reshape(len(rows), max_len)
