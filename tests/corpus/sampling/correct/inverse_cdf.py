"""Correct: an inverse-CDF sampler: one uniform number per row from the generator, then the first
token whose cumulative probability exceeds it (scaled by the row total, so rounding never
selects a token past the last one of nonzero probability)."""

import math

import torch


def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return logits / temperature


def top_k_filter(logits, k):
    if k < 1:
        raise ValueError("k must be at least 1")
    order = torch.sort(logits, dim=-1, descending=True, stable=True).indices
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order[..., :k], True)
    return torch.where(keep, logits, torch.full_like(logits, float("-inf")))


def top_p_filter(logits, p):
    if not 0 < p <= 1:
        raise ValueError("p must be in (0, 1]")
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    mass_before = torch.cumsum(probs, dim=-1) - probs
    drop = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order, mass_before >= p)
    return logits.masked_fill(drop, float("-inf"))


def sampling_probs(logits, temperature=1.0, top_k=None, top_p=None):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    x = logits / temperature
    if top_k is not None:
        order = torch.sort(x, dim=-1, descending=True, stable=True).indices
        keep = torch.zeros_like(x, dtype=torch.bool).scatter(-1, order[..., :top_k], True)
        x = x.masked_fill(~keep, float("-inf"))
    if top_p is not None:
        sorted_x, order = torch.sort(x, dim=-1, descending=True, stable=True)
        probs = torch.softmax(sorted_x, dim=-1)
        drop = torch.zeros_like(x, dtype=torch.bool).scatter(-1, order, torch.cumsum(probs, -1) - probs >= top_p)
        x = x.masked_fill(drop, float("-inf"))
    return torch.softmax(x, dim=-1)


def sample(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    probs = sampling_probs(logits, temperature, top_k, top_p).double()
    cdf = torch.cumsum(probs, dim=-1)
    u = torch.rand(probs.shape[:-1] + (1,), generator=generator, dtype=torch.float64) * cdf[..., -1:]
    return torch.searchsorted(cdf, u, right=True).clamp_max(probs.shape[-1] - 1)


def forward_cached(model, idx, cache=None):
    """Keys and values kept per head with einsum; the mask from the absolute positions."""
    n_new = idx.shape[1]
    start = cache[0][0].shape[-2] if cache else 0
    if start + n_new > model.n_ctx:
        raise ValueError("the cache and the new tokens do not fit in n_ctx")
    positions = torch.arange(start, start + n_new)
    x = model.tok_emb(idx) + model.pos_emb(positions)
    grown = []
    for i, block in enumerate(model.blocks):
        a, h = block.attn, block.ln1(x)
        heads = a.n_heads
        split = lambda t: t.unflatten(-1, (heads, -1)).permute(0, 2, 1, 3)
        q, k, v = split(a.q_proj(h)), split(a.k_proj(h)), split(a.v_proj(h))
        if cache:
            k, v = torch.cat((cache[i][0], k), -2), torch.cat((cache[i][1], v), -2)
        grown.append((k, v))
        s = torch.einsum("bhqd,bhkd->bhqk", q.double(), k.double()) / q.shape[-1] ** 0.5
        s = s.masked_fill(torch.arange(k.shape[-2]) > positions[:, None], float("-inf"))
        o = torch.einsum("bhqk,bhkd->bhqd", s.softmax(-1), v.double()).to(x.dtype)
        x = x + a.o_proj(o.permute(0, 2, 1, 3).flatten(-2))
        x = x + block.mlp(block.ln2(x))
    return model.lm_head(model.ln_f(x)), grown
