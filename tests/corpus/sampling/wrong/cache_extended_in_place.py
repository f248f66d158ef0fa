"""Wrong: the cache list it was given is extended in place (list.append on the caller's cache)
instead of returning a new list."""

LOSES = {"forward_cached"}
HINT = "in place"

import math

import torch


def forward_cached(model, idx, cache=None):
    B, T = idx.shape
    past = 0 if cache is None else cache[0][0].shape[2]
    if past + T > model.n_ctx:
        raise ValueError("too many tokens for n_ctx")
    x = model.tok_emb(idx) + model.pos_emb(torch.arange(past, past + T))
    new_cache = cache if cache is not None else []
    for layer, block in enumerate(model.blocks):
        attn = block.attn
        h = block.ln1(x)
        q = attn.split_heads(attn.q_proj(h))
        k = attn.split_heads(attn.k_proj(h))
        v = attn.split_heads(attn.v_proj(h))
        if cache is not None:
            k = torch.cat([cache[layer][0], k], dim=2)
            v = torch.cat([cache[layer][1], v], dim=2)
        if cache is not None:
            new_cache[layer] = (k, v)
        else:
            new_cache.append((k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        allowed = torch.arange(past + T)[None, :] <= torch.arange(past, past + T)[:, None]
        weights = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
        x = x + attn.o_proj((weights @ v).transpose(1, 2).reshape(B, T, -1))
        x = x + block.mlp(block.ln2(x))
    return model.lm_head(model.ln_f(x)), new_cache
