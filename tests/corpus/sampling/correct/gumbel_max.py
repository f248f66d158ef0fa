"""Correct: the Gumbel-max trick: argmax(log p + Gumbel noise), the noise -log(-log u) from the
generator; filtered tokens (log 0 = -inf) are never the argmax."""

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
    probs = sampling_probs(logits, temperature, top_k, top_p)
    u = torch.rand(probs.shape, generator=generator, dtype=torch.float64).clamp(1e-300, 1 - 1e-16)
    gumbel = -torch.log(-torch.log(u))
    return (probs.double().log() + gumbel).argmax(dim=-1, keepdim=True)


def forward_cached(model, idx, cache=None):
    B, T = idx.shape
    past = 0 if cache is None else cache[0][0].shape[2]
    if past + T > model.n_ctx:
        raise ValueError("too many tokens for n_ctx")
    x = model.tok_emb(idx) + model.pos_emb(torch.arange(past, past + T))
    new_cache = []
    for layer, block in enumerate(model.blocks):
        attn = block.attn
        h = block.ln1(x)
        q = attn.split_heads(attn.q_proj(h))
        k = attn.split_heads(attn.k_proj(h))
        v = attn.split_heads(attn.v_proj(h))
        if cache is not None:
            k = torch.cat([cache[layer][0], k], dim=2)
            v = torch.cat([cache[layer][1], v], dim=2)
        new_cache.append((k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        allowed = torch.arange(past + T)[None, :] <= torch.arange(past, past + T)[:, None]
        weights = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
        x = x + attn.o_proj((weights @ v).transpose(1, 2).reshape(B, T, -1))
        x = x + block.mlp(block.ln2(x))
    return model.lm_head(model.ln_f(x)), new_cache
