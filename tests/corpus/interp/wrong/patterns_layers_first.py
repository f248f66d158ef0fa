"""Wrong: the layers stacked in dimension 0, giving [n_layers, B, n_heads, T, T]."""

LOSES = {"attention_patterns"}
HINT = "layers go in dimension 1"
SAMPLE = True  # the unit's sample wrong entry: graded in a Gradescope tree and both ways by the fast path

import torch


def attention_patterns(model, tokens):
    hooks = [block.attn.hook_pattern for block in model.blocks]
    _, saved = _cache(model, tokens, hooks)
    return torch.stack([saved[h] for h in hooks], dim=0)
