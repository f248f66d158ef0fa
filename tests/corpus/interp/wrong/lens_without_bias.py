"""Wrong: the logit lens without the unembedding bias b_U."""

LOSES = {"logit_lens"}
HINT = "the unembedding has a bias"

import torch


def logit_lens(model, tokens):
    hooks = [model.hook_embed] + list(model.blocks)
    _, saved = _cache(model, tokens, hooks)
    return torch.stack([saved[h] @ model.W_U.detach() for h in hooks], dim=1)
