"""Reference solution for the `interp` unit: finding induction heads in a tiny transformer.

HIDDEN: this file is the grader's source of truth and is never shipped to students.
The docstrings below are copied verbatim into the stub notebook by
assignments/interp/make_notebook.py, so they are written for students: they state every
convention and every ValueError the grader expects. The code is not copied anywhere.

Every function that takes `model` gets an `interp_model.AttnOnlyTransformer` (the trained one
or a randomly initialised one of any size) and reads its activations with forward hooks on
its `hook_*` modules and blocks, removing every hook before it returns.
"""

import torch

# -----------------------------------------------------------------------------
# helpers


def _check_tokens(tokens, model, name="tokens"):
    # int64 [B, T], 1 <= T <= n_ctx
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.int64 or tokens.dim() != 2:
        raise ValueError(f"{name} must be an int64 tensor of shape [B, T]")
    if not 1 <= tokens.shape[1] <= model.n_ctx:
        raise ValueError(f"{name} has length {tokens.shape[1]}; it must be between 1 and n_ctx={model.n_ctx}")


def _check_patterns(patterns):
    if not isinstance(patterns, torch.Tensor) or patterns.dim() != 5 or patterns.shape[-1] != patterns.shape[-2]:
        raise ValueError("patterns must be a tensor of shape [B, n_layers, n_heads, T, T]")


@torch.no_grad()
def _run_with_cache(model, tokens, modules):
    # forward pass; returns (final logits, {module: its output}), every hook removed afterwards
    cache, handles = {}, []
    try:
        for module in modules:
            handles.append(module.register_forward_hook(
                lambda mod, inputs, output: cache.__setitem__(mod, output.detach())))
        final = model(tokens)
    finally:
        for handle in handles:
            handle.remove()
    return final, cache


def _head_results(model, cache):
    # each head's output written into the residual stream: [B, T, L, H, d_model]
    per_layer = [torch.einsum("bthe,hed->bthd", cache[block.attn.hook_z], block.attn.W_O)
                 for block in model.blocks]
    return torch.stack(per_layer, dim=2)


# -----------------------------------------------------------------------------
# 1. attention patterns


def attention_patterns(model, tokens):
    """Every head's attention pattern on `tokens`, read with forward hooks.

    model:  an interp_model.AttnOnlyTransformer (any size).
    tokens: int64 [B, T] with 1 <= T <= model.n_ctx (else ValueError).
    Returns float [B, n_layers, n_heads, T, T]: out[b, l, h, i, j] is how much query position i
    of layer l's head h attends to key position j, i.e. the output of
    model.blocks[l].attn.hook_pattern (after the softmax: each row sums to 1, zero above the
    diagonal). Removes every hook it registers, even if the forward pass raises.
    """
    _check_tokens(tokens, model)
    hooks = [block.attn.hook_pattern for block in model.blocks]
    _, cache = _run_with_cache(model, tokens, hooks)
    return torch.stack([cache[h] for h in hooks], dim=1)


# -----------------------------------------------------------------------------
# 2. previous-token and induction scores


def prev_token_scores(patterns):
    """How much each head attends to the previous token: float [n_layers, n_heads].

    patterns: [B, n_layers, n_heads, T, T] with T >= 2 (else ValueError), as returned by
    attention_patterns. score[l, h] is the mean, over the batch and over the query positions
    i = 1 .. T-1, of patterns[b, l, h, i, i - 1] (the diagonal just below the main one).
    """
    _check_patterns(patterns)
    if patterns.shape[-1] < 2:
        raise ValueError("prev_token_scores needs T >= 2")
    below = patterns.diagonal(offset=-1, dim1=-2, dim2=-1)  # [B, L, H, T-1]: entries (i, i-1)
    return below.mean(dim=(0, -1))


def induction_scores(patterns, seg_len):
    """How much each head attends like an induction head: float [n_layers, n_heads].

    patterns: [B, n_layers, n_heads, T, T] of a sequence that repeats with period seg_len
    (tokens[t] == tokens[t - seg_len] for t >= seg_len), e.g. a random segment repeated two or
    more times. At a query t >= seg_len, an induction head attends to the token just after the
    most recent earlier occurrence of tokens[t], which is at key t - seg_len + 1.
    score[l, h] is the mean, over the batch and over t = seg_len .. T-1, of
    patterns[b, l, h, t, t - seg_len + 1].
    seg_len: an int with 1 <= seg_len < T (else ValueError).
    """
    _check_patterns(patterns)
    T = patterns.shape[-1]
    if isinstance(seg_len, bool) or not isinstance(seg_len, int) or not 1 <= seg_len < T:
        raise ValueError(f"seg_len must be an int with 1 <= seg_len < T={T}, got {seg_len!r}")
    stripe = patterns.diagonal(offset=1 - seg_len, dim1=-2, dim2=-1)  # entries (t, t - seg_len + 1)
    return stripe[..., 1:].mean(dim=(0, -1))  # its first entry is query seg_len - 1: not repeated yet


def find_induction_heads(model, tokens, seg_len, threshold=0.4):
    """Which heads are induction heads: bool [n_layers, n_heads].

    tokens: int64 [B, T], a sequence repeating with period seg_len (see induction_scores).
    True where the head's induction score on `tokens` (attention_patterns, then
    induction_scores) is strictly greater than `threshold`.
    """
    return induction_scores(attention_patterns(model, tokens), seg_len) > threshold


