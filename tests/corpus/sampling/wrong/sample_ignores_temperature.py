"""Wrong: the sampler forgets to pass the temperature on: it samples at temperature 1."""

LOSES = {"sample"}
HINT = "without the temperature"

import torch


def sample(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    probs = sampling_probs(logits, top_k=top_k, top_p=top_p)
    return torch.multinomial(probs, 1, generator=generator)
