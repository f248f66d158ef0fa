"""The prose of the student notebook attention.ipynb (instructors only); notebook_kit.py makes the
stubs and the closing cells.
`make notebooks` (or .venv/bin/python assignments/attention/make_notebook.py) writes it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from notebook_kit import code, finish, md, question, stubs, submitting, write  # noqa: E402


def build():
    s = stubs("attention")
    cells = []

    # ------------------------------------------------------------------ introduction
    cells += [
        md(r"""
# Attention

An attention head lets every position of a sequence **look at** other positions and pull
information from them. It is the only place in a transformer where positions talk to each
other: everything else (the MLPs, the layer norms) works on each position separately. In
this notebook you build attention from the bottom up, the way it is written in GPT-2,
nanoGPT and most modern models:

| question | what you write | what it does |
|---|---|---|
| 1 | `scaled_dot_product_attention(q, k, v, mask=None)` | one attention head: weights and output |
| 2 | `split_heads(x, n_heads)` | cut the features into heads: `[..., T, D] → [..., H, T, D/H]` |
| 3 | `merge_heads(x)` | glue the heads back: `[..., H, T, d] → [..., T, H·d]` |
| 4 | `multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, ...)` | projections, heads, self- and cross-attention |
| 5 | `class MultiHeadSelfAttention(nn.Module)` | the attention layer of a GPT block, as a module |

**Conventions** (the same in every unit of this course):

- Tensors are `torch.Tensor`; every function accepts any number of leading batch
  dimensions and returns the input's dtype and device.
- Never modify an input in place (`q / s`, not `q /= s`; `masked_fill`, not `masked_fill_`).
- Masks are `torch.bool` and **True means "may attend"** (keep).
- A query whose every key is masked out gets **all-zero** weights and an all-zero
  attention output, never `NaN`.
- Results stay finite for float32 scores as large as `1e4` in magnitude.
- Invalid arguments raise `ValueError` with a message that names the problem. Each
  docstring lists exactly which arguments are invalid.

**Banned calls.** The point is to build attention yourself, so the grader fails a question
(and tells you why) if your code calls `torch.nn.functional.scaled_dot_product_attention`,
`torch.nn.MultiheadAttention` or `torch.nn.functional.multi_head_attention_forward`.
Everything else in torch is fair game, `torch.softmax` included (you wrote your own in the
softmax unit; here it is allowed).

**Checking your work.** After each question, `grader.check("<question>")` runs the
*public checks*: worked examples whose answers are printed in this notebook, plus
properties every correct answer has (weights are distributions, a causal model cannot see
the future, reordering the keys changes nothing, ...), tried on many small random inputs.
When a check fails it shows you a small input that fails it. The autograder then compares
your code with a reference solution on many more inputs (other shapes and dtypes,
`Lq != Lk`, `d_k != d_v`, several heads, broadcast masks, fully masked rows, biases, large
scores), so passing the public checks is necessary, not sufficient: read the docstrings
carefully.

Run the next cell first.
"""),
        code("""
import otter
grader = otter.Notebook("attention.ipynb")

import math

import matplotlib.pyplot as plt
import torch
from torch import nn
"""),
        md(r"""
### A helper from the softmax unit

Attention normalises its scores with a **masked softmax**, which you wrote in the softmax
unit. So that this unit does not depend on how that one went, here is a working version.
Use it in your code (or replace it with your own, keeping the same behaviour). It
normalises over the last dimension, gives masked positions exactly 0, and gives a row
whose every position is masked all zeros instead of `NaN`. It is not graded, but your
graded functions may call it: the autograder runs your whole notebook, this cell included.
"""),
        code("""
def masked_softmax(scores, mask=None):
    \"\"\"Softmax of `scores` over the last dimension, over the positions where `mask` is True.

    mask: None (keep everything) or a torch.bool tensor that broadcasts to scores' shape.
    Masked positions get exactly 0; a row with no kept position is all zeros (not NaN).
    \"\"\"
    if mask is None:
        return torch.softmax(scores, dim=-1)
    hidden = scores.masked_fill(~mask, float("-inf"))   # exp(-inf) = 0: no weight, not in the sum
    probs = torch.softmax(hidden, dim=-1)               # a row of all -inf comes out NaN...
    return probs.masked_fill(~mask, 0.0)                # ...and is all masked, so it becomes zeros


