"""Wrong: the output bias b_O added to every head's output (counted n_heads times)."""

LOSES = {"direct_logit_attribution"}
HINT = "b_O is added once per layer"

import torch


def direct_logit_attribution(model, tokens):
    if tokens.shape[1] < 2:
        raise ValueError("need T >= 2")
    hooks = [model.hook_embed] + [b.attn.hook_z for b in model.blocks]
    _, saved = _cache(model, tokens, hooks)
    u = model.W_U.detach().T[tokens[:, 1:]]
    embed = (saved[model.hook_embed][:, :-1] * u).sum(-1)
    heads = torch.stack([
        ((torch.einsum("bthe,hed->bthd", saved[b.attn.hook_z][:, :-1], b.attn.W_O.detach())
          + b.attn.b_O.detach()) * u[:, :, None, :]).sum(-1)
        for b in model.blocks], dim=2)
    bias = model.b_U.detach()[tokens[:, 1:]]
    return embed, heads, bias
