"""Reference solution for the `sampling` unit: from a model's logits to a sampled token.

HIDDEN: this file is the grader's source of truth and is never shipped to students.
Docstrings are copied into the stub notebook by assignments/sampling/make_notebook.py, so they
are written for students; the code is not copied anywhere.

nanoGPT style: logits [B, V] in, a new tensor out; filtered logits are -inf, never a large
negative number; nothing is changed in place.
"""

import math

import torch


def apply_temperature(logits, temperature):
    """Scale `logits [..., V]` by the temperature: returns `logits / temperature`, a new tensor
    of logits' shape and dtype. The temperature divides the LOGITS, before any softmax
    (dividing probabilities afterwards changes nothing once they are renormalised).
    `temperature <= 0` raises ValueError (greedy decoding is an argmax, not a temperature)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return logits / temperature


def top_k_filter(logits, k):
    """Keep the `k` largest logits of each row of `logits [..., V]` and set every other entry to
    `-inf`; returns a new tensor (the input is not changed). Exactly `min(k, V)` entries per row
    are kept: among equal logits the one of LOWER index is kept first (as a stable sort in
    descending order ranks them). `k < 1` raises ValueError."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    order = torch.sort(logits, dim=-1, descending=True, stable=True).indices  # [..., V]
    ranks = torch.empty_like(order).scatter_(-1, order, torch.arange(logits.shape[-1]).expand_as(order))
    return logits.masked_fill(ranks >= k, float("-inf"))


def top_p_filter(logits, p):
    """Nucleus filtering of `logits [..., V]`: keep the smallest set of most probable tokens
    whose probabilities (softmax of the row) sum to at least `p`, and set the others to `-inf`;
    returns a new tensor. Tokens are taken in decreasing probability (equal ones: lower index
    first), and the token whose probability makes the running sum reach or cross `p` is KEPT:
    a token is dropped only if the tokens before it already sum to `p` or more. So the most
    probable token is always kept. `-inf` logits (already filtered) have probability 0.
    `p` outside `(0, 1]` raises ValueError."""
    if not 0 < p <= 1:
        raise ValueError(f"p must be in (0, 1], got {p}")
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    before = torch.cumsum(probs, dim=-1) - probs  # the mass of the tokens ranked above each one
    drop_sorted = before >= p
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def sampling_probs(logits, temperature=1.0, top_k=None, top_p=None):
    """The distribution a token is sampled from: `softmax` over the last dimension of `logits
    [..., V]` after, in this order, `apply_temperature`, then `top_k_filter` (if `top_k` is not
    None), then `top_p_filter` (if `top_p` is not None, on the tempered, top-k-filtered logits).
    Filtered tokens get probability exactly 0 and each row sums to 1 (renormalised over the
    kept tokens). Returns a new tensor of logits' shape and dtype."""
    logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return torch.softmax(logits, dim=-1)


def sample(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """Draw one token per row of `logits [B, V]` from `sampling_probs(logits, temperature,
    top_k, top_p)`; returns an int64 tensor `[B, 1]` (as `torch.multinomial(probs, 1)` does),
    rows drawn independently. Every random number comes from `generator` (a torch.Generator,
    or None for torch's global one): the same generator state gives the same tokens. Any
    correct way of drawing is accepted (torch.multinomial, inverse CDF, Gumbel-max): the
    grader tests the distribution of many samples, not the tokens one by one."""
    probs = sampling_probs(logits, temperature, top_k, top_p)
    return torch.multinomial(probs, num_samples=1, generator=generator)


# -----------------------------------------------------------------------------
# incremental decoding, for the provided sampling_model.GPT


def forward_cached(model, idx, cache=None):
    """Run only the NEW tokens `idx [B, T_new]` through `model` (a `sampling_model.GPT`), given
    `cache`, the keys and values of the `T_past` tokens before them; returns `(logits [B, T_new,
    vocab_size], new_cache)`, the logits equal to `model(whole sequence)[:, -T_new:]`.

    A cache is a list with one `(k, v)` tuple per block, each `[B, n_heads, T, d_head]` (the
    heads split as `attn.split_heads` does); `None` means no earlier tokens (T_past = 0).
    `new_cache` holds every position's keys and values: the old ones, then the new ones,
    appended along the time axis (dim 2). The new tokens sit at positions `T_past ... T_past +
    T_new - 1` (their positional embeddings continue after the cached tokens), and new token i
    attends to every cached position and to the new ones up to itself. Return a new list;
    never change `cache` or its tensors in place. `T_past + T_new > model.n_ctx` raises
    ValueError."""
    B, T = idx.shape
    past = 0 if cache is None else cache[0][0].shape[2]
    if past + T > model.n_ctx:
        raise ValueError(f"{past} cached + {T} new tokens exceed n_ctx={model.n_ctx}")
    x = model.tok_emb(idx) + model.pos_emb(torch.arange(past, past + T))  # [B, T, D]
    new_cache = []
    for layer, block in enumerate(model.blocks):
        attn, h = block.attn, block.ln1(x)
        q, k, v = attn.split_heads(attn.q_proj(h)), attn.split_heads(attn.k_proj(h)), attn.split_heads(attn.v_proj(h))
        if cache is not None:
            k = torch.cat([cache[layer][0], k], dim=2)  # [B, H, past + T, d_head]
            v = torch.cat([cache[layer][1], v], dim=2)
        new_cache.append((k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # [B, H, T, past + T]
        visible = torch.arange(past + T)[None, :] <= torch.arange(past, past + T)[:, None]
        weights = torch.softmax(scores.masked_fill(~visible, float("-inf")), dim=-1)
        x = x + attn.o_proj((weights @ v).transpose(1, 2).reshape(B, T, -1))
        x = x + block.mlp(block.ln2(x))
    return model.lm_head(model.ln_f(x)), new_cache
