"""The prose of the student notebook gpt.ipynb (instructors only); notebook_kit.py makes the
stubs and the closing cells.
`make notebooks` (or .venv/bin/python assignments/gpt/make_notebook.py) writes it.

The toy task's code is copied from the public checks module assignments/gpt/gpt_public.py,
which the grader uses too, so both always agree. The training budget and the credit scale
come from the hidden spec's constants (numbers only).
"""

import ast
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from notebook_kit import code, demo, docstring, finish, md, question, reference, stubs, submitting, write  # noqa: E402

from autograder.units import gpt as spec  # noqa: E402  (constants only: budget, scale)

PUBLIC = Path(__file__).resolve().parent / "gpt_public.py"
TASK_NAMES = ("SORT_LENGTH", "SORT_DIGITS", "SORT_LENGTHS", "SORT_DIGIT_COUNTS", "sort_sizes", "SORT_SIZES",
              "sort_batch", "sort_accuracy")


def config_stub():
    """GPTConfig is a dataclass whose fields are the student's: its docstring, and a raise."""
    source = reference("gpt")
    node = next(n for n in ast.parse(source.read_text()).body if isinstance(n, ast.ClassDef) and n.name == "GPTConfig")
    return ("@dataclass\nclass GPTConfig:\n" + docstring(source, node, "    ")
            + "    # YOUR CODE HERE: the fields (replace this __init__), and __post_init__ for d_mlp\n"
            + "    def __init__(self, *args, **kwargs):\n"
            + '        raise NotImplementedError("GPTConfig: replace this class with the dataclass")\n')


