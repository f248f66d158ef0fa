"""Wrong: top-k drops the k-th largest logit too (`<=` instead of `<`), keeping k - 1."""

LOSES = {"top_k_filter"}
HINT = "k largest"

import torch


def top_k_filter(logits, k):
    if k < 1:
        raise ValueError("k must be at least 1")
    kth = torch.topk(logits, min(k, logits.shape[-1]), dim=-1).values[..., -1:]
    return logits.masked_fill(logits <= kth, float("-inf"))
