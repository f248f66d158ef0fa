"""Bug: direct_logit_attribution accepts T = 1 (nothing to predict) and returns empty tensors
instead of raising ValueError."""

LOSES = {"direct_logit_attribution"}
HINT = "at least 2"

import torch


def direct_logit_attribution(model, tokens):
    _check_tokens(model, tokens)
    if tokens.shape[1] < 2:
        B = tokens.shape[0]
        return torch.zeros(B, 0), torch.zeros(B, 0, model.n_layers, model.n_heads), torch.zeros(B, 0)
    hooks = [model.hook_embed] + [b.attn.hook_z for b in model.blocks]
    _, saved = _cache(model, tokens, hooks)
    nxt = tokens[:, 1:]
    u = model.W_U.detach().T[nxt]  # [B, T-1, D]
    embed = (saved[model.hook_embed][:, :-1] * u).sum(-1)
    per_layer = []
    for b in model.blocks:
        result = torch.einsum("bthe,hed->bthd", saved[b.attn.hook_z][:, :-1], b.attn.W_O.detach())
        per_layer.append((result * u[:, :, None, :]).sum(-1))
    bias = model.b_U.detach()[nxt] + sum((u * b.attn.b_O.detach()).sum(-1) for b in model.blocks)
    return embed, torch.stack(per_layer, dim=2), bias
