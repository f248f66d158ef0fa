"""Wrong: top-k by `logits < kth_largest` (nanoGPT's one-liner): every token tied with the k-th
is kept, so more than k on ties."""

LOSES = {"top_k_filter"}
HINT = "lower index"
SAMPLE = True  # the unit's sample wrong entry: graded in a Gradescope tree and both ways by the fast path

import torch


def top_k_filter(logits, k):
    if k < 1:
        raise ValueError("k must be at least 1")
    kth = torch.topk(logits, min(k, logits.shape[-1]), dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))