print(masked_softmax(torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]),
                     torch.tensor([[True, False, True], [False, False, False]])))
"""),
    ]

    # ------------------------------------------------------------------ 1. attention
    cells += [
        md(r"""
## 1. Queries, keys and values

Think of attention as a **soft dictionary lookup**. Every position $j$ publishes a
**key** $k_j$ (what it contains, as a vector of $d_k$ numbers) and a **value** $v_j$ (what
it will hand over if asked, $d_v$ numbers). Every position $i$ that wants information
sends a **query** $q_i$ (what it is looking for, $d_k$ numbers, like the keys). The query
is compared with every key by a dot product, the scores go through a softmax, and the
query gets back the weighted average of the values:

$$\text{score}_{ij} = \frac{q_i \cdot k_j}{\sqrt{d_k}}, \qquad
w_{ij} = \frac{e^{\text{score}_{ij}}}{\sum_{j'} e^{\text{score}_{ij'}}}, \qquad
\text{out}_i = \sum_j w_{ij}\, v_j .$$

In matrix form, with `q` of shape `[Lq, d_k]`, `k` of shape `[Lk, d_k]` and `v` of shape
`[Lk, d_v]`:

```
scores  = q @ k.T / sqrt(d_k)        [Lq, Lk]    one row per query, one column per key
weights = softmax(scores, over keys) [Lq, Lk]    each row sums to 1
out     = weights @ v                [Lq, d_v]   each row: a weighted average of v's rows
```

There are `Lq` queries and `Lk` keys, and nothing says `Lq = Lk` (in cross-attention, or
when generating with a cache, they differ), nor `d_k = d_v`. Batch dimensions in front
(`[B, Lq, d_k]`, `[B, H, Lq, d_k]`, ...) just come along: `@` and `transpose(-2, -1)`
work on the last two dimensions.

### Why divide by $\sqrt{d_k}$?

If the entries of $q$ and $k$ are roughly independent with variance 1, then $q \cdot k$
is a sum of $d_k$ such products: its variance is $d_k$, its typical size $\sqrt{d_k}$. A
head with 64 features would produce scores of size ~8, a softmax of them is almost
one-hot, and a one-hot softmax has almost zero gradient: the head stops learning.
Dividing by $\sqrt{d_k}$ brings the scores back to size ~1 whatever the head size.
"""),
        code("""
torch.manual_seed(0)
for d_k in (4, 64, 1024):
    q, k = torch.randn(2000, d_k), torch.randn(2000, d_k)
    dots = (q * k).sum(dim=-1)
    print(f"d_k = {d_k:4d}:  std of q.k = {dots.std():6.2f}   std of q.k / sqrt(d_k) = {(dots / math.sqrt(d_k)).std():.2f}")

scores = torch.randn(8) * math.sqrt(1024)            # unscaled scores of a 1024-feature head
print("softmax of unscaled scores:", torch.softmax(scores, dim=-1).numpy().round(3))
print("softmax of scaled scores:  ", torch.softmax(scores / math.sqrt(1024), dim=-1).numpy().round(3))
"""),
        md(r"""
### Masks

A mask says which keys each query may attend to: `mask[..., i, j]` is True when query $i$
may look at key $j$. Masked keys get weight **exactly 0**, and the kept ones share the
whole weight (sum to 1): the mask goes into the softmax, **before** the normalisation,
not onto its result. Masks broadcast against the scores `[..., Lq, Lk]`:

- a **causal** mask `[Lq, Lk]`, the same for every sequence of the batch: a GPT's query
  $i$ may see the keys $j \le i$ only (it must predict token $i+1$ without peeking);
- a **padding** mask `[B, 1, Lk]`: sequence $b$'s queries may not attend to its padding
  tokens, whatever the query (the `1` broadcasts over the queries).

A query may end up with **no** key at all (a sequence that is all padding, say). Its
weights are then all zeros and its output is zero, not `NaN` (`masked_softmax` above does
this for you).

**Worked examples** (the public checks use these). With

```
q = [[1., 0., 1., 0.]]                                          # 1 query,  d_k = 4
k = [[1., 1., 1., 1.], [1., 0., -1., 0.], [0., 0., 0., 0.]]     # 3 keys
v = [[1., 0.], [0., 1.], [0., 0.]]                              # 3 values, d_v = 2
```

