"""Wrong: the temperature divides the probabilities after the softmax, softmax(logits) / T,
which renormalisation undoes (and the rows no longer sum to 1)."""

LOSES = {"sampling_probs"}
HINT = "before the softmax"

import torch


def sampling_probs(logits, temperature=1.0, top_k=None, top_p=None):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    x = logits
    if top_k is not None:
        order = torch.sort(x, dim=-1, descending=True, stable=True).indices
        keep = torch.zeros_like(x, dtype=torch.bool).scatter(-1, order[..., :top_k], True)
        x = x.masked_fill(~keep, float("-inf"))
    if top_p is not None:
        sorted_x, order = torch.sort(x, dim=-1, descending=True, stable=True)
        probs = torch.softmax(sorted_x, dim=-1)
        drop = torch.zeros_like(x, dtype=torch.bool).scatter(-1, order, torch.cumsum(probs, -1) - probs >= top_p)
        x = x.masked_fill(drop, float("-inf"))
    return torch.softmax(x, dim=-1) / temperature
