"""Correct: patching by modifying the hooked output in place (no return value), pattern
hooks collected in a list, attribution computed in float64 and cast back."""

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


def attention_patterns(model, tokens):
    _check_tokens(model, tokens)
    if tokens.dim() != 2 or tokens.dtype != torch.int64 or not 1 <= tokens.shape[1] <= model.n_ctx:
        raise ValueError("tokens must be int64 [B, T] with 1 <= T <= n_ctx")
    found = []
    handles = [b.attn.hook_pattern.register_forward_hook(lambda m, i, o: found.append(o.detach().clone()))
               for b in model.blocks]
    try:
        with torch.no_grad():
            model(tokens)
    finally:
        for h in handles:
            h.remove()
    return torch.stack(found, 1)


def prev_token_scores(patterns):
    _check_patterns(patterns)
    if patterns.shape[-1] < 2:
        raise ValueError("T must be >= 2")
    mask = torch.diag(torch.ones(patterns.shape[-1] - 1), -1).bool()
    return patterns[..., mask].mean(-1).mean(0)


def induction_scores(patterns, seg_len):
    T = patterns.shape[-1]
    if isinstance(seg_len, bool) or not isinstance(seg_len, int) or not 0 < seg_len < T:
        raise ValueError("need 1 <= seg_len < T")
    mask = torch.zeros(T, T, dtype=torch.bool)
    for t in range(seg_len, T):
        mask[t, t - seg_len + 1] = True
    return patterns[..., mask].mean(-1).mean(0)


def find_induction_heads(model, tokens, seg_len, threshold=0.4):
    return induction_scores(attention_patterns(model, tokens), seg_len).gt(threshold)


def direct_logit_attribution(model, tokens):
    _check_tokens(model, tokens, least=2)
    if tokens.shape[1] < 2:
        raise ValueError("need T >= 2")
    store = {}
    handles = [model.hook_embed.register_forward_hook(lambda m, i, o: store.__setitem__("embed", o.detach()))]
    for l, b in enumerate(model.blocks):
        handles.append(b.attn.hook_z.register_forward_hook(lambda m, i, o, l=l: store.__setitem__(l, o.detach())))
    try:
        with torch.no_grad():
            model(tokens)
    finally:
        for h in handles:
            h.remove()
    W_U = model.W_U.detach().double()
    u = W_U[:, tokens[:, 1:]].movedim(0, -1)  # [B, T-1, D]
    embed = (store["embed"][:, :-1].double() * u).sum(-1)
    heads = []
    for l, b in enumerate(model.blocks):
        W_O = b.attn.W_O.detach().double()
        heads.append(torch.einsum("bthe,hed,btd->bth", store[l][:, :-1].double(), W_O, u))
    heads = torch.stack(heads, 2)
    bias = model.b_U.detach().double()[tokens[:, 1:]]
    for b in model.blocks:
        bias = bias + u @ b.attn.b_O.detach().double()
    return embed.float(), heads.float(), bias.float()


def logit_lens(model, tokens):
    _check_tokens(model, tokens)
    if tokens.dim() != 2 or not 1 <= tokens.shape[1] <= model.n_ctx:
        raise ValueError("bad tokens")
    outs = []
    handles = [model.hook_embed.register_forward_hook(lambda m, i, o: outs.append(o.detach()))]
    handles += [b.register_forward_hook(lambda m, i, o: outs.append(o.detach())) for b in model.blocks]
    try:
        with torch.no_grad():
            model(tokens)
    finally:
        for h in handles:
            h.remove()
    return torch.stack([r @ model.W_U.detach() + model.b_U.detach() for r in outs], 1)


def patch_heads(model, clean_tokens, corrupted_tokens, answer, wrong):
    _check_patching(model, clean_tokens, corrupted_tokens, answer, wrong)
    if clean_tokens.shape != corrupted_tokens.shape:
        raise ValueError("clean and corrupted tokens must have the same shape")
    B = clean_tokens.shape[0]
    clean_z = []
    handles = [b.attn.hook_z.register_forward_hook(lambda m, i, o: clean_z.append(o.detach().clone()))
               for b in model.blocks]
    try:
        with torch.no_grad():
            clean_logits = model(clean_tokens)
    finally:
        for h in handles:
            h.remove()

    def ld(logits):
        last = logits[:, -1]
        return (last[range(B), answer] - last[range(B), wrong]).mean()

    with torch.no_grad():
        ld_corrupt = ld(model(corrupted_tokens))
    ld_clean = ld(clean_logits)
    result = torch.zeros(model.n_layers, model.n_heads)
    for l, b in enumerate(model.blocks):
        for h in range(model.n_heads):
            def overwrite(m, i, o):
                o[:, :, h] = clean_z[l][:, :, h]  # in place: the module's output object itself
            handle = b.attn.hook_z.register_forward_hook(overwrite)
            try:
                with torch.no_grad():
                    result[l, h] = (ld(model(corrupted_tokens)) - ld_corrupt) / (ld_clean - ld_corrupt)
            finally:
                handle.remove()
    return result
