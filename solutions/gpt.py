"""Reference solution for the `gpt` unit: a GPT from scratch, trained to sort digits.

HIDDEN: this file is the grader's source of truth and is never shipped to students.
Docstrings are copied into the stub notebook by assignments/gpt/make_notebook.py, so they
are written for students; the code is not copied anywhere. The dataset code (everything
from "the toy task" on, except `train_sorter`) is given to students in the notebook.

nanoGPT style: one idea per function or class, shapes in comments. Pre-LayerNorm blocks,
exact GELU, causal self-attention, learned positional embeddings, an untied `lm_head`.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn

# -----------------------------------------------------------------------------
# functional pieces


def layer_norm(x, weight, bias, eps=1e-5):
    """LayerNorm over the last dimension of `x [..., D]`, then the affine map.

    `y = (x - mean) / sqrt(var + eps) * weight + bias`, where `mean` and `var` are taken over
    the last dimension and `var` is the *biased* variance (divide by D, not D - 1); `eps`
    goes *inside* the square root. `weight` and `bias` have shape `[D]`. Returns x's shape
    and dtype. Do not use torch.nn.functional.layer_norm or torch.nn.LayerNorm.
    """
    mean = x.mean(dim=-1, keepdim=True)  # [..., 1]
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)  # [..., 1], biased
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def gelu(x):
    """The exact GELU, `x * Phi(x)` with Phi the standard normal CDF:
    `0.5 * x * (1 + erf(x / sqrt(2)))`. Not the tanh approximation, not `x * sigmoid(1.702 x)`.
    Elementwise; returns x's shape and dtype. Do not use torch.nn.functional.gelu or nn.GELU.
    """
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def cross_entropy(logits, targets, ignore_index=-100):
    """Mean cross-entropy of `logits [..., V]` against integer `targets [...]` (int64).

    The loss at a position is `-log_softmax(logits)[target]`; positions whose target equals
    `ignore_index` count neither in the sum nor in the number of positions averaged over.
    At least one target is not ignored. Returns a 0-dim tensor of logits' dtype. Compute
    log-softmax stably (subtract the row maximum); do not use torch.nn.functional.cross_entropy,
    nll_loss, or any softmax / log_softmax function of torch.
    """
    logits = logits.reshape(-1, logits.shape[-1])  # [N, V]
    targets = targets.reshape(-1)  # [N]
    keep = targets != ignore_index  # [N]
    shifted = logits - logits.max(dim=-1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=-1, keepdim=True).log()  # [N, V]
    picked = log_probs.gather(-1, torch.where(keep, targets, 0).unsqueeze(-1)).squeeze(-1)  # [N]
    return -(picked * keep).sum() / keep.sum()


# -----------------------------------------------------------------------------
# the model


@dataclass
class GPTConfig:
    """The model's sizes, a dataclass with fields, in this order: `vocab_size`, `n_ctx` (the
    longest input), `d_model`, `n_heads`, `n_layers`, `d_mlp = None` (None means 4 * d_model,
    filled in by `__post_init__`) and `layer_norm_eps = 1e-5`. `d_model` must be divisible by
    `n_heads` (else ValueError)."""

    vocab_size: int
    n_ctx: int
    d_model: int
    n_heads: int
    n_layers: int
    d_mlp: int = None  # None: 4 * d_model
    layer_norm_eps: float = 1e-5

    def __post_init__(self):
        if self.d_mlp is None:
            self.d_mlp = 4 * self.d_model
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")


class LayerNorm(nn.Module):
    """`layer_norm` with a learned `weight` (ones) and `bias` (zeros) of shape `[d_model]`."""

    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x):
        return layer_norm(x, self.weight, self.bias, self.eps)


class MLP(nn.Module):
    """`fc_out(gelu(fc_in(x)))`: `fc_in = nn.Linear(d_model, d_mlp)`, `fc_out = nn.Linear(d_mlp, d_model)`."""

    def __init__(self, config):
        super().__init__()
        self.fc_in = nn.Linear(config.d_model, config.d_mlp)
        self.fc_out = nn.Linear(config.d_mlp, config.d_model)

    def forward(self, x):  # [B, T, D] -> [B, T, D]
        return self.fc_out(gelu(self.fc_in(x)))


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: `q_proj`, `k_proj`, `v_proj`, `o_proj`, each
    `nn.Linear(d_model, d_model)`; position i attends to positions j <= i only."""

    def __init__(self, config):
        super().__init__()
        self.n_heads = config.n_heads
        self.q_proj = nn.Linear(config.d_model, config.d_model)
        self.k_proj = nn.Linear(config.d_model, config.d_model)
        self.v_proj = nn.Linear(config.d_model, config.d_model)
        self.o_proj = nn.Linear(config.d_model, config.d_model)

    def forward(self, x):  # [B, T, D] -> [B, T, D]
        B, T, D = x.shape
        H = self.n_heads

        def heads(t):  # [B, T, D] -> [B, H, T, D/H]
            return t.view(B, T, H, D // H).transpose(1, 2)

        q, k, v = heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(D // H)  # [B, H, T, T]
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        scores = scores.masked_fill(~causal, float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # every row keeps its diagonal: no NaN
        out = (weights @ v).transpose(1, 2).reshape(B, T, D)  # merge heads
        return self.o_proj(out)


class Block(nn.Module):
    """A pre-LayerNorm block: `x = x + attn(ln1(x))`, then `x = x + mlp(ln2(x))`."""

    def __init__(self, config):
        super().__init__()
        self.ln1 = LayerNorm(config.d_model, config.layer_norm_eps)
        self.attn = CausalSelfAttention(config)
        self.ln2 = LayerNorm(config.d_model, config.layer_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x):  # [B, T, D], the residual stream
        x = x + self.attn(self.ln1(x))
        x = x + self.mlp(self.ln2(x))
        return x


class GPT(nn.Module):
    """A decoder-only transformer: token + positional embeddings, `n_layers` blocks, a final
    LayerNorm `ln_f`, and `lm_head = nn.Linear(d_model, vocab_size, bias=False)` (not tied to
    `tok_emb`); the config is kept as `self.config`. `forward(idx [B, T] int64)` returns logits
    `[B, T, vocab_size]`; `T > n_ctx` raises ValueError."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.n_ctx, config.d_model)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layers)])
        self.ln_f = LayerNorm(config.d_model, config.layer_norm_eps)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module):  # as GPT-2: small normal weights, zero biases
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx):  # [B, T] -> [B, T, V]
        B, T = idx.shape
        if T > self.config.n_ctx:
            raise ValueError(f"sequence length {T} exceeds n_ctx={self.config.n_ctx}")
        positions = torch.arange(T, device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(positions)  # [B, T, D]
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))


@torch.no_grad()
def generate(model, idx, max_new_tokens, temperature=0.0, generator=None):
    """Extend `idx [B, T]` by `max_new_tokens` tokens, one at a time; returns `[B, T + max_new_tokens]`.

    Each step feeds the last `model.config.n_ctx` tokens at most (crop the context: the
    model refuses longer inputs) and looks at the logits of the last position. At
    `temperature == 0` pick the argmax (greedy); otherwise sample from
    `softmax(logits / temperature)` with `torch.multinomial(..., generator=generator)`.
    """
    for _ in range(max_new_tokens):
        context = idx[:, -model.config.n_ctx:]  # [B, <= n_ctx]
        logits = model(context)[:, -1, :]  # [B, V]
        if temperature == 0:
            next_token = logits.argmax(dim=-1, keepdim=True)  # [B, 1]
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            next_token = torch.multinomial(probs, 1, generator=generator)
        idx = torch.cat([idx, next_token], dim=1)
    return idx


# -----------------------------------------------------------------------------
# training on the toy task. The task itself (SORT_LENGTH, SORT_DIGITS, sort_sizes, SORT_CONFIG,
# sort_batch, sort_accuracy) is public: it is given to students in the notebook, from
# assignments/gpt/gpt_public.py, and is not repeated here.


def train_sorter(steps=600, seed=0, length=6, digits=10):
    """Train a `GPT(GPTConfig(**sort_sizes(length, digits)))` on batches from
    `sort_batch(..., length=length, digits=digits)` and return `(model, losses)`.

    `losses` is the list of training losses, one float per optimisation step. Seed torch
    with `seed` first. The grader calls `train_sorter(length=..., digits=...)` with a task it
    draws (lengths in SORT_LENGTHS, digit counts in SORT_DIGIT_COUNTS) inside a CPU-time budget
    (see the notebook), loads the returned model's `state_dict` into its own GPT and measures
    how many sequences of that task, drawn by the grader, it sorts exactly.
    """
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**sort_sizes(length, digits)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    # warm up for 10% of the steps, then anneal: a high rate early, a fine one at the end
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    losses = []
    model.train()
    for _ in range(steps):
        inputs, targets = sort_batch(64, length=length, digits=digits)
        loss = cross_entropy(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    model.eval()
    return model, losses
