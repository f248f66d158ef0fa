"""The prose of the student notebook softmax.ipynb (instructors only); notebook_kit.py makes the
stubs and the closing cells.
`make notebooks` (or .venv/bin/python assignments/softmax/make_notebook.py) writes it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from notebook_kit import code, finish, md, question, stubs, submitting, write  # noqa: E402


def build():
    s = stubs("softmax")
    cells = []

    # ------------------------------------------------------------------ introduction
    cells += [
        md(r"""
# Softmax and masking

Every attention head in a GPT ends the same way: a row of scores goes through a **softmax**
and becomes a probability distribution over the positions the query may look at. Every
language-model loss starts the same way: a row of logits goes through a **log-softmax**.
Both look like one-liners, and both are one-liners that break in production: they overflow
to `inf`, underflow to `-inf`, or silently turn a whole batch into `NaN`.

In this notebook you will write, from scratch:

| question | function | what it does |
|---|---|---|
| 1 | `softmax(x, dim=-1)` | numerically stable softmax |
| 2 | `log_softmax(x, dim=-1)` | stable log-softmax, finite where the true value is |
| 3 | `masked_softmax(x, mask, dim=-1)` | softmax over the kept positions only |
| 4 | `causal_mask(q_len, k_len=None, *, device=None)` | which keys each query may see, KV cache included |
| 5 | `padding_mask(lengths, max_len)` | which positions of a padded batch are real tokens |

**Conventions** (the same in every unit of this course):

- Tensors are `torch.Tensor`; every function accepts any number of leading batch
  dimensions and returns the input's dtype and device.
- Never modify an input in place (`x - m`, not `x -= m`; `masked_fill`, not `masked_fill_`).
- Masks are `torch.bool` and **True means "keep"** (may attend).
- A row in which every position is masked out gives **all zeros**, never `NaN`.
- Results stay finite for float32 logits as large as `1e4` in magnitude.
- Invalid arguments raise `ValueError` with a message that names the problem. Each
  docstring lists exactly which arguments are invalid.

**Banned calls.** The point is to build these yourself, so the grader fails a question
(and tells you why) if your function calls `torch.softmax`, `torch.log_softmax`,
`torch.nn.functional.softmax`, `torch.nn.functional.log_softmax`, `Tensor.softmax`,
`Tensor.log_softmax`, `torch.special.softmax` or `torch.special.log_softmax`.
Everything else in torch is fair game (`exp`, `log`, `amax`, `sum`, `masked_fill`,
`where`, `arange`, ...).

**Checking your work.** After each function, `grader.check("<question>")` runs the
*public checks*: worked examples whose answers are printed in this notebook, plus
properties every correct answer has (rows sum to 1, masked entries are exactly 0, ...),
tried on many small random inputs. When a check fails it shows you a small input that
fails it. The autograder then compares your functions with a reference solution on many
more inputs (other shapes and dtypes, huge logits, fully masked rows, `q_len != k_len`),
so passing the public checks is necessary, not sufficient: read the docstrings carefully.

Run the next cell first.
"""),
        code("""
import otter
grader = otter.Notebook("softmax.ipynb")

import math

import matplotlib.pyplot as plt
import torch
"""),
    ]

    # ------------------------------------------------------------------ 1. softmax
    cells += [
        md(r"""
## 1. Softmax, and why we subtract the max

For a vector of logits $x \in \mathbb{R}^n$,

$$\mathrm{softmax}(x)_i = \frac{e^{x_i}}{\sum_{j=1}^{n} e^{x_j}}.$$

Written literally, this is a bug. `float32` can represent numbers up to about
$3.4 \times 10^{38} \approx e^{88.7}$, so `exp` of any logit above ~88.7 is `inf`, and
`inf / inf` is `NaN`. Logits of a few hundred are not exotic: an attention score is a dot
product of two 64-dimensional vectors, and a badly scaled model produces thousands.
"""),
        code("""
x = torch.tensor([1000.0, 999.0, 998.0])    # float32
e = torch.exp(x)
print("exp(x)          =", e)               # all inf
print("exp(x) / sum    =", e / e.sum())     # inf / inf = nan
"""),
        md(r"""
The fix is an identity. For any constant $c$,

