"""Wrong: the induction score read at key t - seg_len (the earlier copy of the same token,
a duplicate-token head) instead of the token after it, t - seg_len + 1."""

LOSES = {"induction_scores"}
HINT = "duplicate-token head"

import torch


def induction_scores(patterns, seg_len):
    T = patterns.shape[-1]
    if not isinstance(seg_len, int) or not 1 <= seg_len < T:
        raise ValueError("need 1 <= seg_len < T")
    t = torch.arange(seg_len, T)
    return patterns[..., t, t - seg_len].mean(dim=(0, -1))
