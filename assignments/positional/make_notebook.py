"""The prose of the student notebook positional.ipynb (instructors only); notebook_kit.py makes the
stubs and the closing cells.
`make notebooks` (or .venv/bin/python assignments/positional/make_notebook.py) writes it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from notebook_kit import code, finish, md, question, stubs, submitting, write  # noqa: E402


def build():
    s = stubs("positional")
    cells = []

    # ------------------------------------------------------------------ introduction
    cells += [
        md(r"""
# Positional encodings: sinusoids, RoPE and ALiBi

Attention compares every query with every key, and that is all it does: nothing in
`softmax(q kᵀ / sqrt(d)) v` knows which token came first. Shuffle the words of a sentence
and an attention layer computes exactly the same outputs, shuffled the same way. For a
language model, "dog bites man" and "man bites dog" would be the same bag of words.
Something has to tell the model **where** each token is.

In this notebook you will write, from scratch, the three answers that modern transformers use:

| question | function | what it does |
|---|---|---|
| 1 | `sinusoidal_encoding(seq_len, d_model, base=10000.0, *, dtype=torch.float32)` | the position table of the original Transformer, added to the embeddings |
| 2 | `rotary_embedding(x, positions=None, base=10000.0)` | RoPE: rotates queries and keys by an angle proportional to their position |
| 3 | `alibi_slopes(n_heads)` | ALiBi: how strongly each head penalises distance |
| 4 | `alibi_bias(n_heads, q_len, k_len=None)` | ALiBi: the distance penalty added to the attention scores |

**Conventions** (the same in every unit of this course):

- Tensors are `torch.Tensor`; `rotary_embedding` accepts any number of leading batch
  dimensions (`[..., T, d]`, e.g. `[B, H, T, d_head]`) and returns the input's dtype and device.
- Never modify an input in place (build a new tensor; do not assign into `x[..., 0::2]`).
- Positions count from 0.
- Invalid arguments raise `ValueError` with a message that names the problem. Each
  docstring lists exactly which arguments are invalid.

**Checking your work.** After each function, `grader.check("<question>")` runs the
*public checks*: worked examples whose answers are printed in this notebook, plus
properties every correct answer has (every sine/cosine pair lies on the unit circle, RoPE
preserves lengths, ALiBi is zero on the diagonal, ...), tried on many small random inputs.
When a check fails it shows you a small input that fails it. The autograder then compares
your functions with a reference solution on many more inputs (tables 2048 positions long,
other bases, explicit positions, batch dimensions, float64, other head counts), so passing
the public checks is necessary, not sufficient: read the docstrings carefully.

**Precision.** Angles get large: position 2000 at frequency 1 is 2000 radians, and
float32 stores that with an error of about `1e-4`. The grader knows this and judges your
table and your rotations relative to the size of the angle, so the textbook float32
computation is fine; a wrong formula is off by far more.

Run the next cell first.
"""),
        code("""
import otter
grader = otter.Notebook("positional.ipynb")

import math

import matplotlib.pyplot as plt
import torch
"""),
    ]

    # ------------------------------------------------------------------ 0. why positions
    cells += [
        md(r"""
## 0. Attention cannot see order

Here is one attention head with no positional information at all: queries, keys and values
are linear maps of the token embeddings `x` (one row per token). Feed it the same tokens in
another order, and the outputs come out in that other order, **otherwise unchanged**:
attention is *permutation-equivariant*. (A causal mask breaks the symmetry a little, since
then each token sees a different set, but within that set order still means nothing.)
"""),
        code("""
torch.manual_seed(0)
T, d = 5, 8
x = torch.randn(T, d)                                  # 5 token embeddings
W_q, W_k, W_v = torch.randn(d, d), torch.randn(d, d), torch.randn(d, d)


def attention_head(x):
    q, k, v = x @ W_q, x @ W_k, x @ W_v
    weights = torch.softmax(q @ k.T / math.sqrt(d), dim=-1)
    return weights @ v


perm = torch.tensor([3, 0, 4, 1, 2])                   # shuffle the tokens
out, out_shuffled = attention_head(x), attention_head(x[perm])
print("shuffled outputs == outputs, shuffled:", torch.allclose(out_shuffled, out[perm], atol=1e-5))
"""),
        md(r"""
