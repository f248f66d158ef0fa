"""The model of the sampling notebook's key/value cache question (provided: read it, do not change it).

A small pre-LayerNorm GPT, the architecture of the gpt unit: token and learned positional
embeddings, `n_layers` blocks `x = x + attn(ln1(x))`, `x = x + mlp(ln2(x))`, a final `ln_f`
and an untied `lm_head`. Its `forward(idx)` runs the whole sequence; your `forward_cached`
uses the same modules (`model.tok_emb`, `model.pos_emb`, `block.ln1`, `block.attn.q_proj`, ...)
to run only the new tokens, given the keys and values of the earlier ones.

The grader builds this class itself (with weights it draws) in both processes, so changing
this file changes nothing in your grade.
"""

import math

import torch
from torch import nn


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.o_proj = nn.Linear(d_model, d_model)

    def split_heads(self, x):  # [B, T, D] -> [B, H, T, D/H]
        B, T, D = x.shape
        return x.view(B, T, self.n_heads, D // self.n_heads).transpose(1, 2)

    def forward(self, x):  # [B, T, D] -> [B, T, D]
        B, T, D = x.shape
        q, k, v = self.split_heads(self.q_proj(x)), self.split_heads(self.k_proj(x)), self.split_heads(self.v_proj(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(D // self.n_heads)  # [B, H, T, T]
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        weights = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
        return self.o_proj((weights @ v).transpose(1, 2).reshape(B, T, D))


class Block(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """`GPT(vocab_size, n_ctx, d_model, n_heads, n_layers)`; `forward(idx [B, T])` -> logits
    `[B, T, vocab_size]`, T <= n_ctx."""

    def __init__(self, vocab_size=11, n_ctx=16, d_model=16, n_heads=2, n_layers=2):
        super().__init__()
        self.n_ctx = n_ctx
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(n_ctx, d_model)
        self.blocks = nn.ModuleList([Block(d_model, n_heads) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)

    def forward(self, idx):
        B, T = idx.shape
        if T > self.n_ctx:
            raise ValueError(f"sequence length {T} exceeds n_ctx={self.n_ctx}")
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(T))
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))
