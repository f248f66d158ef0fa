"""Wrong: the top-p tokens are zeroed in the softmax of all tokens instead of filtered before
it: the kept probabilities are not renormalised and sum to less than 1."""

LOSES = {"sampling_probs"}
HINT = "renormalise"

import torch


def sampling_probs(logits, temperature=1.0, top_k=None, top_p=None):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    x = logits / temperature
    if top_k is not None:
        order = torch.sort(x, dim=-1, descending=True, stable=True).indices
        keep = torch.zeros_like(x, dtype=torch.bool).scatter(-1, order[..., :top_k], True)
        x = x.masked_fill(~keep, float("-inf"))
    probs = torch.softmax(x, dim=-1)
    if top_p is not None:
        sorted_probs, order = torch.sort(probs, dim=-1, descending=True, stable=True)
        drop = torch.zeros_like(x, dtype=torch.bool).scatter(
            -1, order, torch.cumsum(sorted_probs, -1) - sorted_probs >= top_p)
        probs = probs.masked_fill(drop, 0.0)
    return probs