def task_source():
    """The toy task's code, exactly as the grader has it (gpt_public.py)."""
    source = PUBLIC.read_text()
    parts = []
    for node in ast.parse(source).body:
        targets = [node.name] if isinstance(node, ast.FunctionDef) else [
            t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
        if any(t in TASK_NAMES for t in targets):
            parts.append(ast.get_source_segment(source, node))
    return "\n\n\n".join(parts) + (
        "\n\n\ntry:\n    SORT_CONFIG = GPTConfig(**SORT_SIZES)  # the model train_sorter trains\n"
        "except NotImplementedError:\n    print(\"write GPTConfig first: SORT_CONFIG needs it\")\n")


def build():
    s = {**stubs("gpt"), "GPTConfig": config_stub()}
    budget = spec.TRAIN_CPU_SECONDS
    points = {q.name: q.points for q in spec.UNIT.questions}  # the spec's, never restated by hand
    scale = "\n".join(f"| at least {bar:.0%} | {n} of 4 |" for n, bar in enumerate(spec.ACCURACY_BARS, 1))
    cells = [
        md(r"""
# A GPT from scratch

In this notebook you build a small **GPT** (a decoder-only transformer) piece by piece, in the
style of GPT-2 and nanoGPT, then **train it** to sort digits and **sample** from it.

| question | what you write | points |
|---|---|---|
| `layer_norm` | `layer_norm(x, weight, bias, eps=1e-5)` | """ + f"{points['layer_norm']:g}" + r""" |
| `gelu` | `gelu(x)`, the exact GELU | """ + f"{points['gelu']:g}" + r""" |
| `cross_entropy` | `cross_entropy(logits, targets, ignore_index=-100)` | """ + f"{points['cross_entropy']:g}" + r""" |
| `GPT` | `GPTConfig`, `LayerNorm`, `MLP`, `CausalSelfAttention`, `Block`, `GPT` | """ + f"{points['GPT']:g}" + r""" |
| `generate` | `generate(model, idx, max_new_tokens, temperature=0.0, generator=None)` | """ + f"{points['generate']:g}" + r""" |
| `train_sorter` | `train_sorter(steps=600, seed=0, length=6, digits=10)`: train a GPT to sort | """ + f"{points['train_sorter']:g}" + r""" |

**Conventions.** Functions accept any number of leading batch dimensions, return the input's
dtype, and never modify their inputs in place. The model's submodules have **fixed names**
(listed in each docstring), because the grader loads its own weights into your model by name
(`load_state_dict(..., strict=True)`) and compares the logits with its reference.

**Banned calls.** In `layer_norm`, `gelu` and `cross_entropy`: torch's own layer norm, GELU,
cross-entropy / NLL loss and every softmax / log-softmax function. In the model and in
`generate`: `scaled_dot_product_attention`, `nn.MultiheadAttention` and torch's transformer
layers (`torch.softmax` is allowed there). Training may use anything (`torch.optim` included).

**Checking your work.** `grader.check("<question>")` runs public, reference-free checks
(LayerNorm rows have mean 0 and variance 1, uniform logits give a loss of log V, changing a
later token never changes an earlier logit, a tiny GPT can memorise one batch, ...). The
autograder then compares your code with a reference on many more inputs.

Run the next cell first.
"""),
        code("""
import otter
grader = otter.Notebook("gpt.ipynb")

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from torch import nn
"""),
        md(r"""
## 1. LayerNorm

A transformer keeps a **residual stream**: a vector of `d_model` numbers per position that
every block reads from and adds to. Before a block reads it, **LayerNorm** rescales each
position's vector to mean 0 and variance 1, then applies a learned affine map:

$$\mathrm{LN}(x) = \frac{x - \mu}{\sqrt{\sigma^2 + \varepsilon}} \odot w + b,\qquad
\mu = \tfrac1D\sum_i x_i,\quad \sigma^2 = \tfrac1D\sum_i (x_i - \mu)^2 .$$

Two details matter: the variance is the **biased** one (divide by $D$, as `torch.var(...,
unbiased=False)`), and $\varepsilon$ goes **inside** the square root. Worked example:
`x = [1, 2, 3, 6]` has mean 3 and variance 3.5; with `eps = 0.5`, `sqrt(3.5 + 0.5) = 2`, so
`LN(x) = [-1, -0.5, 0, 1.5]` (weight 1, bias 0).
"""),
        *question("layer_norm", s, demo("""
print(layer_norm(torch.tensor([[1.0, 2.0, 3.0, 6.0]]), torch.ones(4), torch.zeros(4), eps=0.5))
""")),
        md(r"""
## 2. GELU

The MLP of each block applies a nonlinearity between its two linear maps. GPT-2 uses the
**GELU**, $\mathrm{GELU}(x) = x\,\Phi(x)$ where $\Phi$ is the standard normal CDF:
$\Phi(x) = \frac12\left(1 + \mathrm{erf}(x/\sqrt2)\right)$. GPT-2's code used a tanh
approximation and some code uses $x\,\sigma(1.702x)$; here you write the **exact** one
(`torch.erf` is allowed). `gelu(1) = 0.8413447`, `gelu(-1) = -0.1586553`.
"""),
        *question("gelu", s, demo("""
print(gelu(torch.tensor([-1.0, 0.0, 1.0, 3.0])))
""")),
        md(r"""
## 3. The loss: cross-entropy

A language model outputs **logits** `[..., V]` at every position; the loss is the mean,
over positions, of $-\log \mathrm{softmax}(\text{logits})[\text{target}]$. Positions whose
target equals `ignore_index` (-100 by default) are left out of both the sum and the count:
we use that to train only on the part of a sequence that can be predicted. Compute the
log-softmax stably: `x - max - log(sum(exp(x - max)))`.
"""),
        *question("cross_entropy", s, demo("""
logits = torch.tensor([[[0.0, math.log(3.0)], [5.0, 1.0], [2.0, 2.0]]])
print(cross_entropy(logits, torch.tensor([[1, -100, 0]])))  # (-log 0.75 + log 2) / 2 = 0.4904
""")),
        md(r"""
## 4. The model

Now the pieces of the GPT, each a small `nn.Module`:

* `GPTConfig`: the sizes (a dataclass).
* `LayerNorm`: your `layer_norm` with learned `weight` (ones) and `bias` (zeros).
* `MLP`: `fc_out(gelu(fc_in(x)))`, widening to `d_mlp = 4 * d_model` and back.
* `CausalSelfAttention`: multi-head attention where position i attends only to j <= i
  (you wrote it in the attention unit; here it has bias and is always causal).
* `Block`: the **pre-LayerNorm** block, which reads from and writes to the residual
  stream: `x = x + attn(ln1(x))`, then `x = x + mlp(ln2(x))`. The `x +` is the residual
  connection: without it, a deep model barely trains.
* `GPT`: token embedding plus **learned positional embedding**, `n_layers` blocks, a final
  LayerNorm `ln_f`, and an **untied** `lm_head` (a separate `nn.Linear(d_model, vocab_size,
  bias=False)`). Initialise weights as GPT-2 does (normal, std 0.02; zero biases): it trains
  much better than PyTorch's defaults here.

The submodule names are fixed (see each docstring): they make up the `state_dict` keys the
grader loads its weights into with `load_state_dict(..., strict=True)`. A model with
`n_layers = 1` must have **exactly** these keys, no more, no fewer:

""" + _state_dict_table() + r"""

**A causal mask is not a weight.** nanoGPT stores its mask with
`self.register_buffer("bias", torch.tril(...))`; a buffer registered that way is saved in the
`state_dict` (here it would show up as `blocks.0.attn.bias`), strict loading rejects it as an
unexpected key, and the question scores 0. Either build the mask in `forward` (e.g. with
`torch.ones(T, T, dtype=torch.bool).tril()`), or keep the buffer out of the `state_dict`:
`self.register_buffer("mask", mask, persistent=False)`. `grader.check("GPT")` tells you if a key
is missing or unexpected.
"""),
        code(s["GPTConfig"]),
        code(s["LayerNorm"]),
        code(s["MLP"]),
        code(s["CausalSelfAttention"]),
        code(s["Block"]),
        code(s["GPT"]),
        code(demo("""
config = GPTConfig(vocab_size=7, n_ctx=6, d_model=8, n_heads=2, n_layers=2)
torch.manual_seed(0)
model = GPT(config)
logits = model(torch.tensor([[1, 2, 3]]))
print(logits.shape)  # torch.Size([1, 3, 7])
print(sorted(model.state_dict())[:6])
""")),
        code('grader.check("GPT")'),
        md(r"""
## 5. Sampling

`generate` extends a prompt one token at a time: feed the sequence so far (only its last
`n_ctx` tokens: the model refuses longer inputs), take the logits of the **last** position,
and pick the next token: the argmax at `temperature = 0` (greedy), otherwise a sample from
`softmax(logits / temperature)`.
"""),
        *question("generate", s, demo("""
torch.manual_seed(0)
model = GPT(GPTConfig(vocab_size=7, n_ctx=6, d_model=8, n_heads=2, n_layers=2))
print(generate(model, torch.tensor([[1, 2]]), 8))  # longer than n_ctx = 6: the context is cropped
""")),
        md(rf"""
## 6. Training: a GPT that sorts

The toy task, from minGPT's demo: read `length` digits (from 0 to `digits - 1`), then write
them in sorted order, e.g. `3 1 4 1 5 9 → 1 1 3 4 5 9` (length 6, 10 digits). The next cell
defines it; the grader uses exactly this code. `sort_batch(batch_size, length=…, digits=…)`
makes training batches (the unsorted half's targets are `-100`, so the loss ignores them),
`sort_accuracy` measures how many sequences a model sorts exactly, and
`GPT(GPTConfig(**sort_sizes(length, digits)))` is the model you train (do not change its sizes:
the grader loads your trained weights into a model of these sizes). `SORT_CONFIG` is that
model for the default task (length {spec.public.SORT_LENGTH}, {spec.public.SORT_DIGITS} digits).

Write `train_sorter`: build `GPT(GPTConfig(**sort_sizes(length, digits)))`, train it on
`sort_batch(64, length=length, digits=digits)` with `cross_entropy` and an optimiser of your
choice (AdamW with a learning rate around `3e-3` and a schedule that lowers it towards the end
works well), and return `(model, losses)`.

**How it is graded.** The task is drawn at grading time: the grader calls
`train_sorter(length=L, digits=D)` with a length `L` in `SORT_LENGTHS`
({', '.join(map(str, spec.public.SORT_LENGTHS))}) and a number of digits `D` in
`SORT_DIGIT_COUNTS` ({', '.join(map(str, spec.public.SORT_DIGIT_COUNTS))}), chosen from a hidden
seed and your code, so your function must train on the task it is given: weights trained in
advance (or pasted into the notebook) do not pass. It runs in the sandbox within
**{budget} s of CPU time** (one core, counting every process your code starts; a few hundred
steps of batch 64 take about a quarter of that; going over the budget scores 0 for this
question). It then loads
your model's `state_dict` into its **reference** GPT and measures greedy exact-match accuracy
on {spec.EVAL_SEQUENCES} fresh sequences of that task it draws itself; a `forward` that sorts
by hard-coded rules earns nothing. Credit:

| exact-sequence accuracy | points |
|---|---|
| below {spec.ACCURACY_BARS[0]:.0%} | 0 of 4 |
{scale}

A loss that becomes NaN (training diverged) scores 0, with a message saying so.
"""),
        code(task_source()),
        code(s["train_sorter"]),
        md(r"""
Train it and plot the loss curve. This cell is tagged `otter_ignore`: the autograder skips it
(it runs `train_sorter()` itself, within the budget), so it costs nothing at grading time.
"""),
        _ignored(code(demo(f"""
import time

# The grader trains on ONE thread and counts its CPU time; measure the same thing here
# (with every core, process_time() would add up all the threads' time).
saved = torch.get_num_threads()
torch.set_num_threads(1)
start = time.process_time()
try:
    sorter, losses = train_sorter()
finally:
    torch.set_num_threads(saved)
print(f"trained in {{time.process_time() - start:.1f}} s of CPU time on one thread (budget: {budget} s)")
plt.plot(losses)
plt.yscale("log")
plt.xlabel("step")
plt.ylabel("training loss")
plt.title("sorting digits")
plt.show()
print("accuracy on 1000 new sequences:", sort_accuracy(sorter, torch.randint(SORT_DIGITS, (1000, SORT_LENGTH)), generate))
print(generate(sorter, torch.tensor([[3, 1, 4, 1, 5, 9]]), SORT_LENGTH))
"""))),
        code('grader.check("train_sorter")'),
        *submitting("gpt"),
    ]
    return finish(cells, "gpt")


def _state_dict_table():
    """The state_dict keys of a 1-layer model, from the public checks (the grader's contract)."""
    keys = spec.public.state_dict_keys(n_layers=1)
    return "```\n" + "\n".join(keys) + "\n```"


def _ignored(cell):
    cell.metadata["tags"] = ["otter_ignore"]
    return cell


if __name__ == "__main__":
    write(build, "gpt")
