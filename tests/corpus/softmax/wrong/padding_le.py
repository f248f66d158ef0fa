"""Bug: padding mask off by one: t <= lengths[b] keeps one padding position per row."""

LOSES = {"padding_mask"}
HINT = "t < lengths[b]"

import torch


def padding_mask(lengths, max_len):
    return torch.arange(max_len, device=lengths.device)[None, :] <= lengths[:, None]
