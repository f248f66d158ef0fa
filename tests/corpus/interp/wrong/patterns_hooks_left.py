"""Bug: attention_patterns registers its forward hooks and never removes them: they stay on the
model (and slow down or change every later forward pass)."""

LOSES = {"attention_patterns"}
HINT = "handle.remove()"

import torch


def attention_patterns(model, tokens):
    _check_tokens(model, tokens)
    saved = {}
    hooks = [block.attn.hook_pattern for block in model.blocks]
    for hook in hooks:
        hook.register_forward_hook(lambda mod, inp, out: saved.update({mod: out.detach()}))
    with torch.no_grad():
        model(tokens)
    return torch.stack([saved[h] for h in hooks], dim=1)


# find_induction_heads does not call the buggy attention_patterns here: its own reads are clean
def find_induction_heads(model, tokens, seg_len, threshold=0.4):
    hooks = [block.attn.hook_pattern for block in model.blocks]
    _, saved = _cache(model, tokens, hooks)
    return induction_scores(torch.stack([saved[h] for h in hooks], dim=1), seg_len) > threshold