$$\frac{e^{x_i - c}}{\sum_j e^{x_j - c}} = \frac{e^{-c}\, e^{x_i}}{e^{-c} \sum_j e^{x_j}} = \mathrm{softmax}(x)_i ,$$

so softmax is **invariant to adding a constant** to every logit. Choose $c = \max_j x_j$:
now every exponent is $\le 0$, so nothing overflows, and the largest term is $e^0 = 1$, so
the denominator is at least 1 and never 0. (Terms far below the max may underflow to 0,
which is harmless: their true probability is below what the dtype can represent.)

The same identity says the answer for `[1000, 999, 998]` is the answer for `[2, 1, 0]`.

**Shapes.** `x` can have any shape, and `dim` says which dimension to normalise over
(`dim=-1`, the last one, for attention scores `[..., q_len, k_len]`). Reductions with
`keepdim=True` (e.g. `x.amax(dim=dim, keepdim=True)`) keep a size-1 dimension so the result
broadcasts back against `x`.

**Worked examples** (the public checks use these):

| call | result |
|---|---|
| `softmax(torch.tensor([1.0, 2.0, 3.0]))` | `[0.0900, 0.2447, 0.6652]` |
| `softmax(torch.tensor([[0.0, 0.0], [0.0, math.log(3)]]), dim=0)` | `[[0.5, 0.25], [0.5, 0.75]]` (each *column* sums to 1) |
| `softmax(torch.tensor([1000.0, 999.0]))` | `[0.7311, 0.2689]` |

**Question 1.** Implement `softmax`.
"""),
        *question("softmax", s, """
# Try it (this cell is only for you; it is not graded).
try:
    print(softmax(torch.tensor([1.0, 2.0, 3.0])))
    print(softmax(torch.tensor([1000.0, 999.0])))
    print(softmax(torch.tensor([[0.0, 0.0], [0.0, math.log(3)]]), dim=0))
except NotImplementedError:
    print("softmax is not implemented yet")
"""),
    ]

    # ------------------------------------------------------------------ 2. log_softmax
    cells += [
        md(r"""
## 2. Log-softmax, and why `log(softmax(x))` is not good enough

A language model is trained with the cross-entropy loss $-\log p_{\text{target}}$, so what
we need is the **log** of a probability. The obvious `torch.log(softmax(x))` fails exactly
where it matters most, on confident wrong predictions: when a logit is far below the
maximum, its probability underflows to 0 before we take the log.
"""),
        code("""
p = torch.exp(torch.tensor([0.0, -1e4]))   # the (unnormalised) probabilities of logits [0, -1e4]
print("exp(-1e4)          =", p[1].item())  # 0.0: below the smallest float32 (~1.4e-45)
print("log(softmax(x))[1] =", torch.log(p / p.sum())[1].item())  # log(0) = -inf, the true value is -10000
"""),
        md(r"""
An infinite loss means infinite (or `NaN`) gradients, and the training run is over. Work in
log space instead. With $m = \max_j x_j$,

$$\log \mathrm{softmax}(x)_i = x_i - \log \sum_j e^{x_j} = (x_i - m) - \log \sum_j e^{x_j - m}.$$

The sum on the right is between 1 and $n$, so its log is tame, and $x_i - m$ is computed
directly, never via a probability. The quantity $\log \sum_j e^{x_j}$ is called
*logsumexp*; computed this way it is stable too.

**Worked examples:**

| call | result |
|---|---|
| `log_softmax(torch.tensor([1.0, 2.0, 3.0]))` | `[-2.4076, -1.4076, -0.4076]` |
| `log_softmax(torch.tensor([0.0, -1e4]))` | `[0.0, -10000.0]` (finite!) |

**Question 2.** Implement `log_softmax`. Do not call your `softmax` and take the log.
"""),
        *question("log_softmax", s, """
# Try it: compare with log(softmax(x)) on a very negative logit.
try:
    x = torch.tensor([0.0, -1e4])
    print("log_softmax(x)  =", log_softmax(x))
    print("log(softmax(x)) =", torch.log(softmax(x)))
except NotImplementedError as err:
    print("not implemented yet:", err)
"""),
    ]

    # ------------------------------------------------------------------ 3. masked_softmax
    cells += [
        md(r"""
## 3. Masks, and the fully masked row

