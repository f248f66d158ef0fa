"""Bug: keys and values are computed from x_q instead of x_kv. Invisible in self-attention
(the module passes x twice); cross-attention gets wrong values."""

LOSES = {"multi_head_attention"}
HINT = "keys and values computed from x_q"

import torch


def multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask=None,
                         b_q=None, b_k=None, b_v=None, b_o=None):
    q = x_q @ W_q + (0 if b_q is None else b_q)
    k = x_q @ W_k + (0 if b_k is None else b_k)
    v = x_q @ W_v + (0 if b_v is None else b_v)
    if mask is not None:
        mask = mask.unsqueeze(-3)
    heads, _ = scaled_dot_product_attention(split_heads(q, n_heads), split_heads(k, n_heads),
                                            split_heads(v, n_heads), mask)
    out = merge_heads(heads) @ W_o
    return out if b_o is None else out + b_o