# -----------------------------------------------------------------------------
# 3. direct logit attribution


def direct_logit_attribution(model, tokens):
    """Split the logit of each correct next token into the model's components.

    tokens: int64 [B, T] with 2 <= T <= model.n_ctx (else ValueError). At each position
    t = 0 .. T-2 the correct next token is tokens[b, t + 1]; its logit is
    resid_final[b, t] @ W_U[:, tokens[b, t + 1]] + b_U[tokens[b, t + 1]], and the final
    residual stream is a sum of parts. Returns a tuple (embed, heads, bias):
      embed  [B, T-1]                    the token + position embedding (hook_embed) @ W_U[:, next]
      heads  [B, T-1, n_layers, n_heads] head (l, h)'s output, z[:, :, h] @ W_O[h] from
                                         model.blocks[l].attn.hook_z, @ W_U[:, next]
      bias   [B, T-1]                    everything else: every layer's b_O @ W_U[:, next],
                                         plus b_U[next] (counted once, not per head)
    so that embed + heads.sum((-2, -1)) + bias equals the model's logit of the correct token.
    """
    _check_tokens(tokens, model)
    if tokens.shape[1] < 2:
        raise ValueError("direct_logit_attribution needs T >= 2 (a next token to predict)")
    hooks = [model.hook_embed] + [block.attn.hook_z for block in model.blocks]
    _, cache = _run_with_cache(model, tokens, hooks)
    directions = model.W_U[:, tokens[:, 1:]].detach().permute(1, 2, 0)  # [B, T-1, d_model]
    embed = (cache[model.hook_embed][:, :-1] * directions).sum(-1)
    heads = torch.einsum("btlhd,btd->btlh", _head_results(model, cache)[:, :-1], directions)
    b_O = sum(block.attn.b_O.detach() for block in model.blocks)
    bias = directions @ b_O + model.b_U.detach()[tokens[:, 1:]]
    return embed, heads, bias


# -----------------------------------------------------------------------------
# 4. logit lens


def logit_lens(model, tokens):
    """The logit lens: unembed the residual stream after the embedding and after every block.

    tokens: int64 [B, T] with 1 <= T <= model.n_ctx (else ValueError).
    Returns float [B, n_layers + 1, T, d_vocab]: out[:, 0] = hook_embed's output @ W_U + b_U,
    out[:, l + 1] = (output of model.blocks[l]) @ W_U + b_U. The last one equals model(tokens).
    """
    _check_tokens(tokens, model)
    hooks = [model.hook_embed, *model.blocks]
    _, cache = _run_with_cache(model, tokens, hooks)
    resid = torch.stack([cache[h] for h in hooks], dim=1)  # [B, L+1, T, d_model]
    return resid @ model.W_U.detach() + model.b_U.detach()


# -----------------------------------------------------------------------------
# 5. activation patching


def logit_difference(logits, answer, wrong):
    # mean over the batch of logit[answer] - logit[wrong] at the last position
    last = logits[:, -1]
    rows = torch.arange(last.shape[0])
    return (last[rows, answer] - last[rows, wrong]).mean()


def patch_heads(model, clean_tokens, corrupted_tokens, answer, wrong):
    """Activation patching of each head: how much of the logit difference it restores.

    clean_tokens, corrupted_tokens: int64 [B, T] of the same shape (else ValueError).
    answer, wrong: int64 [B], the correct and the distractor next token of each sequence
    (else ValueError).
    The logit difference LD of a run is the batch mean of
    logits[b, -1, answer[b]] - logits[b, -1, wrong[b]] (at the last position).
    For each head (l, h): run the model on corrupted_tokens with a forward hook on
    model.blocks[l].attn.hook_z that replaces head h's slice z[:, :, h] (at every position) by
    its value on the clean run, and nothing else. Returns float [n_layers, n_heads]:
        (LD_patched - LD_corrupted) / (LD_clean - LD_corrupted)
    (1 = this head alone restores the clean behaviour, 0 = no effect).
    """
    _check_tokens(clean_tokens, model, "clean_tokens")
    _check_tokens(corrupted_tokens, model, "corrupted_tokens")
    if clean_tokens.shape != corrupted_tokens.shape:
        raise ValueError("clean_tokens and corrupted_tokens must have the same shape")
    for name, ids in (("answer", answer), ("wrong", wrong)):
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.int64 or ids.shape != clean_tokens.shape[:1]:
            raise ValueError(f"{name} must be an int64 tensor of shape [B]")
    z_hooks = [block.attn.hook_z for block in model.blocks]
    clean_logits, clean = _run_with_cache(model, clean_tokens, z_hooks)
    corrupted_logits, _ = _run_with_cache(model, corrupted_tokens, [])
    ld_clean = logit_difference(clean_logits, answer, wrong)
    ld_corrupted = logit_difference(corrupted_logits, answer, wrong)
    restored = torch.zeros(model.n_layers, model.n_heads)
    for layer, hook in enumerate(z_hooks):
        for head in range(model.n_heads):
            def patch(module, inputs, z, head=head, source=clean[hook]):
                z = z.clone()
                z[:, :, head] = source[:, :, head]
                return z
            handle = hook.register_forward_hook(patch)
            try:
                patched, _ = _run_with_cache(model, corrupted_tokens, [])
            finally:
                handle.remove()
            ld = logit_difference(patched, answer, wrong)
            restored[layer, head] = (ld - ld_corrupted) / (ld_clean - ld_corrupted)
    return restored
