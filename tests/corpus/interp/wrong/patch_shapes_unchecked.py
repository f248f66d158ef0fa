"""Bug: patch_heads checks each argument alone but never that clean_tokens and corrupted_tokens
have the same shape (the docstring's ValueError)."""

LOSES = {"patch_heads"}
HINT = "same shape"

import torch


def patch_heads(model, clean_tokens, corrupted_tokens, answer, wrong):
    _check_patching(model, clean_tokens, clean_tokens, answer, wrong)
    _check_tokens(model, corrupted_tokens)
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
                n = min(z.shape[1], clean[hook].shape[1])
                z[:, :n, h] = clean[hook][:, :n, h]
                return z
            handle = hook.register_forward_hook(replace)
            try:
                with torch.no_grad():
                    ld = _logit_diff(model(corrupted_tokens), answer, wrong)
            finally:
                handle.remove()
            out[l, h] = (ld - ld_corrupted) / (ld_clean - ld_corrupted)
    return out