A **mask** says which positions a softmax may use. In this course a mask is a
`torch.bool` tensor and **True means keep**: `mask[..., i, j]` is True when query `i` may
attend to key `j`. Positions with mask False get probability **exactly** 0 and must not
influence the others at all: the kept positions of each row sum to 1 by themselves.

$$\mathrm{masked\_softmax}(x, \text{mask})_i =
\begin{cases} \dfrac{e^{x_i}}{\sum_{j:\,\text{mask}_j} e^{x_j}} & \text{if mask}_i \\[1ex] 0 & \text{otherwise}\end{cases}$$

Masks **broadcast** against the scores: attention scores are `[B, H, Lq, Lk]` (batch,
heads, queries, keys), but a causal mask is the same for every sequence and every head, so
it is stored as `[Lq, Lk]`; a padding mask depends on the sequence but not on the query,
so it is `[B, 1, 1, Lk]`. Your function must accept any mask that broadcasts to `x`'s shape.

A common recipe is to set masked logits to $-\infty$ and call an ordinary softmax:
$e^{-\infty} = 0$, exactly what we want. But what if **every** position in a row is
masked? That happens for real: a padded sequence of length 0, a query that would sit
before the first key (Section 4), or the combination of a causal and a padding mask.
Then the row's maximum is $-\infty$ too, and the max-subtraction computes
$-\infty - (-\infty)$:
"""),
        code("""
row = torch.tensor([1.0, 2.0, 3.0])
keep = torch.tensor([False, False, False])          # every position masked out
scores = row.masked_fill(~keep, float("-inf"))      # masked_fill returns a new tensor
print("scores     =", scores)
print("scores - m =", scores - scores.amax())       # -inf - (-inf) = nan
"""),
        md(r"""
One `NaN` row is enough to poison a whole batch: it flows into the attention output, the
loss and every gradient. The other common recipe, filling with a large negative number like
`-1e9`, avoids the `NaN` but gives a fully masked row a *uniform* distribution: the query
attends equally to positions it was forbidden to see (and in float16, `-1e9` is `-inf`
anyway). Our convention, like PyTorch's own "safe softmax", is that **a fully masked row
is all zeros**. Handle it explicitly.

**Worked examples:**

| call | result |
|---|---|
| `masked_softmax(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([True, False, True]))` | `[0.1192, 0.0, 0.8808]` (= softmax of `[1, 3]` on the kept positions) |
| `masked_softmax(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[True, False], [False, False]]))` | `[[1.0, 0.0], [0.0, 0.0]]` |

**Question 3.** Implement `masked_softmax`. It must be stable for large logits too.
"""),
        *question("masked_softmax", s, """
# Try it: a [2, 3] mask broadcast over scores of shape [1, 2, 2, 3].
try:
    scores = torch.tensor([1.0, 2.0, 3.0]).expand(1, 2, 2, 3)
    mask = torch.tensor([[True, False, True],
                         [False, False, False]])
    print(masked_softmax(scores, mask))
except NotImplementedError:
    print("masked_softmax is not implemented yet")
"""),
    ]

    # ------------------------------------------------------------------ 4. causal_mask
    cells += [
        md(r"""
## 4. Causal masks and the KV cache

A GPT predicts token $t+1$ from tokens $0 \dots t$, and it is trained on all positions of
a sequence at once. So query $i$ must not see any key $j > i$: the **causal mask** is True
on and below the diagonal. For 4 tokens (■ = True, may attend; · = False):

```
              key j:  0  1  2  3
query i = 0           ■  ·  ·  ·
query i = 1           ■  ■  ·  ·
query i = 2           ■  ■  ■  ·
query i = 3           ■  ■  ■  ■
```

**With a KV cache the mask is not square.** When generating, a model caches the keys and
values of the tokens it has already processed and only computes queries for the new ones.
With `k_len` keys (cached + new) and `q_len` new queries, the queries are the **last**
`q_len` positions of the sequence: query `i` sits at absolute position
`i + (k_len - q_len)` and may see every key up to and including that position:

$$\text{mask}[i, j] = \big(j \le i + (k_{len} - q_{len})\big).$$

The mask is aligned **bottom-right**: its last row is all True, because the last query is
the newest token and sees everything. Example, `q_len = 2` new tokens after 3 cached ones
(`k_len = 5`):

