"""Correct, written differently: everything through torch.logsumexp; -inf masking repaired
with nan_to_num; the causal mask from torch.tril(..., diagonal=k_len - q_len)."""

import torch


def softmax(x, dim=-1):
    return torch.exp(x - torch.logsumexp(x, dim=dim, keepdim=True))


def log_softmax(x, dim=-1):
    return x - torch.logsumexp(x, dim=dim, keepdim=True)


def masked_softmax(x, mask, dim=-1):
    z = x.masked_fill(~mask, float("-inf"))
    # a fully masked row: logsumexp is -inf and -inf - (-inf) is NaN; NaN means "no key", so 0
    out = torch.exp(z - torch.logsumexp(z, dim=dim, keepdim=True))
    return torch.nan_to_num(out, nan=0.0)


def causal_mask(q_len, k_len=None, *, device=None):
    k_len = q_len if k_len is None else k_len
    ones = torch.ones(q_len, k_len, dtype=torch.bool, device=device)
    return torch.tril(ones, diagonal=k_len - q_len)


def padding_mask(lengths, max_len):
    positions = torch.arange(max_len).expand(len(lengths), max_len)
    return positions < lengths.unsqueeze(-1)
