"""Wrong: the attribution without the final unembedding: residual-stream vectors, not logits."""

LOSES = {"direct_logit_attribution"}
HINT = "residual-stream vectors"

import torch


def direct_logit_attribution(model, tokens):
    if tokens.shape[1] < 2:
        raise ValueError("need T >= 2")
    hooks = [model.hook_embed] + [b.attn.hook_z for b in model.blocks]
    _, saved = _cache(model, tokens, hooks)
    embed = saved[model.hook_embed][:, :-1]
    heads = torch.stack([torch.einsum("bthe,hed->bthd", saved[b.attn.hook_z][:, :-1], b.attn.W_O.detach())
                         for b in model.blocks], dim=2)
    bias = sum(b.attn.b_O.detach() for b in model.blocks).expand_as(embed)
    return embed, heads, bias
