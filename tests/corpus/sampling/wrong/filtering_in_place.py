"""Wrong: top-k writes -inf into the caller's logits (masked_fill_), changing its input."""

LOSES = {"top_k_filter"}
HINT = "in place"

import torch


def top_k_filter(logits, k):
    if k < 1:
        raise ValueError("k must be at least 1")
    order = torch.sort(logits, dim=-1, descending=True, stable=True).indices
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order[..., :k], True)
    return logits.masked_fill_(~keep, float("-inf"))
