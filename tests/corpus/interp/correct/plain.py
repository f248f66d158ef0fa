"""Correct: a cache of hooked outputs in a dict, scores by explicit index arithmetic."""

import torch


# argument checks: every documented invalid argument is a ValueError
def _check_tokens(model, tokens, least=1):
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.int64 or tokens.dim() != 2:
        raise ValueError("tokens must be an int64 tensor [B, T]")
    if not least <= tokens.shape[1] <= model.n_ctx:
        raise ValueError(f"T must be in [{least}, n_ctx]")


def _check_patterns(patterns):
    if not isinstance(patterns, torch.Tensor) or patterns.dim() != 5 or patterns.shape[-1] < 2:
        raise ValueError("patterns must be [B, n_layers, n_heads, T, T] with T >= 2")


def _check_patching(model, clean_tokens, corrupted_tokens, answer, wrong):
    _check_tokens(model, clean_tokens)
    _check_tokens(model, corrupted_tokens)
    if clean_tokens.shape != corrupted_tokens.shape:
        raise ValueError("clean and corrupted tokens differ in shape")
    for ids in (answer, wrong):
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.int64 or ids.shape != clean_tokens.shape[:1]:
            raise ValueError("answer and wrong must be int64 [B]")


def _cache(model, tokens, modules):
    saved = {}
    handles = [m.register_forward_hook(lambda mod, inp, out: saved.update({mod: out.detach()})) for m in modules]
    try:
        with torch.no_grad():
            logits = model(tokens)
    finally:
        for h in handles:
            h.remove()
    return logits, saved


def attention_patterns(model, tokens):
    _check_tokens(model, tokens)
    if tokens.dim() != 2 or tokens.dtype != torch.int64 or not 1 <= tokens.shape[1] <= model.n_ctx:
        raise ValueError("tokens must be int64 [B, T] with 1 <= T <= n_ctx")
    hooks = [block.attn.hook_pattern for block in model.blocks]
    _, saved = _cache(model, tokens, hooks)
    return torch.stack([saved[h] for h in hooks], dim=1)


def prev_token_scores(patterns):
    _check_patterns(patterns)
    T = patterns.shape[-1]
    if T < 2:
        raise ValueError("T must be >= 2")
    i = torch.arange(1, T)
    return patterns[..., i, i - 1].mean(dim=(0, -1))


def induction_scores(patterns, seg_len):
    T = patterns.shape[-1]
    if not isinstance(seg_len, int) or not 1 <= seg_len < T:
        raise ValueError("need 1 <= seg_len < T")
    t = torch.arange(seg_len, T)
    return patterns[..., t, t - seg_len + 1].mean(dim=(0, -1))


def find_induction_heads(model, tokens, seg_len, threshold=0.4):
    return induction_scores(attention_patterns(model, tokens), seg_len) > threshold


def direct_logit_attribution(model, tokens):
    _check_tokens(model, tokens, least=2)
    if tokens.shape[1] < 2:
        raise ValueError("need T >= 2")
    hooks = [model.hook_embed] + [b.attn.hook_z for b in model.blocks]
    _, saved = _cache(model, tokens, hooks)
    nxt = tokens[:, 1:]
    W_U = model.W_U.detach()
    u = W_U.T[nxt]  # [B, T-1, D]
    embed = (saved[model.hook_embed][:, :-1] * u).sum(-1)
    per_layer = []
    for b in model.blocks:
        z = saved[b.attn.hook_z][:, :-1]  # [B, T-1, H, dh]
        result = torch.einsum("bthe,hed->bthd", z, b.attn.W_O.detach())
        per_layer.append((result * u[:, :, None, :]).sum(-1))
    heads = torch.stack(per_layer, dim=2)
    bias = model.b_U.detach()[nxt] + sum((u * b.attn.b_O.detach()).sum(-1) for b in model.blocks)
    return embed, heads, bias


def logit_lens(model, tokens):
    _check_tokens(model, tokens)
    if tokens.dim() != 2 or not 1 <= tokens.shape[1] <= model.n_ctx:
        raise ValueError("bad tokens")
    hooks = [model.hook_embed] + list(model.blocks)
    _, saved = _cache(model, tokens, hooks)
    return torch.stack([saved[h] @ model.W_U.detach() + model.b_U.detach() for h in hooks], dim=1)


def _logit_diff(logits, answer, wrong):
    last = logits[:, -1]
    return (last.gather(-1, answer[:, None]) - last.gather(-1, wrong[:, None])).mean()


def patch_heads(model, clean_tokens, corrupted_tokens, answer, wrong):
    _check_patching(model, clean_tokens, corrupted_tokens, answer, wrong)
    if clean_tokens.shape != corrupted_tokens.shape:
        raise ValueError("clean and corrupted tokens must have the same shape")
    hooks = [b.attn.hook_z for b in model.blocks]
    clean_logits, clean = _cache(model, clean_tokens, hooks)
    corrupted_logits, _ = _cache(model, corrupted_tokens, [])
    ld_clean = _logit_diff(clean_logits, answer, wrong)
    ld_corrupted = _logit_diff(corrupted_logits, answer, wrong)
    out = torch.empty(len(hooks), model.n_heads)
    for l, hook in enumerate(hooks):
        for h in range(model.n_heads):
            def replace(mod, inp, z):
                z = z.clone()
                z[:, :, h] = clean[hook][:, :, h]
                return z
            handle = hook.register_forward_hook(replace)
            try:
                with torch.no_grad():
                    ld = _logit_diff(model(corrupted_tokens), answer, wrong)
            finally:
                handle.remove()
            out[l, h] = (ld - ld_corrupted) / (ld_clean - ld_corrupted)
    return out
