"""Wrong: the sampler draws from torch's global generator, ignoring the `generator` it is given
(its tokens cannot be reproduced from the caller's seed)."""

LOSES = {"sample"}
HINT = "never from torch's global generator"

import torch


def sample(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    probs = sampling_probs(logits, temperature, top_k, top_p)
    return torch.multinomial(probs, 1)