the scores are `q @ k.T / sqrt(4) = [2, 0, 0] / 2 = [1, 0, 0]`, so:

| mask | weights | out |
|---|---|---|
| `None` | `[[0.5761, 0.2119, 0.2119]]` | `[[0.5761, 0.2119]]` |
| `[[True, False, True]]` | `[[0.7311, 0.0, 0.2689]]` | `[[0.7311, 0.0]]` |
| `[[False, False, False]]` | `[[0.0, 0.0, 0.0]]` | `[[0.0, 0.0]]` |

**Question 1.** Implement `scaled_dot_product_attention`. It returns **both** the output
and the weights (the weights are what we draw below, and what interpretability work
studies).
"""),
        *question("scaled_dot_product_attention", s, """
# Try it: the worked examples.
q = torch.tensor([[1., 0., 1., 0.]])
k = torch.tensor([[1., 1., 1., 1.], [1., 0., -1., 0.], [0., 0., 0., 0.]])
v = torch.tensor([[1., 0.], [0., 1.], [0., 0.]])
try:
    for mask in (None, torch.tensor([[True, False, True]]), torch.tensor([[False, False, False]])):
        out, weights = scaled_dot_product_attention(q, k, v, mask)
        print("mask", None if mask is None else mask.tolist(), "-> weights", weights, "out", out)
except NotImplementedError:
    print("scaled_dot_product_attention is not implemented yet")
"""),
        md(r"""
### A picture of an attention pattern

