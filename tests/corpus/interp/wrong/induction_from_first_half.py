"""Wrong: the induction score averaged from query seg_len - 1, still in the first occurrence."""

LOSES = {"induction_scores"}
HINT = "averaged from query seg_len - 1"

import torch


def induction_scores(patterns, seg_len):
    T = patterns.shape[-1]
    if not isinstance(seg_len, int) or not 1 <= seg_len < T:
        raise ValueError("need 1 <= seg_len < T")
    t = torch.arange(seg_len - 1, T)
    return patterns[..., t, t - seg_len + 1].mean(dim=(0, -1))
