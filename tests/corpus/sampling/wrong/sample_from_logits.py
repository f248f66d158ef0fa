"""Wrong: the sampler draws with the (tempered, filtered) logits as weights instead of the
probabilities: negative logits clipped to 0, the rest in proportion to the logit."""

LOSES = {"sample"}
HINT = "probabilities"

import torch


def sample(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    x = logits / temperature
    if top_k is not None:
        x = top_k_filter(x, top_k)
    if top_p is not None:
        x = top_p_filter(x, top_p)
    weights = torch.nan_to_num(x, neginf=0.0).clamp_min(0.0)
    return torch.multinomial(weights, 1, generator=generator)
