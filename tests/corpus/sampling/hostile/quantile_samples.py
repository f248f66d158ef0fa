"""Hostile: a "sampler" that returns no random tokens at all but each token in exact proportion
to its probability (row i gets the token whose cumulative probability first exceeds
(i + 0.5) / B): its frequencies are perfect, so only the generator check can catch it. It must
gain nothing over its base, which ignores the generator."""

BASE = "wrong/sample_ignores_generator"

# %% functions
import torch


def sample(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    probs = sampling_probs(logits, temperature, top_k, top_p).double()
    cdf = torch.cumsum(probs, dim=-1)
    u = (torch.arange(probs.shape[0], dtype=torch.float64)[:, None] + 0.5) / probs.shape[0]
    return torch.searchsorted(cdf, u * cdf[:, -1:], right=True).clamp_max(probs.shape[-1] - 1)
