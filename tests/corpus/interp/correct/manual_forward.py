"""Correct: no hooks at all; the forward pass recomputed by hand from the model's weights."""

import math

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


def _run(model, tokens, patch=None):
    """(per-layer patterns, per-layer z, residual after embed and after each block, logits).
    patch = (layer, head, z_clean) replaces that head's z."""
    T = tokens.shape[1]
    resid = model.embed.weight[tokens] + model.pos_embed.weight[:T]
    resids, patterns, zs = [resid], [], []
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l, block in enumerate(model.blocks):
        a = block.attn
        q = torch.einsum("btd,hde->bhte", resid, a.W_Q)
        k = torch.einsum("btd,hde->bhte", resid, a.W_K)
        v = torch.einsum("btd,hde->bhte", resid, a.W_V)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(a.d_head)
        p = torch.softmax(s.masked_fill(~causal, float("-inf")), -1)
        z = (p @ v).permute(0, 2, 1, 3)
        if patch is not None and patch[0] == l:
            z = z.clone()
            z[:, :, patch[1]] = patch[2][:, :, patch[1]]
        patterns.append(p)
        zs.append(z)
        resid = resid + torch.einsum("bthe,hed->btd", z, a.W_O) + a.b_O
        resids.append(resid)
    return patterns, zs, resids, resid @ model.W_U + model.b_U


def attention_patterns(model, tokens):
    _check_tokens(model, tokens)
    if tokens.dim() != 2 or tokens.dtype != torch.int64 or not 1 <= tokens.shape[1] <= model.n_ctx:
        raise ValueError("tokens must be int64 [B, T] with 1 <= T <= n_ctx")
    with torch.no_grad():
        return torch.stack(_run(model, tokens)[0], dim=1)


def prev_token_scores(patterns):
    _check_patterns(patterns)
    if patterns.shape[-1] < 2:
        raise ValueError("T must be >= 2")
    total = sum(patterns[..., i, i - 1] for i in range(1, patterns.shape[-1]))
    return (total / (patterns.shape[-1] - 1)).mean(0)


def induction_scores(patterns, seg_len):
    T = patterns.shape[-1]
    if type(seg_len) is not int or seg_len < 1 or seg_len >= T:
        raise ValueError("need 1 <= seg_len < T")
    total = sum(patterns[..., t, t - seg_len + 1] for t in range(seg_len, T))
    return (total / (T - seg_len)).mean(0)


def find_induction_heads(model, tokens, seg_len, threshold=0.4):
    scores = induction_scores(attention_patterns(model, tokens), seg_len)
    return scores > threshold


def direct_logit_attribution(model, tokens):
    _check_tokens(model, tokens, least=2)
    if tokens.shape[1] < 2:
        raise ValueError("need T >= 2")
    with torch.no_grad():
        _, zs, resids, _ = _run(model, tokens)
        u = model.W_U[:, tokens[:, 1:]].permute(1, 2, 0)
        embed = torch.einsum("btd,btd->bt", resids[0][:, :-1], u)
        heads = torch.stack([torch.einsum("bthe,hed,btd->bth", z[:, :-1], b.attn.W_O, u)
                             for z, b in zip(zs, model.blocks)], dim=2)
        bias = model.b_U[tokens[:, 1:]] + torch.einsum("btd,d->bt", u, sum(b.attn.b_O for b in model.blocks))
    return embed, heads, bias


def logit_lens(model, tokens):
    _check_tokens(model, tokens)
    if tokens.dim() != 2 or not 1 <= tokens.shape[1] <= model.n_ctx:
        raise ValueError("bad tokens")
    with torch.no_grad():
        return torch.stack([r @ model.W_U + model.b_U for r in _run(model, tokens)[2]], dim=1)


def patch_heads(model, clean_tokens, corrupted_tokens, answer, wrong):
    _check_patching(model, clean_tokens, corrupted_tokens, answer, wrong)
    if clean_tokens.shape != corrupted_tokens.shape:
        raise ValueError("clean and corrupted tokens must have the same shape")
    rows = torch.arange(clean_tokens.shape[0])

    def ld(logits):
        return (logits[rows, -1, answer] - logits[rows, -1, wrong]).mean()

    with torch.no_grad():
        _, clean_z, _, clean_logits = _run(model, clean_tokens)
        base = ld(_run(model, corrupted_tokens)[3])
        full = ld(clean_logits)
        return torch.tensor([[(ld(_run(model, corrupted_tokens, (l, h, clean_z[l]))[3]) - base) / (full - base)
                              for h in range(model.n_heads)] for l in range(model.n_layers)])