Let us build a head by hand. Six tokens; the key of position $j$ is the one-hot vector
$e_j$ ("I am position $j$"), and the query of position $i$ is $c \cdot e_{i-1}$ ("I am
looking for position $i-1$"), with a causal mask. This is a **previous-token head**, a
pattern real language models learn early in training. The constant $c$ sets how sharp the
pattern is: the score of the wanted key is $c / \sqrt{6}$, every other score is 0. Each
row of the heat map is one query's weights (a distribution over the keys it may see).
"""),
        code("""
tokens = ["The", "cat", "sat", "on", "the", "mat"]
T = len(tokens)
keys = torch.eye(T)                                   # key j = e_j
causal = torch.ones(T, T, dtype=torch.bool).tril()    # query i may see keys j <= i
try:
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, c in zip(axes, (12.0, 3.0)):
        queries = c * torch.roll(keys, shifts=1, dims=0)  # query i = c * e_(i-1)
        _, weights = scaled_dot_product_attention(queries, keys, keys, causal)
        ax.imshow(weights, cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(T), tokens, rotation=45)
        ax.set_yticks(range(T), tokens)
        ax.set_xlabel("key (attended to)")
        ax.set_ylabel("query (attending)")
        ax.set_title(f"previous-token head, c = {c:g}")
    plt.tight_layout()
    plt.show()
except NotImplementedError:
    plt.close("all")
    print("scaled_dot_product_attention is not implemented yet: come back to this plot once it is.")
"""),
        md(r"""
With $c = 12$ every token looks at the one before it (the first token has only itself to
look at). With $c = 3$ the same head is blurry: that is what forgetting the $1/\sqrt{d_k}$
(or dividing twice) does to a trained model's patterns. Try other constants, or a mask
with a fully masked row, and look at the result.
"""),
    ]

    # ------------------------------------------------------------------ 2-3. heads
    cells += [
        md(r"""
## 2. Multiple heads

One head computes **one** weighted average per query: it can look for one thing at a
time. A transformer runs $H$ heads side by side, each with its own queries, keys and
values, and concatenates their outputs. To keep the cost of one big head, each head gets
$d = D/H$ of the model's $D$ features: a GPT-2 small layer has $D = 768$ and $H = 12$
heads of $d = 64$.

We compute the projections for all heads at once (one `[..., T, D]` tensor) and then
**split** its features: head $h$ gets the contiguous block of features
$h\,d, \dots, (h+1)\,d - 1$ of every position, and the head dimension is moved in front of
the positions, so that each head looks like one more batch dimension to
`scaled_dot_product_attention`:

```
[..., T, D]  --reshape-->  [..., T, H, d]  --transpose(-3, -2)-->  [..., H, T, d]
```

The transpose is not optional. Reshaping `[T, D]` straight to `[H, T, d]` is legal (the
number of elements matches) but reads the memory in the wrong order: "head 0" would get
the first $d$ features of position 0, then the next $d$ features **of position 0** as if
they were position 1, and so on. The shapes are right, the numbers are garbage, and with
$H = 1$ the two are identical, so a one-head test never notices.

**Merging** is the exact inverse: transpose back to `[..., T, H, d]`, then reshape to
`[..., T, H·d]`.

**Worked example** (the public checks use it): 2 positions of $D = 6$ features, 3 heads.

```
x = [[ 0.,  1.,  2.,  3.,  4.,  5.],          split_heads(x, 3) = [[[ 0.,  1.], [ 6.,  7.]],    # head 0
     [ 6.,  7.,  8.,  9., 10., 11.]]                               [[ 2.,  3.], [ 8.,  9.]],    # head 1
                                                                   [[ 4.,  5.], [10., 11.]]]    # head 2
```

and `merge_heads` of that `[3, 2, 2]` tensor gives back `x`.

**Question 2.** Implement `split_heads`.
"""),
        *question("split_heads", s, """
# Try it: the worked example, and what a reshape alone would give.
x = torch.arange(12.0).reshape(2, 6)
try:
    print("split_heads(x, 3) =\\n", split_heads(x, 3))
except NotImplementedError:
    print("split_heads is not implemented yet")
print("x.reshape(3, 2, 2) (wrong!) =\\n", x.reshape(3, 2, 2))
"""),
        md(r"""
**Question 3.** Implement `merge_heads`, the inverse of `split_heads`.
"""),
        *question("merge_heads", s, """
# Try it: merge_heads must undo split_heads.
x = torch.randn(2, 5, 12)                  # [B, T, D]
try:
    heads = split_heads(x, 4)                  # [B, H, T, D/H]
    print(heads.shape, merge_heads(heads).shape, torch.equal(merge_heads(heads), x))
except NotImplementedError as err:
    print("not implemented yet:", err)
"""),
    ]

    # ------------------------------------------------------------------ 4. multi_head_attention
    cells += [
        md(r"""
## 3. Multi-head attention: projections, self- and cross-attention

Queries, keys and values are not the input itself: each is a learned linear map of it.
Multi-head attention is

```
q = x_q  @ W_q + b_q        # [..., Lq, D]     what each position looks for
k = x_kv @ W_k + b_k        # [..., Lk, D]     what each position offers
v = x_kv @ W_v + b_v        # [..., Lk, D]     what it hands over
heads = attention(split_heads(q), split_heads(k), split_heads(v), mask)   # [..., H, Lq, D/H]
out = merge_heads(heads) @ W_o + b_o            # [..., Lq, D_out]   mix the heads' results
```

Since each head attends with its own $D/H$ features, its scores are divided by
$\sqrt{D/H}$, **not** $\sqrt{D}$ (if your attention function reads $d_k$ from `q.shape[-1]`
after the split, this is automatic). The same mask is used by every head: a mask of shape
`[..., Lq, Lk]` needs one more dimension, `[..., 1, Lq, Lk]`, to broadcast against the
heads' scores `[..., H, Lq, Lk]` (`mask.unsqueeze(-3)`).

**Self-attention** is `x_kv = x_q`: a sequence attends to itself (GPT). In
**cross-attention**, the queries come from one sequence and the keys and values from
another, e.g. a translation model's decoder (queries, `Lq` target tokens) attending to the
encoder's output (keys and values, `Lk` source tokens). Then `Lq` and `Lk` differ, and a
function that quietly takes the keys from `x_q` gives wrong answers (or crashes).

Here the weight matrices multiply on the right, `x @ W` with `W` of shape `[D_in, D]`; a
bias that is `None` is simply not added.

**Question 4.** Implement `multi_head_attention`, using your functions from Questions 1 to 3.
"""),
        *question("multi_head_attention", s, """
# Try it: cross-attention from 3 target tokens to 5 source tokens, 4 heads of 2 features.
torch.manual_seed(0)
D_in, D, D_out = 6, 8, 6
x_target, x_source = torch.randn(2, 3, D_in), torch.randn(2, 5, D_in)
W_q, W_k, W_v = (torch.randn(D_in, D) / math.sqrt(D_in) for _ in range(3))
W_o = torch.randn(D, D_out) / math.sqrt(D)
try:
    out = multi_head_attention(x_target, x_source, W_q, W_k, W_v, W_o, n_heads=4)
    print("cross-attention output:", tuple(out.shape))       # (2, 3, 6)
    out = multi_head_attention(x_source, x_source, W_q, W_k, W_v, W_o, n_heads=4)
    print("self-attention output: ", tuple(out.shape))       # (2, 5, 6)
except NotImplementedError:
    print("multi_head_attention is not implemented yet")
"""),
    ]

    # ------------------------------------------------------------------ 5. the module
    cells += [
        md(r"""
## 4. The attention layer of a GPT: `MultiHeadSelfAttention`

In a model, the weights live in an `nn.Module`. Ours has four `nn.Linear(d_model, d_model)`
layers named `q_proj`, `k_proj`, `v_proj` and `o_proj`, the names used by GPT-2-style code
(so `state_dict()` has the keys `q_proj.weight`, `q_proj.bias`, ..., `o_proj.bias`). The
grader builds its own module, copies its weights into yours with
`load_state_dict(..., strict=True)`, and compares the outputs: a parameter with another
name, or an extra one, is an error.

Two details to get right:

- `nn.Linear` stores its weight as `[out_features, in_features]` and computes
  `x @ weight.T + bias`. If you call your `multi_head_attention`, pass `self.q_proj.weight.T`
  (and `self.q_proj.bias`, which is `None` when `bias=False`).
- The mask is built inside `forward`: with `causal=True`, query $i$ sees keys $j \le i$
  (the diagonal included: a token may look at itself); with a `key_padding_mask` `[B, T]`
  (True = real token), no query sees a padding key. When both apply, a key must pass
  both (`&`). Mind the shapes: the causal mask is `[T, T]`, the padding mask becomes
  `[B, 1, T]`.

**Question 5.** Implement `MultiHeadSelfAttention` (`__init__` and `forward`).
"""),
        *question("MultiHeadSelfAttention", s, """
# Try it: a causal layer on a padded batch of two sequences of lengths 4 and 2.
torch.manual_seed(0)
try:
    layer = MultiHeadSelfAttention(d_model=8, n_heads=2)
    print(sorted(layer.state_dict()))
    x = torch.randn(2, 4, 8)
    real = torch.tensor([[True, True, True, True], [True, True, False, False]])
    with torch.no_grad():
        y = layer(x, key_padding_mask=real)
        x_changed = x.clone()
        x_changed[:, 3] = 100.0                # change the last token only
        y_changed = layer(x_changed, key_padding_mask=real)
    print("output shape:", tuple(y.shape))
    print("earlier positions unchanged:", torch.allclose(y[:, :3], y_changed[:, :3]))
except NotImplementedError as err:
    print("not implemented yet:", err)
"""),
        md(r"""
## Putting it together

Here is the pattern of a causal, padded batch: the mask your module builds, and the
weights of one head on it. Sequence 1 has 2 real tokens and 2 padding tokens; its
padding queries still get rows (their outputs are ignored by the loss later), and every
row only has weight on real keys in the past. This cell is not graded.
"""),
        code("""
torch.manual_seed(1)
T = 4
real = torch.tensor([[True, True, True, True], [True, True, False, False]])     # [B, T]
mask = torch.ones(T, T, dtype=torch.bool).tril() & real[:, None, :]           # [B, T, T]
q, k, v = torch.randn(2, T, 8), torch.randn(2, T, 8), torch.randn(2, T, 8)
try:
    _, weights = scaled_dot_product_attention(q, k, v, mask)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
    for b, ax in enumerate(axes):
        ax.imshow(weights[b], cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"sequence {b}: {int(real[b].sum())} real tokens")
        ax.set_xlabel("key j")
        ax.set_ylabel("query i")
    plt.tight_layout()
    plt.show()
    print("any NaN:", weights.isnan().any().item())
except NotImplementedError:
    plt.close("all")
    print("scaled_dot_product_attention is not implemented yet")
"""),
        *submitting("attention"),
    ]

    return finish(cells, "attention")


if __name__ == "__main__":
    write(build, "attention")
