"""Correct, written differently: move `dim` to the end, work on the last axis, move it back;
masking by multiplication with the mask and torch.where instead of -inf."""

import torch


def softmax(x, dim=-1):
    z = x.movedim(dim, -1)
    z = z - z.max(-1, keepdim=True).values
    p = z.exp()
    p = p / p.sum(-1, keepdim=True)
    return p.movedim(-1, dim)


def log_softmax(x, dim=-1):
    z = x.movedim(dim, -1)
    z = z - z.max(-1, keepdim=True).values
    return (z - z.exp().sum(-1, keepdim=True).log()).movedim(-1, dim)


def masked_softmax(x, mask, dim=-1):
    keep = mask.expand(x.shape).movedim(dim, -1)
    z = x.movedim(dim, -1)
    m = torch.where(keep, z, torch.full_like(z, -torch.inf)).max(-1, keepdim=True).values
    m = torch.where(keep.any(-1, keepdim=True), m, torch.zeros_like(m))
    e = torch.where(keep, (z - m).exp(), torch.zeros_like(z))
    s = e.sum(-1, keepdim=True)
    p = torch.where(s > 0, e / torch.where(s > 0, s, torch.ones_like(s)), torch.zeros_like(e))
    return p.movedim(-1, dim)


def causal_mask(q_len, k_len=None, *, device=None):
    k_len = q_len if k_len is None else k_len
    offset = k_len - q_len
    i = torch.arange(q_len, device=device).unsqueeze(1).expand(q_len, k_len)
    j = torch.arange(k_len, device=device).unsqueeze(0).expand(q_len, k_len)
    return (j - i) <= offset


def padding_mask(lengths, max_len):
    return torch.arange(max_len).unsqueeze(0).lt(lengths.unsqueeze(1))
