"""Bug: multi-head attention written inline, scaling every head's scores by 1/sqrt(D) (the
model width) instead of 1/sqrt(D / n_heads) (the head width). The module calls it."""

LOSES = {"multi_head_attention"}
HINT = "sqrt(d_head)"

import math

import torch


def multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask=None,
                         b_q=None, b_k=None, b_v=None, b_o=None):
    D = W_q.shape[1]
    q = split_heads(x_q @ W_q + (0 if b_q is None else b_q), n_heads)
    k = split_heads(x_kv @ W_k + (0 if b_k is None else b_k), n_heads)
    v = split_heads(x_kv @ W_v + (0 if b_v is None else b_v), n_heads)
    scores = q @ k.transpose(-2, -1) / math.sqrt(D)
    weights = masked_softmax(scores, None if mask is None else mask.unsqueeze(-3))
    out = merge_heads(weights @ v) @ W_o
    return out if b_o is None else out + b_o
