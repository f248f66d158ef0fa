"""Wrong: the previous-token score read off the main diagonal (i, i) instead of (i, i - 1)."""

LOSES = {"prev_token_scores"}
HINT = "you read the main diagonal"

import torch


def prev_token_scores(patterns):
    T = patterns.shape[-1]
    if T < 2:
        raise ValueError("T must be >= 2")
    i = torch.arange(1, T)
    return patterns[..., i, i].mean(dim=(0, -1))
