"""Bug: a banned call: attention is torch's own F.scaled_dot_product_attention (imported under
another name), with its NaN rows patched. Every question whose code calls it fails."""

LOSES = {"scaled_dot_product_attention"}
HINT = "called torch.nn.functional.scaled_dot_product_attention"

import math

import torch
from torch.nn.functional import scaled_dot_product_attention as _fast_attention


def scaled_dot_product_attention(q, k, v, mask=None):
    out = _fast_attention(q, k, v, attn_mask=mask).nan_to_num(0.0)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return out, masked_softmax(scores, mask)
