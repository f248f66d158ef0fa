"""Wrong: the layers stacked in dimension 0, giving [n_layers, B, n_heads, T, T]."""

LOSES = {"attention_patterns"}
HINT = "layers go in dimension 1"

import torch


def attention_patterns(model, tokens):
    hooks = [block.attn.hook_pattern for block in model.blocks]
    _, saved = _cache(model, tokens, hooks)
    return torch.stack([saved[h] for h in hooks], dim=0)
