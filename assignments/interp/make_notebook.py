"""The prose of the student notebook interp.ipynb (instructors only); notebook_kit.py makes the
stubs and the closing cells.
`make notebooks` (or .venv/bin/python assignments/interp/make_notebook.py) writes it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from notebook_kit import code, finish, md, question, stubs, submitting, write  # noqa: E402


def build():
    s = stubs("interp")
    cells = [
        md(r"""
# Finding induction heads

Language models copy. Having seen "Mr and Mrs Dursley ... Mrs", a model predicts "Dursley"
again: it finds the earlier occurrence of the current token and predicts the token that came
after it. Olsson et al. (2022, *In-context learning and induction heads*) found the circuit
that does this: a **previous-token head** writes "the token before me was A" into each
position, and an **induction head** in a later layer looks for the position whose previous
token equals its own token, then copies what is there.

You will find that circuit in a tiny model, `interp_model.AttnOnlyTransformer` (provided:
read `interp_model.py`): 2 layers of 4 attention heads each, no MLPs, no LayerNorm, trained
on sequences made of a random segment repeated. The first occurrence of a segment is
unpredictable; every later token can be copied. You will read its activations with
**forward hooks**, the basic tool of mechanistic interpretability:

| question | what you write | returns |
|---|---|---|
| 1 | `attention_patterns(model, tokens)` | `[B, n_layers, n_heads, T, T]` |
| 2 | `prev_token_scores(patterns)` | `[n_layers, n_heads]` |
| 3 | `induction_scores(patterns, seg_len)` | `[n_layers, n_heads]` |
| 4 | `find_induction_heads(model, tokens, seg_len, threshold=0.4)` | bool `[n_layers, n_heads]` |
| 5 | `direct_logit_attribution(model, tokens)` | `(embed, heads, bias)` |
| 6 | `logit_lens(model, tokens)` | `[B, n_layers + 1, T, d_vocab]` |
| 7 | `patch_heads(model, clean_tokens, corrupted_tokens, answer, wrong)` | `[n_layers, n_heads]` |

**Conventions.** `tokens` is an int64 tensor `[B, T]` with `1 <= T <= model.n_ctx`.
Your functions must work for **any** `AttnOnlyTransformer`, not just the trained one: the
autograder also runs them on randomly initialised models with other numbers of layers,
heads and widths. Read activations with `module.register_forward_hook(fn)`; `fn(module,
inputs, output)` sees the module's output, and if it returns a tensor, that tensor replaces
the output. Always remove your hooks (`handle.remove()`, in a `finally:`), or they keep
firing on every later forward pass. Never modify the model's weights. Nothing is banned.

