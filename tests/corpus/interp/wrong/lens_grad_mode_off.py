"""Bug: logit_lens switches gradient tracking off with torch.set_grad_enabled(False) and never
switches it back on, for the rest of the notebook."""

LOSES = {"logit_lens"}
HINT = "gradient tracking"

import torch


def logit_lens(model, tokens):
    _check_tokens(model, tokens)
    torch.set_grad_enabled(False)
    hooks = [model.hook_embed] + list(model.blocks)
    _, saved = _cache(model, tokens, hooks)
    return torch.stack([saved[h] @ model.W_U + model.b_U for h in hooks], dim=1)
