"""The prose of the student notebook sampling.ipynb (instructors only); notebook_kit.py makes the
stubs and the closing cells.
`make notebooks` (or .venv/bin/python assignments/sampling/make_notebook.py) writes it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from notebook_kit import code, finish, md, question, stubs, submitting, write  # noqa: E402


def _try(source):
    return f"""
# Try it (this cell is only for you; it is not graded).
try:
{source}
except NotImplementedError as err:
    print("not implemented yet:", err)
"""


def build():
    s = stubs("sampling")
    cells = [
        md(r"""
# Sampling: from logits to text

A language model gives, at each step, a row of **logits** `[B, V]`: one score per token of
the vocabulary. Greedy decoding takes the argmax and produces dull, repetitive text; real
decoders *sample*. How they sample decides how the text reads: the **temperature** sharpens
or flattens the distribution, **top-k** and **nucleus (top-p)** filtering cut off the long
tail of unlikely tokens. In this notebook you write each piece, then a sampler.

| question | function | what it does |
|---|---|---|
| 1 | `apply_temperature(logits, temperature)` | `logits / temperature` |
| 2 | `top_k_filter(logits, k)` | keep the k largest logits, the others `-inf` |
| 3 | `top_p_filter(logits, p)` | keep the smallest set of tokens holding probability `p` |
| 4 | `sampling_probs(logits, temperature, top_k, top_p)` | the distribution a token is drawn from |
| 5 | `sample(logits, temperature, top_k, top_p, generator)` | draw one token per row |
| 6 | `forward_cached(model, idx, cache)` | incremental decoding with a key/value cache |

**Conventions.** Filters return a NEW tensor (never modify `logits` in place) in which
filtered tokens are `-inf` (never a large negative number: `softmax` then gives them
probability exactly 0). Every random number comes from the `generator` you are given.

**How the sampler is graded.** There is more than one right way to sample (`torch.multinomial`,
the inverse CDF, the Gumbel-max trick), and they draw different tokens from the same seed. So
the grader does not compare tokens: it asks your `sample` for 20000 tokens of one row at once
and tests whether their frequencies follow the right probabilities, with an exact statistical
test that fails a correct sampler with probability at most one in a million (and with fixed
seeds, so your grade never changes between runs). It also checks that another generator seed
gives other tokens.

Run the next cell first.
"""),
        code("""
import otter
grader = otter.Notebook("sampling.ipynb")

import math

import torch
from sampling_model import GPT   # provided: the model of question 6
"""),
        md(r"""
## 1. Temperature

Dividing the logits by a temperature $T$ before the softmax gives
$p_i \propto e^{x_i / T}$: $T < 1$ sharpens the distribution (towards greedy), $T > 1$
flattens it (towards uniform). It must divide the **logits**: dividing the probabilities
after the softmax changes nothing once they are renormalised.

**Question 1.** Implement `apply_temperature`.
"""),
        *question("apply_temperature", s, _try("""    print(apply_temperature(torch.tensor([[2.0, -1.0, 0.5]]), 0.5))  # [[4, -2, 1]]""")),
        md(r"""
## 2. Top-k

Keep the `k` largest logits of each row and set the others to `-inf`. With ties the rule
must say which tokens stay: here exactly `k` are kept, and among equal logits the one of
lower index goes first (a *stable* sort in descending order). `logits < kth_largest`, the
one-liner you may have seen, keeps every tied token and so more than `k`.

| call | result |
|---|---|
| `top_k_filter(torch.tensor([[1., 3., 1., 3., 0., 1.]]), 3)` | `[[1., 3., -inf, 3., -inf, -inf]]` |

**Question 2.** Implement `top_k_filter`.
"""),
        *question("top_k_filter", s, _try("""    print(top_k_filter(torch.tensor([[1.0, 3.0, 1.0, 3.0, 0.0, 1.0]]), 3))""")),
        md(r"""
## 3. Nucleus (top-p) filtering

Sort the tokens by probability, add them up, and keep the smallest prefix whose mass reaches
`p`: the token that makes the running sum reach or cross `p` is **kept** (a token is dropped
only if the ones before it already hold `p`). So the most probable token always stays.

| probabilities | `p` | kept |
|---|---|---|
| `[0.5, 0.3, 0.15, 0.05]` | 0.7 | the first two (0.5 < 0.7, then 0.8 >= 0.7) |
| `[0.5, 0.3, 0.15, 0.05]` | 0.4 | the first one |

**Question 3.** Implement `top_p_filter`.
"""),
        *question("top_p_filter", s, _try("""    print(top_p_filter(torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log(), 0.7))""")),
        md(r"""
## 4. The sampling distribution

Put the pieces together, in this order: temperature, top-k, top-p, softmax. The softmax over
the kept logits renormalises: the kept probabilities sum to 1 again.

| call | result |
|---|---|
| `sampling_probs(torch.tensor([[0.0, math.log(2.0)]]), temperature=0.5)` | `[[0.2, 0.8]]` |
| `sampling_probs(torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log(), top_p=0.7)` | `[[0.625, 0.375, 0., 0.]]` |

**Question 4.** Implement `sampling_probs`.
"""),
        *question("sampling_probs", s, _try("""    print(sampling_probs(torch.tensor([[0.0, math.log(2.0)]]), temperature=0.5))  # [[0.2, 0.8]]""")),
        md(r"""
## 5. The sampler

Draw one token per row from `sampling_probs(...)`. `torch.multinomial(probs, 1,
generator=generator)` does it; so does the inverse CDF (a uniform number `u` from the
generator, then the first token whose cumulative probability exceeds `u`), and so does the
Gumbel-max trick (`argmax(log probs + Gumbel noise)`). Sample from the probabilities, not
from the logits.

**Question 5.** Implement `sample`.
"""),
        *question("sample", s, _try("""    g = torch.Generator().manual_seed(0)
    tokens = sample(torch.tensor([[0.0, math.log(4.0)]]).expand(1000, 2), generator=g)
    print("share of token 1:", (tokens == 1).float().mean().item(), "(expected 0.8)")""")),
        md(r"""
## 6. Incremental decoding with a key/value cache

Generating T tokens by running the whole sequence each step costs O(T^2) token-passes. But a
causal model's keys and values of earlier positions never change when tokens are appended: keep
them in a **cache**, and each step runs only the new token. `forward_cached(model, idx, cache)`
runs the new tokens `idx [B, T_new]` through the provided `sampling_model.GPT` (read
`sampling_model.py`), given the cached keys and values of the `T_past` earlier tokens, and
returns their logits and the grown cache. The logits must equal running the whole sequence.

Two things go wrong in practice: the new keys appended along the wrong axis (the cache is
`[B, n_heads, T, d_head]`: time is dim 2), and the positions restarted at 0 (the new tokens sit at
positions `T_past, T_past + 1, ...`).

**Question 6.** Implement `forward_cached`.
"""),
        *question("forward_cached", s, _try("""    torch.manual_seed(0)
    model = GPT(vocab_size=7, n_ctx=8, d_model=6, n_heads=3, n_layers=2).eval()
    idx = torch.tensor([[1, 4, 2, 6, 0, 3]])
    with torch.no_grad():
        logits, cache = forward_cached(model, idx[:, :4])
        step, cache = forward_cached(model, idx[:, 4:], cache)
        print("largest difference from the full forward:", (step - model(idx)[:, 4:]).abs().max().item())""")),
        *submitting("sampling"),
    ]
    return finish(cells, "sampling")


if __name__ == "__main__":
    write(build, "sampling")
