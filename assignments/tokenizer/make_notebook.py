"""The prose of the student notebook tokenizer.ipynb (instructors only); notebook_kit.py makes the
stubs and the closing cells.
`make notebooks` (or .venv/bin/python assignments/tokenizer/make_notebook.py) writes it.
"""

import ast
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from notebook_kit import code, demo, finish, md, question, reference, stubs, submitting, write  # noqa: E402


def pattern():
    """The reference's PATTERN assignment, verbatim (the rule is part of the API, not a solution)."""
    source = reference("tokenizer").read_text()
    node = next(n for n in ast.parse(source).body
                if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "PATTERN")
    return ast.get_source_segment(source, node)


def budget():
    from autograder.units import tokenizer  # notebook_kit put the project on the path

    return tokenizer.TRAIN_CPU_SECONDS


def build():
    s = stubs("tokenizer")
    cells = []

    # ------------------------------------------------------------------ introduction
    cells += [
        md(r"""
# A byte-level BPE tokenizer

A language model never sees text: it sees a sequence of integers, **token ids**, and it
predicts the next one. The *tokenizer* turns text into ids and back. GPT-2 and most models
since use **byte-level byte-pair encoding (BPE)**: start from the 256 possible bytes, so that
any text at all (any language, emoji, typos) can be encoded, and learn from a training text
which adjacent pairs of tokens to **merge** into new tokens, most frequent first. Frequent
words end up as one token; rare ones are spelled out in pieces, down to single bytes.

In this notebook you will write, in plain Python:

| question | function | what it does |
|---|---|---|
| 1 | `merge(ids, pair, new_id)` | replace each occurrence of a pair by a new id |
| 2 | `train_bpe(text, vocab_size, special_tokens=())` | learn the merges and the vocabulary |
| 3 | `encode(text, merges, special_tokens=())` | text to token ids |
| 4 | `decode(ids, vocab)` | token ids to text |

**Conventions.** A real tokenizer must give the same ids on every machine, so every choice is
fixed, and the grader checks each one (they are also in the docstrings):

- ids `0..255` are the single bytes; merge `i` (0-based) creates id `256 + i`; the special
  tokens come last, in the order given: special token `j` has id `256 + len(merges) + j`.
- The text is split at the special tokens first, then cut into **pre-tokens** by the regular
  expression `PATTERN` below (`re.findall(PATTERN, piece)`). Merges never cross a pre-token
  boundary or a special token.
- A pair is counted the way `merge` replaces it: left to right, **without overlap**.
- The most frequent pair is merged; **ties go to the smallest pair** `(a, b)`.
- `decode` joins the bytes of all tokens and decodes them once, with `errors="replace"`.

Use plain Python (`re`, `collections.Counter`); `tiktoken` and Hugging Face's `tokenizers`
are not installed where your notebook is graded.

**Checking your work.** After each function, `grader.check("<question>")` runs the
*public checks*: the worked examples printed here and properties every correct answer has
(encoding then decoding gives the text back, ...). The autograder then compares your
functions with a reference solution on many more texts (any Unicode: emoji, combining
accents, Chinese, runs of spaces, special tokens in the middle of words), and times
`train_bpe` on about 1 MB of text: it must finish within {budget} s of CPU time (about 5
times what the reference needs). Run the next cell first.
""".replace("{budget}", str(budget()))),
        code(f"""
import otter
grader = otter.Notebook("tokenizer.ipynb")
import re
import time
from collections import Counter

# GPT-2's pre-tokenization rule, written for Python's `re`. Do not change it: the grader uses it.
{pattern()}
"""),
    ]

    # ------------------------------------------------------------------ pre-tokens
    cells += [
        md(r"""
## 0. Bytes and pre-tokens (nothing to write)

Byte-level means the alphabet is bytes, not characters: a text is first turned into its UTF-8
bytes. ASCII characters are one byte; `é` is two, `日` three, `😀` four. A merge may join
the two bytes of `é` into one token, or leave them apart.

Before counting pairs, the text is cut into **pre-tokens**: a word with the space in front of
it (`" the"`), a number, a run of punctuation, whitespace. BPE then merges inside each
pre-token only, so no token ever spans `"dog. The"`: tokens stay meaningful, and the same
word is always tokenized the same way. GPT-2's rule (in `PATTERN`) also splits off the
English contractions `'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d`.

**Special tokens** such as `<|endoftext|>` mark document boundaries. They are cut out of the
text before anything else (where two special tokens match at the same place, the longer
wins), never take part in a merge, and each is encoded as its own single id.
"""),
        code("""
text = "Hello world! It's 2024, naïve café 😀"
print(list("é".encode("utf-8")), list("😀".encode("utf-8")))
print(re.findall(PATTERN, text))
print(re.split("(<\\\\|endoftext\\\\|>)", "one doc<|endoftext|>another"))
"""),
    ]

    # ------------------------------------------------------------------ 1. merge
    cells += [
        md(r"""
## 1. Merging a pair

One BPE step replaces every occurrence of a pair `(a, b)` in a list of ids by a new id.
Scan left to right; when a merge happens, continue **after** the two merged tokens, so
occurrences never overlap: in `[7, 7, 7]` the pair `(7, 7)` occurs once.

| call | result |
|---|---|
| `merge([7, 7, 7], (7, 7), 300)` | `[300, 7]` |
| `merge([7, 7, 7, 7], (7, 7), 300)` | `[300, 300]` |
| `merge([1, 2, 3, 1, 2], (1, 2), 256)` | `[256, 3, 256]` |

**Question 1.** Implement `merge`.
"""),
        *question("merge", s, demo("""
print(merge([7, 7, 7], (7, 7), 300))
print(merge([1, 2, 3, 1, 2], (1, 2), 256))
""")),
    ]

    # ------------------------------------------------------------------ 2. train_bpe
    cells += [
        md(r"""
## 2. Training

Training repeats one step: count every adjacent pair of tokens inside the pre-tokens, merge
the most frequent pair into a new token everywhere, record the merge. The vocabulary grows by
one token per merge, and `vocab_size` counts everything: the 256 bytes, the merges **and the
special tokens**.

Three details decide which answer is right, and each is a classic bug:

- **Counting without overlap.** Count a pair the way `merge` would replace it. In
  `b"aaa bc"` the pre-tokens are `aaa` and ` bc`; `(97, 97)` counts **once** (merging it
  gives `[256, 97]`), so it is tied with `(32, 98)` and `(98, 99)`.
- **Ties.** Equally frequent pairs are common (in small texts, almost every step). Merge the
  **smallest** pair `(a, b)`: `min(counts, key=lambda p: (-counts[p], p))`. Taking the first
  pair seen (`max(counts, key=counts.get)`) depends on the order you counted in.
- **Boundaries.** Count inside pre-tokens only; split the special tokens off first.

Worked examples (the public checks use these):

| call | merges |
|---|---|
| `train_bpe("aaabdaaabac", 259)` | `[(97, 97), (97, 98), (256, 257)]` |
| `train_bpe("ba ab", 257)` | `[(32, 97)]`: three pairs tied at 1, `(32, 97)` is the smallest |
| `train_bpe("aaa bc", 257)` | `[(32, 98)]` |
| `train_bpe("a.a.a.", 257)` | `[]`: every pre-token is one byte |
| `train_bpe("ab ab", 258, ["<s>"])` | `[(97, 98)]`: 258 - 256 - 1 special = 1 merge |
| `train_bpe("x<\|s\|>x<\|s\|>", 258, ["<\|s\|>"])` | `[]`: the two `x` are separate pieces |

The vocabulary is a list of `bytes`: `vocab[i]` for `i < 256` is `bytes([i])`, the token of
merge `(a, b)` is `vocab[a] + vocab[b]`, and the special tokens' UTF-8 bytes come last.

**Speed.** Real training texts are large and repetitive: the same words occur thousands of
times. Count each *distinct* pre-token once with its number of occurrences
(`collections.Counter`), and apply each merge to the distinct pre-tokens. A trainer that goes
over every occurrence at every merge gives the same merges but is many times slower, and the
grader's timed check (about 1 MB of text, 128 merges, {budget} s of CPU time) fails it.

**Question 2.** Implement `train_bpe`. You may call your `merge`.
""".replace("{budget}", str(budget()))),
        *question("train_bpe", s, demo("""
merges, vocab = train_bpe("aaabdaaabac", 259)
print(merges, vocab[256:])
sample = "the cat sat on the mat. the end<|endoftext|>the start " * 200
start = time.process_time()
merges, vocab = train_bpe(sample, 300, ["<|endoftext|>"])
print(f"{len(merges)} merges in {time.process_time() - start:.2f} s of CPU:", vocab[256:266])
""")),
    ]

    # ------------------------------------------------------------------ 3. encode
    cells += [
        md(r"""
## 3. Encoding

To encode a text, split it exactly as in training (special tokens, then pre-tokens, then
bytes), and within each pre-token apply the learned merges **by rank**: while some adjacent
pair is one of the merges, merge the pair that was learned *first* (lowest index in
`merges`). This is not the leftmost mergeable pair: with `merges = [(98, 99), (97, 98)]`,
`"abc"` becomes `[97, 256]` (`bc` first), never `[257, 99]`. A special token in the text
becomes its single id.

| call | result |
|---|---|
| `encode("abc", [(98, 99), (97, 98)])` | `[97, 256]` |
| `encode("hi<\|endoftext\|>", [(104, 105)], ["<\|endoftext\|>"])` | `[256, 257]` |
| `encode("a b", [(97, 32)])` | `[97, 32, 98]`: `" b"` is its own pre-token |
| `encode("<\|end\|>x<\|end\|>", [], ["<\|end\|>", "<\|end\|>x"])` | `[257, 256]`: the longest special token wins |

**Question 3.** Implement `encode`. You may call your `merge`.
"""),
        *question("encode", s, demo("""
print(encode("abc", [(98, 99), (97, 98)]))
print(encode("hi<|endoftext|>", [(104, 105)], ["<|endoftext|>"]))
""")),
    ]

    # ------------------------------------------------------------------ 4. decode
    cells += [
        md(r"""
## 4. Decoding

Decoding looks up each token's bytes and decodes them as UTF-8. Do it **once, on the joined
bytes**: a character's bytes may be split between two tokens (`é` is `[195, 169]`, and the
two bytes may well be two tokens), and decoding each token on its own turns both halves into
`"\ufffd"`. A model can also produce ids whose bytes are not valid UTF-8 at all: such bytes
become U+FFFD (`"\ufffd"`, `errors="replace"`) instead of raising.

| call (`BYTES = [bytes([i]) for i in range(256)]`) | result |
|---|---|
| `decode([104, 105], BYTES)` | `"hi"` |
| `decode([195, 169], BYTES)` | `"é"` |
| `decode([255], BYTES)` | `"\ufffd"` |

**Question 4.** Implement `decode`.
"""),
        *question("decode", s, demo("""
BYTES = [bytes([i]) for i in range(256)]
print(decode([195, 169], BYTES), decode([255], BYTES))
""")),
        md(r"""
## Putting it together (not graded)

Train on a small text, encode a sentence, look at the tokens, and check the round trip.
"""),
        code(demo("""
corpus = "the quick brown fox jumps over the lazy dog. " * 50 + "naïve café 😀 " * 20
merges, vocab = train_bpe(corpus, 300, ["<|endoftext|>"])
ids = encode("the lazy café 😀<|endoftext|>the fox", merges, ["<|endoftext|>"])
print(ids)
print([vocab[i] for i in ids])
print(decode(ids, vocab))
""")),
        *submitting("tokenizer"),
    ]

    return finish(cells, "tokenizer")


if __name__ == "__main__":
    write(build, "tokenizer")
