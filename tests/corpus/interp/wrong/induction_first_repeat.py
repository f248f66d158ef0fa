"""Wrong: the induction offset measured from the first repeat (key t % seg_len + 1) instead of
the most recent earlier occurrence; the same with two repeats, wrong with three or more."""

LOSES = {"induction_scores"}
HINT = "most recent earlier occurrence"

import torch


def induction_scores(patterns, seg_len):
    T = patterns.shape[-1]
    if not isinstance(seg_len, int) or not 1 <= seg_len < T:
        raise ValueError("need 1 <= seg_len < T")
    t = torch.arange(seg_len, T)
    return patterns[..., t, t % seg_len + 1].mean(dim=(0, -1))
