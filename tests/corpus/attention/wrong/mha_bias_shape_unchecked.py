"""Bug: multi_head_attention checks its tensors but not the biases' shapes: a b_q of the wrong
size fails inside the broadcasting with a RuntimeError, not a ValueError."""

LOSES = {"multi_head_attention"}
HINT = "b_q must have shape"

import torch


def multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask=None,
                         b_q=None, b_k=None, b_v=None, b_o=None):
    _check_mha(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask, {})
    q = x_q @ W_q
    k = x_kv @ W_k
    v = x_kv @ W_v
    if b_q is not None:
        q = q + b_q
    if b_k is not None:
        k = k + b_k
    if b_v is not None:
        v = v + b_v
    if mask is not None:
        mask = mask.unsqueeze(-3)
    heads, _ = scaled_dot_product_attention(split_heads(q, n_heads), split_heads(k, n_heads),
                                            split_heads(v, n_heads), mask)
    out = merge_heads(heads) @ W_o
    if b_o is not None:
        out = out + b_o
    return out
