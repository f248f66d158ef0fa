"""The model of the interpretability unit: a tiny 2-layer attention-only transformer.

Provided code (you do not write it, and the autograder uses this exact file). Read it: the
names below are what your functions hook and read.

    tokens [B, T] int64
      -> embed(tokens) + pos_embed(arange(T))         hook_embed       [B, T, d_model]
      -> for each block: resid = resid + attn(resid)   blocks[l] output [B, T, d_model]
      -> logits = resid @ W_U + b_U                                     [B, T, d_vocab]

There is no LayerNorm and no MLP, so the residual stream is a plain sum of the embedding,
every head's output and the output biases; that is what makes direct logit attribution exact.
Each attention layer has, per head h:

    q = resid @ W_Q[h], k = resid @ W_K[h], v = resid @ W_V[h]       [B, T, d_head]
    scores  = q k^T / sqrt(d_head), -inf above the diagonal (causal)  hook_scores  [B, H, T, T]
    pattern = softmax(scores over keys)                               hook_pattern [B, H, T, T]
    z       = pattern @ v                                             hook_z       [B, T, H, d_head]
    attn(resid) = sum_h z[:, :, h] @ W_O[h]  +  b_O                    [B, T, d_model]

`hook_*` are `nn.Identity` modules: a forward hook on one of them sees (and may replace) that
activation. `load_trained()` gives the model trained on repeated random sequences
(weights in interp_model.npz, made by make_weights.py).
"""

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

WEIGHTS = Path(__file__).resolve().with_suffix(".npz")
TRAINED_CONFIG = dict(d_vocab=48, n_ctx=64, d_model=64, n_heads=4, d_head=16, n_layers=2)


class Attention(nn.Module):
    """One causal multi-head attention layer, weights stored per head."""

    def __init__(self, d_model, n_heads, d_head):
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_head
        scale = 1 / math.sqrt(d_model)
        self.W_Q = nn.Parameter(torch.randn(n_heads, d_model, d_head) * scale)
        self.W_K = nn.Parameter(torch.randn(n_heads, d_model, d_head) * scale)
        self.W_V = nn.Parameter(torch.randn(n_heads, d_model, d_head) * scale)
        self.W_O = nn.Parameter(torch.randn(n_heads, d_head, d_model) / math.sqrt(n_heads * d_head))
        self.b_O = nn.Parameter(torch.randn(d_model) * 0.1)
        self.hook_scores = nn.Identity()  # [B, H, T, T] scaled, causally masked, before softmax
        self.hook_pattern = nn.Identity()  # [B, H, T, T] attention probabilities
        self.hook_z = nn.Identity()  # [B, T, H, d_head] each head's weighted values

    def forward(self, resid):  # resid [B, T, d_model]
        T = resid.shape[-2]
        q = torch.einsum("btd,hde->bhte", resid, self.W_Q)
        k = torch.einsum("btd,hde->bhte", resid, self.W_K)
        v = torch.einsum("btd,hde->bhte", resid, self.W_V)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)  # [B, H, T, T]
        future = torch.ones(T, T, dtype=torch.bool, device=resid.device).triu(1)
        scores = self.hook_scores(scores.masked_fill(future, float("-inf")))
        pattern = self.hook_pattern(torch.softmax(scores, dim=-1))
        z = self.hook_z((pattern @ v).transpose(1, 2))  # [B, T, H, d_head]
        return torch.einsum("bthe,hed->btd", z, self.W_O) + self.b_O


class Block(nn.Module):
    """resid -> resid + attn(resid): the block's output is the residual stream after it."""

    def __init__(self, d_model, n_heads, d_head):
        super().__init__()
        self.attn = Attention(d_model, n_heads, d_head)

    def forward(self, resid):
        return resid + self.attn(resid)


class AttnOnlyTransformer(nn.Module):
    """Token and position embeddings, `n_layers` attention-only blocks, an unembedding."""

    def __init__(self, d_vocab, n_ctx, d_model, n_heads, d_head, n_layers=2):
        super().__init__()
        self.d_vocab, self.n_ctx, self.d_model = d_vocab, n_ctx, d_model
        self.n_heads, self.d_head, self.n_layers = n_heads, d_head, n_layers
        self.embed = nn.Embedding(d_vocab, d_model)
        self.pos_embed = nn.Embedding(n_ctx, d_model)
        self.hook_embed = nn.Identity()  # [B, T, d_model] token + position embedding
        self.blocks = nn.ModuleList(Block(d_model, n_heads, d_head) for _ in range(n_layers))
        self.W_U = nn.Parameter(torch.randn(d_model, d_vocab) / math.sqrt(d_model))
        self.b_U = nn.Parameter(torch.randn(d_vocab) * 0.1)

    def forward(self, tokens):  # tokens [B, T] int64 -> logits [B, T, d_vocab]
        T = tokens.shape[-1]
        if T > self.n_ctx:
            raise ValueError(f"sequence length {T} exceeds n_ctx={self.n_ctx}")
        positions = torch.arange(T, device=tokens.device)
        resid = self.hook_embed(self.embed(tokens) + self.pos_embed(positions))
        for block in self.blocks:
            resid = block(resid)
        return resid @ self.W_U + self.b_U


def repeated_tokens(batch, seg_len, n_repeats=2, d_vocab=TRAINED_CONFIG["d_vocab"], generator=None):
    """[batch, seg_len * n_repeats] int64: a random segment of seg_len tokens, repeated.

    tokens[:, t] == tokens[:, t - seg_len] for every t >= seg_len.
    """
    segment = torch.randint(0, d_vocab, (batch, seg_len), generator=generator)
    return segment.repeat(1, n_repeats)


def load_trained(path=WEIGHTS):
    """The trained model (eval mode), from the .npz file of weights next to this file."""
    model = AttnOnlyTransformer(**TRAINED_CONFIG)
    with np.load(path, allow_pickle=False) as arrays:
        model.load_state_dict({name: torch.from_numpy(arrays[name]) for name in arrays.files})
    return model.eval()