**Checking your work.** `grader.check("<question>")` runs public checks: worked examples
and properties every correct answer has (the direct attributions add up to the logit, the
logit lens ends at the model's output, ...). The autograder then compares your functions
with a reference on the trained model and on many random models.

Run the next cell first.
"""),
        code("""
import otter
grader = otter.Notebook("interp.ipynb")

import matplotlib.pyplot as plt
import torch

from interp_model import AttnOnlyTransformer, load_trained, repeated_tokens

model = load_trained()
print(model.n_layers, "layers,", model.n_heads, "heads of width", model.d_head, "; vocabulary", model.d_vocab)
"""),
        md(r"""
## The behaviour to explain

Take a random segment of 20 tokens and repeat it. On the first half the model can only
guess (a loss near $\ln 48 \approx 3.9$); on the second half it has learned, **in context**,
to copy.
"""),
        code("""
tokens = repeated_tokens(8, 20, 2, generator=torch.Generator().manual_seed(0))   # [8, 40]
with torch.no_grad():
    log_probs = model(tokens).log_softmax(-1)[:, :-1].gather(-1, tokens[:, 1:, None])[..., 0]
print(f"loss on the first occurrence:  {-log_probs[:, :19].mean():.2f}")
print(f"loss on the repeat:            {-log_probs[:, 19:].mean():.2f}")
"""),
        md(r"""
## 1. Attention patterns

Each layer's `model.blocks[l].attn.hook_pattern` outputs the pattern `[B, H, T, T]`: row
`i` of head `h` is the distribution over the keys that query `i` attends to. (Its input,
`hook_scores`, holds the scores before the softmax: not what we want.)

**Question 1.** Collect every layer's pattern with forward hooks.
"""),
        *question("attention_patterns", s, """
try:
    patterns = attention_patterns(model, tokens[:1])
    print(patterns.shape)   # [1, 2, 4, 40, 40]
    fig, axes = plt.subplots(model.n_layers, model.n_heads, figsize=(12, 6))
    for l in range(model.n_layers):
        for h in range(model.n_heads):
            axes[l, h].imshow(patterns[0, l, h], cmap="Blues", vmin=0, vmax=1)
            axes[l, h].set_title(f"layer {l}, head {h}")
            axes[l, h].axis("off")
    plt.tight_layout()
    plt.show()
except NotImplementedError:
    print("attention_patterns is not implemented yet")
"""),
        md(r"""
Look at the plots. Some layer-0 heads have a stripe just below the diagonal: they attend to
the **previous token**. Some layer-1 heads, in the second half, have a stripe `seg_len - 1`
below the diagonal: query `t` attends to key `t - seg_len + 1`, the token **after** the
earlier copy of its own token. These are induction heads. Let us measure both.

## 2. Previous-token scores

**Question 2.** The previous-token score of a head is its average attention from each
query `i >= 1` to key `i - 1`.
"""),
        *question("prev_token_scores", s, """
try:
    print(prev_token_scores(attention_patterns(model, tokens)))
except NotImplementedError:
    print("prev_token_scores (or attention_patterns) is not implemented yet")
"""),
        md(r"""
## 3. Induction scores

**Question 3.** On a sequence repeating with period `seg_len`, an induction head at query
`t >= seg_len` attends to key `t - seg_len + 1`. Careful with the offset: key
`t - seg_len` is the earlier copy of the *same* token (a "duplicate-token head"), and with
three or more repeats the most recent earlier copy is one period back, not in the first
repeat.
"""),
        *question("induction_scores", s, """
try:
    print(induction_scores(attention_patterns(model, tokens), 20))
except NotImplementedError:
    print("induction_scores (or attention_patterns) is not implemented yet")
"""),
        md(r"""
## 4. Which heads are induction heads?

**Question 4.** Put questions 1 and 3 together.
"""),
        *question("find_induction_heads", s, """
try:
    print(find_induction_heads(model, tokens, 20))
except NotImplementedError:
    print("find_induction_heads is not implemented yet")
"""),
        md(r"""
## 5. Direct logit attribution

Without MLPs and LayerNorm, the final residual stream is a sum: the embedding, plus every
head's output `z[:, :, h] @ W_O[h]`, plus each layer's output bias `b_O`. The logit of a
token is linear in it, so it splits exactly into one contribution per part: the part's
dot product with that token's unembedding column `W_U[:, token]`. The output bias belongs
to no head: count it once, with `b_U`, in the `bias` part.

**Question 5.** Attribute the logit of each correct next token.
"""),
        *question("direct_logit_attribution", s, """
try:
    embed, heads, bias = direct_logit_attribution(model, tokens)
    second_half = heads[:, 20:].mean((0, 1))    # [n_layers, n_heads], on the repeat
    print("mean direct contribution of each head to the correct logit, on the repeat:")
    print(second_half)
except NotImplementedError:
    print("direct_logit_attribution is not implemented yet")
"""),
        md(r"""
## 6. The logit lens

**Question 6.** Unembed the residual stream after the embedding and after every block, as
if the model stopped there.
"""),
        *question("logit_lens", s, """
try:
    lens = logit_lens(model, tokens)                      # [B, L + 1, T, V]
    log_probs = lens.log_softmax(-1)[:, :, :-1].gather(-1, tokens[:, None, 1:, None].expand(-1, lens.shape[1], -1, 1))[..., 0]
    for l in range(lens.shape[1]):
        print(f"after {'the embedding' if l == 0 else f'block {l - 1}'}: loss on the repeat "
              f"{-log_probs[:, l, 19:].mean():.2f}")
except NotImplementedError:
    print("logit_lens is not implemented yet")
"""),
        md(r"""
## 7. Activation patching

Correlation is not causation: a head can look like an induction head without the model
needing it. Patching tests causation. Take a **clean** input where the model copies (a
repeated segment, cut just before the token to predict) and a **corrupted** one where the
earlier copy of that token is changed, so induction now predicts the changed token. The
logit difference `answer - wrong` is high on the clean run and low on the corrupted one.
Now run the corrupted input again, but replace one head's output by its value on the clean
run: how much of the logit difference comes back?

**Question 7.** Patch each head in turn.
"""),
        *question("patch_heads", s, """
segment = repeated_tokens(1, 12, 1, generator=torch.Generator().manual_seed(1))[0]
clean = torch.cat([segment, segment[:7]])[None]       # the last token is segment[6]: next comes segment[7]
corrupted = clean.clone()
corrupted[0, 7] = (corrupted[0, 7] + 1) % model.d_vocab  # the earlier copy of segment[7], changed
try:
    restored = patch_heads(model, clean, corrupted, clean[:, 7], corrupted[:, 7])
    plt.imshow(restored, cmap="RdBu", vmin=-1, vmax=1)
    plt.colorbar(label="fraction of the logit difference restored")
    plt.xlabel("head")
    plt.ylabel("layer")
    plt.title("activation patching of each head's output")
    plt.show()
    print(restored)
except NotImplementedError:
    print("patch_heads is not implemented yet")
"""),
        *submitting("interp"),
    ]
    return finish(cells, "interp")


if __name__ == "__main__":
    write(build, "interp")
