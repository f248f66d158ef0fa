"""Bug: padding_mask silently truncates a length larger than max_len instead of refusing it."""

LOSES = {"padding_mask"}
HINT = "larger than max_len"

import torch


def padding_mask(lengths, max_len):
    if not isinstance(lengths, torch.Tensor) or lengths.dim() != 1 or lengths.dtype == torch.bool \
            or lengths.is_floating_point():
        raise ValueError("lengths must be a 1-D integer tensor")
    _check_size(max_len, "max_len")
    if lengths.numel() and lengths.min() < 0:
        raise ValueError("lengths must be >= 0")
    return torch.arange(max_len).unsqueeze(0) < lengths.clamp(max=max_len).unsqueeze(1)
