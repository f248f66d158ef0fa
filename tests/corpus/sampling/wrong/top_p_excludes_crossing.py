"""Wrong: nucleus filtering drops the token whose probability crosses p (it keeps only tokens
whose running sum, themselves included, stays <= p; the top token always stays)."""

LOSES = {"top_p_filter"}
HINT = "reach or cross p"

import torch


def top_p_filter(logits, p):
    if not 0 < p <= 1:
        raise ValueError("p must be in (0, 1]")
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)
    cumulative = torch.cumsum(torch.softmax(sorted_logits, dim=-1), dim=-1)
    drop_sorted = cumulative > p
    drop_sorted[..., 0] = False
    drop = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))
