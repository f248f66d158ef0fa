"""Correct: einsum attention with a fused causal bias, layer norm and cross-entropy computed in
float64 and cast back, GELU through torch.special.ndtr, generate cropping with narrow()."""

import math
from dataclasses import dataclass, field

import torch
from torch import nn


def layer_norm(x, weight, bias, eps=1e-5):
    x64 = x.double()
    centred = x64 - x64.mean(dim=-1, keepdim=True)
    var = centred.pow(2).sum(dim=-1, keepdim=True) / x.shape[-1]
    return (centred / (var + eps).sqrt() * weight.double() + bias.double()).to(x.dtype)


def gelu(x):
    return x * torch.special.ndtr(x)


def cross_entropy(logits, targets, ignore_index=-100):
    flat = logits.reshape(-1, logits.shape[-1]).double()
    t = targets.reshape(-1)
    keep = (t != ignore_index).nonzero().squeeze(-1)
    rows = flat[keep]
    m = rows.max(dim=-1, keepdim=True).values
    lse = m.squeeze(-1) + (rows - m).exp().sum(-1).log()
    nll = lse - rows.gather(1, t[keep].unsqueeze(1)).squeeze(1)
    return nll.mean().to(logits.dtype)


@dataclass
class GPTConfig:
    vocab_size: int
    n_ctx: int
    d_model: int
    n_heads: int
    n_layers: int
    d_mlp: int | None = None
    layer_norm_eps: float = 1e-5

    def __post_init__(self):
        self.d_mlp = self.d_mlp or 4 * self.d_model
        if self.d_model % self.n_heads:
            raise ValueError("n_heads must divide d_model")


class LayerNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))
        self.eps = eps

    def forward(self, x):
        return layer_norm(x, self.weight, self.bias, self.eps)


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.fc_in = nn.Linear(config.d_model, config.d_mlp)
        self.fc_out = nn.Linear(config.d_mlp, config.d_model)

    def forward(self, x):
        return self.fc_out(gelu(self.fc_in(x)))


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.h = config.n_heads
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            setattr(self, name, nn.Linear(config.d_model, config.d_model))

    def forward(self, x):
        b, t, d = x.shape
        split = lambda y: y.reshape(b, t, self.h, d // self.h)
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        bias = torch.full((t, t), float("-inf")).triu(1)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) * (d // self.h) ** -0.5 + bias
        weights = torch.softmax(scores, dim=-1)
        return self.o_proj(torch.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln1, self.ln2 = LayerNorm(config.d_model, config.layer_norm_eps), LayerNorm(config.d_model, config.layer_norm_eps)
        self.attn, self.mlp = CausalSelfAttention(config), MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.n_ctx, config.d_model)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layers)])
        self.ln_f = LayerNorm(config.d_model, config.layer_norm_eps)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)

    def forward(self, idx):
        t = idx.size(1)
        if t > self.config.n_ctx:
            raise ValueError(f"T={t} > n_ctx={self.config.n_ctx}")
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(t))[None]
        for blk in self.blocks:
            x = blk(x)
        return self.lm_head(self.ln_f(x))


@torch.no_grad()
def generate(model, idx, max_new_tokens, temperature=0.0, generator=None):
    for _ in range(max_new_tokens):
        start = max(0, idx.size(1) - model.config.n_ctx)
        logits = model(idx.narrow(1, start, idx.size(1) - start))[:, -1, :]
        if temperature:
            nxt = torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=generator)
        else:
            nxt = logits.max(dim=-1, keepdim=True).indices
        idx = torch.cat([idx, nxt], 1)
    return idx


def train_sorter(steps=600, seed=0, length=6, digits=10):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**sort_sizes(length, digits)))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(steps):
        x, y = sort_batch(64, length=length, digits=digits)
        loss = cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return model, losses
