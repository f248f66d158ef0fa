"""Wrong: the attention scores before the softmax (hook_scores) taken as the patterns."""

LOSES = {"attention_patterns"}
HINT = "before the softmax"

import torch


def attention_patterns(model, tokens):
    hooks = [block.attn.hook_scores for block in model.blocks]
    _, saved = _cache(model, tokens, hooks)
    return torch.stack([saved[h] for h in hooks], dim=1)
