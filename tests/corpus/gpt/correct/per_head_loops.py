"""Correct: attention computed head by head in a Python loop with an explicit masked softmax,
layer norm with a two-pass variance, cross-entropy through one-hot vectors, generate that
re-crops with a negative-index slice and uses torch.max."""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn


def layer_norm(x, weight, bias, eps=1e-5):
    n = x.shape[-1]
    mean = x.sum(-1, keepdim=True) / n
    var = ((x - mean) * (x - mean)).sum(-1, keepdim=True) / n
    return (x - mean) / (var + eps) ** 0.5 * weight + bias


def gelu(x):
    return x * (1.0 + torch.erf(x / 2**0.5)) / 2


def cross_entropy(logits, targets, ignore_index=-100):
    v = logits.shape[-1]
    logits, targets = logits.reshape(-1, v), targets.reshape(-1)
    mask = (targets != ignore_index).to(logits.dtype)
    safe = targets.clamp(min=0, max=v - 1) * (targets != ignore_index)
    z = logits - logits.amax(-1, keepdim=True)
    logp = z - torch.log(torch.exp(z).sum(-1, keepdim=True))
    onehot = torch.nn.functional.one_hot(safe, v).to(logits.dtype)
    per_position = -(logp * onehot).sum(-1)
    return (per_position * mask).sum() / mask.sum()


@dataclass
class GPTConfig:
    vocab_size: int
    n_ctx: int
    d_model: int
    n_heads: int
    n_layers: int
    d_mlp: int = None
    layer_norm_eps: float = 1e-5

    def __post_init__(self):
        if self.d_mlp is None:
            self.d_mlp = self.d_model * 4
        if self.d_model % self.n_heads:
            raise ValueError("d_model % n_heads != 0")


class LayerNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))

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
        self.n_heads = config.n_heads
        self.q_proj = nn.Linear(config.d_model, config.d_model)
        self.k_proj = nn.Linear(config.d_model, config.d_model)
        self.v_proj = nn.Linear(config.d_model, config.d_model)
        self.o_proj = nn.Linear(config.d_model, config.d_model)

    def forward(self, x):
        T, D = x.shape[1], x.shape[2]
        dh = D // self.n_heads
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        allowed = torch.arange(T)[None, :] <= torch.arange(T)[:, None]
        outs = []
        for h in range(self.n_heads):
            sl = slice(h * dh, (h + 1) * dh)
            s = q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(dh)
            s = torch.where(allowed, s, torch.tensor(float("-inf")))
            e = torch.exp(s - s.max(-1, keepdim=True).values)
            outs.append((e / e.sum(-1, keepdim=True)) @ v[..., sl])
        return self.o_proj(torch.cat(outs, dim=-1))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln1 = LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.attn = CausalSelfAttention(config)
        self.ln2 = LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x):
        x = self.attn(self.ln1(x)) + x
        x = self.mlp(self.ln2(x)) + x
        return x


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.n_ctx, config.d_model)
        self.blocks = nn.ModuleList()
        for _ in range(config.n_layers):
            self.blocks.append(Block(config))
        self.ln_f = LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)

    def forward(self, idx):
        if idx.shape[-1] > self.config.n_ctx:
            raise ValueError("too long")
        pos = torch.arange(idx.shape[-1], device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def generate(model, idx, max_new_tokens, temperature=0.0, generator=None):
    seq = idx.clone()
    for _ in range(max_new_tokens):
        with torch.no_grad():
            logits = model(seq[:, -model.config.n_ctx:])
        step = logits[:, -1, :]
        if temperature == 0.0:
            token = torch.max(step, dim=-1).indices.unsqueeze(-1)
        else:
            token = torch.multinomial(torch.softmax(step / temperature, dim=-1), 1, generator=generator)
        seq = torch.cat([seq, token], dim=-1)
    return seq


def train_sorter(steps=600, seed=0, length=6, digits=10):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**sort_sizes(length, digits)))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.LinearLR(opt, 1.0, 0.05, total_iters=steps)
    losses = []
    for _ in range(steps):
        x, y = sort_batch(64, length=length, digits=digits)
        loss = cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return model, losses
