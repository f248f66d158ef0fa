"""Wrong: the fraction of the logit difference still missing, (LD_clean - LD_patched) /
(LD_clean - LD_corrupted), instead of the fraction restored."""

LOSES = {"patch_heads"}
HINT = "fraction still missing"

import torch


def patch_heads(model, clean_tokens, corrupted_tokens, answer, wrong):
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
            out[l, h] = (ld_clean - ld) / (ld_clean - ld_corrupted)
    return out