There are two ways to fix this. Either **add** information about the position to each
token's embedding before the first layer (the sinusoidal table of Section 1, or a learned
table as in GPT-2), or change the attention scores themselves so that they depend on how
far apart a query and a key are (RoPE in Section 2, ALiBi in Sections 3 and 4).
"""),
    ]

    # ------------------------------------------------------------------ 1. sinusoidal
    cells += [
        md(r"""
## 1. The sinusoidal table

"Attention Is All You Need" adds to the embedding of the token at position $p$ a vector
$PE[p] \in \mathbb{R}^{d_{model}}$ made of sines and cosines of $p$ at many frequencies:

$$PE[p, 2i] = \sin\!\big(p \cdot \omega_i\big), \qquad PE[p, 2i+1] = \cos\!\big(p \cdot \omega_i\big),
\qquad \omega_i = \text{base}^{-2i / d_{model}}, \quad \text{base} = 10000.$$

Column pair $(2i, 2i+1)$ is one frequency $\omega_i$. The first pair turns by 1 radian per
position (a wavelength of $2\pi \approx 6.3$ positions), and the frequencies fall
geometrically down to about $1/\text{base}$ (a wavelength of $2\pi \cdot 10000$ positions).
Think of a clock with $d_{model}/2$ hands turning at different speeds: the fast hands tell
neighbouring positions apart, the slow ones tell far-apart positions apart, and together
they give every position a unique reading.

Three details matter, and each one is a classic bug:

- **Interleaved, not concatenated.** Even columns hold sines and odd columns cosines:
  `[sin ω₀p, cos ω₀p, sin ω₁p, cos ω₁p, ...]`. Many blog posts (and some libraries)
  concatenate `[all sines | all cosines]`; that is a different table.
- **The exponent is $2i/d_{model}$**, where $2i$ is the column of the pair's sine
  (0, 2, 4, ...). Using the pair index $i$ (0, 1, 2, ...) instead gives frequencies that
  fall only half as fast (in the exponent).
- **Odd $d_{model}$.** Then there is one more sine column than cosine columns: the last
  column is $\sin(p\,\omega_{(d_{model}-1)/2})$. The same formula works if you compute
  $\lceil d_{model}/2 \rceil$ frequencies and slice carefully.

Why sines and cosines of the *same* angle side by side? Because then moving $k$ positions
is the same **rotation** of every pair, whatever $p$ is:

$$\begin{pmatrix}\sin \omega(p+k) \\ \cos \omega(p+k)\end{pmatrix}
= \begin{pmatrix}\cos \omega k & \sin \omega k \\ -\sin \omega k & \cos \omega k\end{pmatrix}
\begin{pmatrix}\sin \omega p \\ \cos \omega p\end{pmatrix},$$

so relative positions are a linear function of the table, something a layer can learn to use.
Hold on to that idea: RoPE (Section 2) is built on it.

**Worked examples** (`base` = 10000, so for `d_model = 4` the frequencies are 1 and
$10000^{-2/4} = 0.01$):

| call | result |
|---|---|
| `sinusoidal_encoding(3, 4)` | `[[0, 1, 0, 1], [0.8415, 0.5403, 0.0100, 1.0000], [0.9093, -0.4161, 0.0200, 0.9998]]` |
| `sinusoidal_encoding(2, 3)` | `[[0, 1, 0], [0.8415, 0.5403, 0.0022]]` (the last column is $\sin(1 \cdot 10000^{-2/3})$) |

Row 0 is always `[0, 1, 0, 1, ...]`: $\sin 0 = 0$, $\cos 0 = 1$.

**Question 1.** Implement `sinusoidal_encoding`. Compute the angles $p \cdot \omega_i$ as a
`[seq_len, n]` table by broadcasting (`positions[:, None] * freqs[None, :]`), then fill the
even and odd columns. The result has dtype `dtype` (float32 unless the caller asks otherwise).
"""),
        *question("sinusoidal_encoding", s, """
