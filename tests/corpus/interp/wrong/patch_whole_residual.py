"""Wrong: "patching head (l, h)" replaces the whole residual stream after block l (the block's
output) with the clean one, instead of only head h's output."""

LOSES = {"patch_heads"}
HINT = "patched something the heads share"

import torch


def patch_heads(model, clean_tokens, corrupted_tokens, answer, wrong):
    if clean_tokens.shape != corrupted_tokens.shape:
        raise ValueError("clean and corrupted tokens must have the same shape")
    blocks = list(model.blocks)
    clean_logits, clean = _cache(model, clean_tokens, blocks)
    corrupted_logits, _ = _cache(model, corrupted_tokens, [])
    ld_clean = _logit_diff(clean_logits, answer, wrong)
    ld_corrupted = _logit_diff(corrupted_logits, answer, wrong)
    out = torch.empty(len(blocks), model.n_heads)
    for l, block in enumerate(blocks):
        for h in range(model.n_heads):
            handle = block.register_forward_hook(lambda mod, inp, resid: clean[mod])
            try:
                with torch.no_grad():
                    ld = _logit_diff(model(corrupted_tokens), answer, wrong)
            finally:
                handle.remove()
            out[l, h] = (ld - ld_corrupted) / (ld_clean - ld_corrupted)
    return out