```
                          key j:  0  1  2  3  4
query i = 0  (position 3)         ■  ■  ■  ■  ·
query i = 1  (position 4)         ■  ■  ■  ■  ■
```

These are exactly the last two rows of the 5×5 causal mask. A mask aligned top-left
(`j <= i`) would give `■ · · · ·` and `■ ■ · · ·` here: the new tokens would ignore almost
all of their context. Nothing crashes, the model just quietly generates nonsense.

If `k_len < q_len`, the same rule makes the first `q_len - k_len` rows all False (those
queries would sit before the first key); `masked_softmax` turns them into rows of zeros.

**Worked examples** (T = True, F = False):

| call | result |
|---|---|
| `causal_mask(3)` | `[[T, F, F], [T, T, F], [T, T, T]]` |
| `causal_mask(2, 4)` | `[[T, T, T, F], [T, T, T, T]]` |
| `causal_mask(3, 2)` | `[[F, F], [T, F], [T, T]]` |

**Question 4.** Implement `causal_mask`. Hint: `torch.arange` and broadcasting make this
a two-line function.
"""),
        *question("causal_mask", s, """
# Draw your masks: without and with a cache.
try:
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, (q_len, k_len) in zip(axes, [(6, 6), (3, 6)]):
        ax.imshow(causal_mask(q_len, k_len).int(), cmap="Blues", vmin=0, vmax=1)
        ax.set_title(f"causal_mask({q_len}, {k_len})")
        ax.set_xlabel("key j")
        ax.set_ylabel("query i")
        ax.set_xticks(range(k_len))
        ax.set_yticks(range(q_len))
    fig.suptitle("dark = True (query i may attend to key j)")
    plt.tight_layout()
    plt.show()
except NotImplementedError:
    plt.close("all")
    print("causal_mask is not implemented yet: come back to this plot once it is.")
"""),
    ]

    # ------------------------------------------------------------------ 5. padding_mask
    cells += [
        md(r"""
## 5. Padding masks

Sequences in a batch have different lengths, but a tensor is rectangular, so shorter
sequences are padded at the end up to `max_len`. Padding tokens are not real: no query
may attend to them. Given the real lengths `lengths` (shape `[B]`), the **padding mask**
is True at the real positions:

$$\text{mask}[b, t] = \big(t < \text{lengths}[b]\big).$$

To use it on attention scores `[B, H, Lq, Lk]` as a mask over keys, give it the missing
dimensions: `padding_mask(lengths, T)[:, None, None, :]` has shape `[B, 1, 1, T]`. Masks
combine with `&`: a query may attend to a key if the key is in the past **and** is a real
token.

**Worked example:**

| call | result |
|---|---|
| `padding_mask(torch.tensor([2, 0, 3]), 3)` | `[[T, T, F], [F, F, F], [T, T, T]]` |

**Question 5.** Implement `padding_mask`.
"""),
        *question("padding_mask", s, """
# Try it.
try:
    print(padding_mask(torch.tensor([2, 0, 3]), 3))
except NotImplementedError:
    print("padding_mask is not implemented yet")
"""),
    ]

    # ------------------------------------------------------------------ putting it together
    cells += [
        md(r"""
## Putting it together

Here is a batch of three sequences of lengths 3, 1 and 0, padded to 4 tokens, with causal
self-attention: a query may attend to a key if the key is in its past **and** is a real
token. Each row of the attention weights is a distribution over those keys. Padding
*queries* still get a row (their outputs are simply ignored by the loss), but the empty
sequence has no real key at all: its rows are fully masked, and come out as zeros instead
of `NaN`. This cell is not graded.
"""),
        code("""
try:
    torch.manual_seed(0)
    lengths, T = torch.tensor([3, 1, 0]), 4
    scores = torch.randn(3, 1, T, T)                          # [B, H, Lq, Lk]
    mask = causal_mask(T) & padding_mask(lengths, T)[:, None, None, :]   # [B, 1, T, T]
    weights = masked_softmax(scores, mask)
    for b in range(3):
        print(f"sequence {b} (length {lengths[b].item()}):\\n{weights[b, 0]}\\n")
    print("any NaN:", weights.isnan().any().item())
except NotImplementedError as err:
    print("not implemented yet:", err)
"""),
        *submitting("softmax"),
    ]

    return finish(cells, "softmax")

if __name__ == "__main__":
    write(build, "softmax")