# The table as a picture: each column is a wave; the frequency falls from left to right.
try:
    pe = sinusoidal_encoding(128, 64)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    axes[0].imshow(pe, cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
    axes[0].set_xlabel("column (even: sin, odd: cos)")
    axes[0].set_ylabel("position p")
    axes[0].set_title("sinusoidal_encoding(128, 64)")
    for col in (0, 2, 10, 30):
        axes[1].plot(pe[:, col], label=f"column {col}")
    axes[1].set_xlabel("position p")
    axes[1].legend(loc="lower left", fontsize=8)
    axes[1].set_title("a few sine columns")
    plt.tight_layout()
    plt.show()
except NotImplementedError:
    plt.close("all")
    print("sinusoidal_encoding is not implemented yet: come back to this plot once it is.")
"""),
        md(r"""
Since every pair is a rotation, the dot product $PE[p] \cdot PE[q] = \sum_i \cos(\omega_i (p - q))$
depends only on the distance $p - q$: the table is its own measure of "how far apart".
This cell is not graded.
"""),
        code("""
try:
    pe = sinusoidal_encoding(100, 64)
    plt.figure(figsize=(6, 3))
    plt.plot(pe @ pe[50], label="PE[p] · PE[50]")
    plt.plot(pe @ pe[20], label="PE[p] · PE[20]")
    plt.xlabel("position p")
    plt.legend()
    plt.title("dot products peak at distance 0 and fall off with |p - q|")
    plt.show()
except NotImplementedError:
    plt.close("all")
    print("sinusoidal_encoding is not implemented yet")
"""),
    ]

    # ------------------------------------------------------------------ 2. RoPE
    cells += [
        md(r"""
## 2. Rotary position embeddings (RoPE)

Adding a table to the embeddings mixes "what" and "where" into the same vector, and every
layer has to untangle them again. **RoPE** (RoFormer, Su et al. 2021; used by LLaMA, Mistral,
GPT-NeoX, ...) instead leaves the embeddings alone and *rotates the queries and keys* inside
every attention layer, by an angle proportional to their position.

Split the last dimension of a query (or key) $x \in \mathbb{R}^d$ into $d/2$ **interleaved
pairs** $(x_{2i}, x_{2i+1})$ and rotate pair $i$ of the token at position $p$ by
$\theta = p\,\omega_i$, with the same frequencies as Section 1, $\omega_i = \text{base}^{-2i/d}$:

$$\begin{pmatrix} \text{out}_{2i} \\ \text{out}_{2i+1} \end{pmatrix} =
\begin{pmatrix} \cos\theta & -\sin\theta \\ \sin\theta & \cos\theta \end{pmatrix}
\begin{pmatrix} x_{2i} \\ x_{2i+1} \end{pmatrix}.$$

That is the ordinary counter-clockwise rotation matrix (RoFormer's eq. 34): the pair
$(1, 0)$ goes to $(\cos\theta, \sin\theta)$. In complex numbers it is one multiplication:
with $z_i = x_{2i} + \mathrm{i}\,x_{2i+1}$, the rotated pair is $z_i\, e^{\mathrm{i} p \omega_i}$.

**Why it works.** The attention score of a query at position $m$ and a key at position $n$ is

$$\langle \mathrm{rope}(q, m), \mathrm{rope}(k, n) \rangle
= \sum_i \mathrm{Re}\big[\, z^{q}_i\, e^{\mathrm{i} m \omega_i}\; \overline{z^{k}_i\, e^{\mathrm{i} n \omega_i}} \,\big]
= \sum_i \mathrm{Re}\big[\, z^{q}_i\, \overline{z^{k}_i}\; e^{\mathrm{i} (m - n) \omega_i} \,\big],$$

which depends on the positions **only through $m - n$**. Queries and keys carry absolute
positions, yet the scores see only relative ones, and rotations never change a vector's
length, so RoPE does not disturb the scale of the scores either.

**Details, and the classic bugs:**

- **Direction.** Rotate by $+\theta$ as in the matrix above. Rotating queries and keys
  both by $-\theta$ still gives relative scores, but it is not the convention, and a model
  trained with one direction breaks with the other.
- **Layout.** This course (and RoFormer) pairs interleaved neighbours (0, 1), (2, 3), ...
  The GPT-NeoX/LLaMA code pairs dimension $i$ with $i + d/2$ ("rotate half"). Both are
  valid conventions, but they are different functions: load LLaMA weights into an
  interleaved implementation and the model outputs garbage.
- **Positions.** By default the $T$ rows of `x` are at positions $0, \dots, T-1$. With a
  KV cache, the new tokens sit further along, so `positions` can give each row its own
  position (any integers, in any order). The same positions apply to every batch entry
  and every head.
- **Odd $d$** cannot be split into pairs: raise `ValueError`.

**Worked examples** (`base` = 10000; for $d = 4$ the frequencies are 1 and 0.01):

| call | result |
|---|---|
| `rotary_embedding(torch.tensor([[1., 0., 1., 0.], [1., 0., 1., 0.]]))` | `[[1, 0, 1, 0], [0.5403, 0.8415, 0.99995, 0.0099998]]` |
| `rotary_embedding(torch.tensor([[0., 1.], [0., 1.]]))` | `[[0, 1], [-0.8415, 0.5403]]` |

Row 0 (position 0) is unchanged: its angles are all 0.

**Question 2.** Implement `rotary_embedding`. Useful pieces: `x[..., 0::2]` and
`x[..., 1::2]` (the two halves of every pair), broadcasting a `[T, d/2]` table of angles
against `[..., T, d/2]`, and `torch.stack([a, b], dim=-1).flatten(-2)` to interleave two
tensors again. Compute in float32 or float64 as you like, but return `x`'s dtype.
"""),
        *question("rotary_embedding", s, """
# Relative positions: put the same q at every position and the same k at every position.
# The scores <rope(q, m), rope(k, n)> are then constant along every diagonal m - n = const.
try:
    torch.manual_seed(1)
    T, d = 12, 16
    q, k = torch.randn(d), torch.randn(d)
    scores = rotary_embedding(q.expand(T, d)) @ rotary_embedding(k.expand(T, d)).T
    plt.figure(figsize=(4.2, 3.6))
    plt.imshow(scores, cmap="viridis")
    plt.xlabel("key position n")
    plt.ylabel("query position m")
    plt.colorbar()
    plt.title("<rope(q, m), rope(k, n)>")
    plt.show()
    print("norms preserved:", torch.allclose(rotary_embedding(q.expand(T, d)).norm(dim=-1), q.norm().expand(T)))
except NotImplementedError:
    plt.close("all")
    print("rotary_embedding is not implemented yet: come back to this plot once it is.")
"""),
    ]

    # ------------------------------------------------------------------ 3. alibi_slopes
    cells += [
        md(r"""
## 3. ALiBi: a penalty for distance

**ALiBi** ("Attention with Linear Biases", Press, Smith and Lewis, 2022; used by BLOOM and
MPT) drops position embeddings altogether. It adds to every attention score a penalty
proportional to how far back the key is:

$$\text{scores}[h, i, j] = \frac{q_i \cdot k_j}{\sqrt{d}} \;+\; m_h \cdot (j - i) \qquad (j \le i),$$

so a key $j$ that is $i - j$ tokens in the past loses $m_h (i - j)$ before the softmax.
Each head $h$ has its own **slope** $m_h > 0$: heads with a large slope look only at the last
few tokens, heads with a tiny slope see the whole context almost uniformly. Because the
penalty is a simple linear function of distance, models trained with ALiBi on short
sequences keep working on longer ones.

**The slopes.** For a number of heads $n$ that is a power of two, the slopes are the
geometric sequence that starts at $2^{-8/n}$ and has that same ratio:

$$m_h = 2^{-8 (h+1) / n}, \qquad h = 0, \dots, n-1,$$

ending at $2^{-8} = 1/256$. For $n = 8$: $\tfrac12, \tfrac14, \dots, \tfrac1{256}$.

For other head counts the paper (and every implementation since, e.g. BLOOM's) uses this
rule: let $n'$ be the largest power of two below $n$; take the $n'$ slopes for $n'$, then
append every other slope (the 1st, 3rd, 5th, ...) of the sequence for $2n'$, as many as
needed to reach $n$. The extra slopes then fall *between* the ones already there, instead
of stretching the sequence. For $n = 6$: the slopes of 4 heads, $\tfrac14, \tfrac1{16},
\tfrac1{64}, \tfrac1{256}$, then slopes 1 and 3 of 8 heads, $\tfrac12, \tfrac18$. Applying
$2^{-8(h+1)/n}$ to $n = 6$ directly is a classic bug: it gives slopes that no ALiBi model
was trained with.

**Worked examples:**

| call | result |
|---|---|
| `alibi_slopes(8)` | `[0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625]` |
| `alibi_slopes(6)` | `[0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]` |
| `alibi_slopes(1)` | `[0.00390625]` |

The result is a float32 tensor (Python floats become float64 tensors unless you say
`dtype=torch.float32`).

**Question 3.** Implement `alibi_slopes`. (`n & (n - 1) == 0` tests for a power of two;
`2 ** (n.bit_length() - 1)` is the largest power of two $\le n$.)
"""),
        *question("alibi_slopes", s, """
# Try it: the slopes of 8 and of 12 heads, on a log scale.
try:
    for n in (8, 12):
        print(n, "heads:", alibi_slopes(n))
    plt.figure(figsize=(5, 3))
    for n in (8, 12):
        plt.semilogy(alibi_slopes(n), "o-", label=f"{n} heads")
    plt.xlabel("head h")
    plt.ylabel("slope")
    plt.legend()
    plt.show()
except NotImplementedError:
    plt.close("all")
    print("alibi_slopes is not implemented yet")
"""),
    ]

    # ------------------------------------------------------------------ 4. alibi_bias
    cells += [
        md(r"""
## 4. The ALiBi bias, with a KV cache

The bias itself is a tensor `[n_heads, q_len, k_len]` added to the attention scores
`[..., n_heads, q_len, k_len]` (it broadcasts over the batch). As with causal masks, the
queries are the **last** `q_len` positions of the `k_len` keys: with a KV cache, query $i$
sits at position $i + (k_{len} - q_{len})$. So

$$\text{bias}[h, i, j] = m_h \cdot \big(j - (i + k_{len} - q_{len})\big).$$

It is 0 on the bottom-right-aligned diagonal (a query and its own key), $-m_h$ one key back,
$-2 m_h$ two keys back, and so on. Keys in the query's future get positive values; a causal
mask removes them anyway, so we do not special-case them. Two classic bugs: aligning the bias
top-left ($j - i$) when $q_{len} \ne k_{len}$, which penalises the newest queries as if they
sat at the start of the sequence, and flipping the sign, which rewards distance.

**Worked example** (2 heads: slopes $2^{-4}$ and $2^{-8}$; 2 new queries after 2 cached tokens):

| call | result |
|---|---|
| `alibi_bias(2, 2, 4)` | `[[[-0.125, -0.0625, 0, 0.0625], [-0.1875, -0.125, -0.0625, 0]], [[-0.0078125, -0.00390625, 0, 0.00390625], [-0.01171875, -0.0078125, -0.00390625, 0]]]` |

**Question 4.** Implement `alibi_bias`, using your `alibi_slopes`. It returns float32.
"""),
        *question("alibi_bias", s, """
# The bias of 4 heads for 8 tokens, and of head 0 for 3 new queries after 5 cached tokens.
# One colour scale for all: red = penalty (the past), white = 0 (the diagonal), blue = the
# future (which a causal mask removes). Small slopes barely penalise anything.
try:
    bias = alibi_bias(4, 8)
    scale = bias.abs().max().item()
    fig, axes = plt.subplots(1, 5, figsize=(14, 3))
    for h in range(4):
        axes[h].imshow(bias[h], cmap="RdBu", vmin=-scale, vmax=scale)
        axes[h].set_title(f"head {h}: slope {alibi_slopes(4)[h].item():g}")
        axes[h].set_xlabel("key j")
    axes[0].set_ylabel("query i")
    axes[4].imshow(alibi_bias(4, 3, 8)[0], cmap="RdBu", vmin=-scale, vmax=scale)
    axes[4].set_title("alibi_bias(4, 3, 8), head 0")
    axes[4].set_xlabel("key j")
    plt.tight_layout()
    plt.show()
except NotImplementedError:
    plt.close("all")
    print("alibi_bias is not implemented yet: come back to this plot once it is.")
"""),
    ]

    # ------------------------------------------------------------------ putting it together
    cells += [
        md(r"""
## Putting it together

What does the penalty do to attention? Take a causal head whose scores are all equal (its
queries and keys carry no information), add the ALiBi bias, and apply the softmax: each head
now attends mostly to recent tokens, over a span set by its slope. This cell is not graded.
"""),
        code("""
try:
    T, n_heads = 16, 4
    scores = torch.zeros(n_heads, T, T) + alibi_bias(n_heads, T)
    keep = torch.ones(T, T, dtype=torch.bool).tril()
    weights = torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)
    plt.figure(figsize=(6, 3))
    for h in range(n_heads):
        plt.plot(weights[h, -1], "o-", label=f"head {h}")
    plt.xlabel("key j")
    plt.ylabel("weight of the last query")
    plt.legend()
    plt.title("ALiBi: attention decays with distance, at each head's own rate")
    plt.show()
except NotImplementedError:
    plt.close("all")
    print("not implemented yet")
"""),
        *submitting("positional"),
    ]

    return finish(cells, "positional")

if __name__ == "__main__":
    write(build, "positional")
