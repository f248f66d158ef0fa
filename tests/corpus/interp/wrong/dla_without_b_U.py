"""Wrong: the unembedding bias b_U left out of the `bias` part."""

LOSES = {"direct_logit_attribution"}
HINT = "lacks the unembedding bias"

import torch


def direct_logit_attribution(model, tokens):
    if tokens.shape[1] < 2:
        raise ValueError("need T >= 2")
    hooks = [model.hook_embed] + [b.attn.hook_z for b in model.blocks]
    _, saved = _cache(model, tokens, hooks)
    u = model.W_U.detach().T[tokens[:, 1:]]
    embed = (saved[model.hook_embed][:, :-1] * u).sum(-1)
    heads = torch.stack([(torch.einsum("bthe,hed->bthd", saved[b.attn.hook_z][:, :-1], b.attn.W_O.detach())
                          * u[:, :, None, :]).sum(-1) for b in model.blocks], dim=2)
    bias = sum((u * b.attn.b_O.detach()).sum(-1) for b in model.blocks)
    return embed, heads, bias
