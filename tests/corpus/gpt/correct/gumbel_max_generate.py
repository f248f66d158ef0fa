"""Correct: correct/plain.py with a Gumbel-max sampler in `generate` instead of torch.multinomial
(other tokens from the same seed, the same distribution: the distribution check accepts it)."""

import math
from dataclasses import dataclass

import torch
from torch import nn


def layer_norm(x, weight, bias, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    return weight * (x - mu) * torch.rsqrt(var + eps) + bias


def gelu(x):
    return x * 0.5 * (1 + torch.erf(x * (1 / math.sqrt(2))))


def cross_entropy(logits, targets, ignore_index=-100):
    logits = logits.flatten(0, -2)
    targets = targets.flatten()
    kept = targets != ignore_index
    logits, targets = logits[kept], targets[kept]
    log_norm = torch.logsumexp(logits, dim=-1)
    picked = logits[torch.arange(len(targets)), targets]
    return (log_norm - picked).mean()


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
            self.d_mlp = 4 * self.d_model
        if self.d_model % self.n_heads != 0:
            raise ValueError("d_model must be divisible by n_heads")


class LayerNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))
        self.eps = eps

    def forward(self, x):
        return layer_norm(x, self.weight, self.bias, eps=self.eps)


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.fc_in = nn.Linear(config.d_model, config.d_mlp)
        self.fc_out = nn.Linear(config.d_mlp, config.d_model)

    def forward(self, x):
        h = gelu(self.fc_in(x))
        return self.fc_out(h)


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        d = config.d_model
        self.n_heads = config.n_heads
        self.q_proj, self.k_proj = nn.Linear(d, d), nn.Linear(d, d)
        self.v_proj, self.o_proj = nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        t = x.shape[-2]
        q, k, v = (p(x).unflatten(-1, (self.n_heads, -1)).transpose(-3, -2)
                   for p in (self.q_proj, self.k_proj, self.v_proj))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        future = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        weights = scores.masked_fill(future, -math.inf).softmax(-1)
        out = (weights @ v).transpose(-3, -2).flatten(-2)
        return self.o_proj(out)


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln1 = LayerNorm(config.d_model, config.layer_norm_eps)
        self.attn = CausalSelfAttention(config)
        self.ln2 = LayerNorm(config.d_model, config.layer_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x):
        h = x + self.attn(self.ln1(x))
        return h + self.mlp(self.ln2(h))


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.n_ctx, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = LayerNorm(config.d_model, config.layer_norm_eps)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx):
        if idx.shape[1] > self.config.n_ctx:
            raise ValueError("input longer than n_ctx")
        h = self.tok_emb(idx) + self.pos_emb.weight[: idx.shape[1]]
        for block in self.blocks:
            h = block(h)
        return self.lm_head(self.ln_f(h))


def generate(model, idx, max_new_tokens, temperature=0.0, generator=None):
    out = idx
    with torch.no_grad():
        for _ in range(max_new_tokens):
            last = model(out[:, -model.config.n_ctx:])[:, -1]
            if temperature == 0:
                nxt = torch.argmax(last, dim=-1, keepdim=True)
            else:
                # Gumbel-max: argmax(logits / T + Gumbel noise) is a sample of softmax(logits / T)
                u = torch.rand(last.shape, generator=generator, dtype=torch.float64).clamp(1e-300, 1 - 1e-16)
                nxt = (last.double() / temperature - torch.log(-torch.log(u))).argmax(dim=-1, keepdim=True)
            out = torch.cat((out, nxt), dim=1)
    return out


def train_sorter(steps=600, seed=0, length=6, digits=10):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**sort_sizes(length, digits)))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    losses = []
    for step in range(steps):
        warm = min(1.0, (step + 1) / (steps // 10))
        for group in opt.param_groups:
            group["lr"] = 3e-3 * warm * 0.5 * (1 + math.cos(math.pi * step / steps))
        x, y = sort_batch(64, length=length, digits=digits)
        loss = cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses
