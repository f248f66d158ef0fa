"""Unit `tokenizer`: a byte-level BPE tokenizer (merge, train_bpe, encode, decode).

Each question's hidden checks compare the student's function with solutions/tokenizer.py on
hypothesis-drawn text (any Unicode: emoji, combining marks, CJK, whitespace runs, special
tokens inside words); the explicit examples aim at the classic bugs, in an order where each
bug fails its own example first. `train_bpe` also has a judged check: training on a text of
about 1 MB that this module generates deterministically (`training_text`) within
TRAIN_CPU_SECONDS of CPU time, 5x the reference's time (1.2 s on the machine the unit was
written on; the corpus's correct variants take 0.3-1.9 s), so that a trainer that rescans
every pre-token occurrence at each merge (minbpe's, over 50 s) loses that check only. Nothing is banned (tiktoken and tokenizers are
not installed where grading runs).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from hypothesis import strategies as st

from ..compare import Exact, Mismatch
from ..spec import Call, Check, Example, Hint, Precomputed, Question, Unit, refusals
from ..worker import Opaque
from . import public_checks

public = public_checks("tokenizer")  # assignments/tokenizer/tokenizer_public.py

TRAIN_CPU_SECONDS = 6  # 5x the reference's 1.2 s on the 1 MB text (128 merges)
BIG_VOCAB_SIZE = 385  # 128 merges and one special token
EOT = "<|endoftext|>"


@functools.cache
def _reference():
    from . import reference

    return reference("tokenizer")


# ----------------------------------------------------------------------------- inputs

# Fragments that make merges happen (repeated letters, spaces before words) and text that tests
# the byte level: accents precomposed and combining, CJK, emoji (4 UTF-8 bytes, and joined by
# U+200D), digits, contractions, whitespace runs.
FRAGMENTS = ("a", "b", "ab", "aa", "aaa", "ba", " ", "  ", "\n", "\t", " the", "the", "é", "e\u0301", "ü",
             "日本", "語", "😀", "👩\u200d💻", "1", "42", "'s", "'ll", "!", "?!", "_", ".", "ß", "ﬁ", "\u00a0")
SPECIALS = ("<|endoftext|>", "<s>", "<|end|>", "<|end|>x")


def _text(min_size=0, max_size=30):
    piece = st.one_of(st.sampled_from(FRAGMENTS), st.characters(exclude_categories=("Cs",)))
    return st.lists(piece, min_size=min_size, max_size=max_size).map("".join)


@st.composite
def _with_specials(draw, specials):
    """Text with the special tokens put anywhere, inside words too."""
    if not specials:
        return draw(_text(0, 30))
    parts = draw(st.lists(st.one_of(_text(0, 4), st.sampled_from(specials)), max_size=12))
    return "".join(parts)


@st.composite
def _specials(draw):
    return draw(st.lists(st.sampled_from(SPECIALS), unique=True, max_size=3))


@st.composite
def corpora(draw, special=False):
    """train_bpe(text, vocab_size, special_tokens): a small corpus, a vocabulary size that may
    exceed what the corpus allows (training then stops early)."""
    specials = draw(_specials()) if special else []
    text = draw(_with_specials(specials))
    vocab_size = 256 + len(specials) + draw(st.integers(0, 25))
    return Call((text, vocab_size, specials), names=("text", "vocab_size", "special_tokens"))


@st.composite
def encodings(draw):
    """encode(text, merges, special_tokens): merges the reference learned on another drawn corpus."""
    specials = draw(_specials())
    corpus = draw(_with_specials(specials))
    merges, _ = _reference().train_bpe(corpus, 256 + len(specials) + draw(st.integers(0, 25)), specials)
    text = draw(st.one_of(_with_specials(specials), st.just(corpus)))
    return Call((text, merges, specials), names=("text", "merges", "special_tokens"))


@st.composite
def round_trips(draw):
    """decode(ids, vocab) with ids = encode(s) by the reference: the answer is s itself."""
    ref = _reference()
    specials = draw(_specials())
    corpus = draw(_with_specials(specials))
    merges, vocab = ref.train_bpe(corpus, 256 + len(specials) + draw(st.integers(0, 25)), specials)
    text = draw(st.one_of(_with_specials(specials), st.just(corpus)))
    return Call((ref.encode(text, merges, specials), vocab), names=("ids", "vocab"))


@st.composite
def any_ids(draw):
    """decode(ids, vocab) with any ids: bytes that need not be valid UTF-8."""
    ref = _reference()
    merges, vocab = ref.train_bpe(draw(_text(0, 20)), 256 + draw(st.integers(0, 10)), [])
    ids = draw(st.lists(st.integers(0, len(vocab) - 1), max_size=12))
    return Call((ids, vocab), names=("ids", "vocab"))


@st.composite
def merge_calls(draw):
    ids = draw(st.lists(st.integers(0, 3), max_size=14))
    pair = draw(st.tuples(st.integers(0, 3), st.integers(0, 3)))
    return Call((ids, pair, draw(st.integers(256, 300))), names=("ids", "pair", "new_id"))


# ----------------------------------------------------------------------------- judging


def _first_difference(expected, got):
    n = min(len(expected), len(got))
    return next((i for i in range(n) if expected[i] != got[i]), n)


def _ints(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _as_pairs(merges):
    if not isinstance(merges, (list, tuple)) or not all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(map(_ints, p)) for p in merges):
        return None
    return [tuple(p) for p in merges]


@dataclass(frozen=True)
class SameTraining:
    """train_bpe's (merges, vocab): the first merge that differs, or the first vocab entry."""

    def __call__(self, expected, got, scale) -> Mismatch | None:
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return Mismatch(f"expected a tuple (merges, vocab), got {_describe(got)}")
        merges, vocab = _as_pairs(got[0]), got[1]
        if merges is None:
            return Mismatch(f"merges must be a list of pairs (a, b) of ints, got {_describe(got[0])}")
        want, want_vocab = expected
        if merges != want:
            i = _first_difference(want, merges)
            return Mismatch(_list_summary("merge", i, want, merges, want_vocab), want, merges)
        if not isinstance(vocab, (list, tuple)) or not all(isinstance(b, bytes) for b in vocab):
            return Mismatch(f"vocab must be a list of bytes, got {_describe(vocab)}")
        if list(vocab) != want_vocab:
            i = _first_difference(want_vocab, vocab)
            return Mismatch(_list_summary("vocab entry", i, want_vocab, list(vocab)), want_vocab, list(vocab))
        return None


@dataclass(frozen=True)
class SameIds:
    """A list of ints (token ids), judged to the first id that differs."""

    def __call__(self, expected, got, scale) -> Mismatch | None:
        if not isinstance(got, (list, tuple)) or not all(map(_ints, got)):
            return Mismatch(f"expected a list of ints, got {_describe(got)}")
        if list(got) != expected:
            i = _first_difference(expected, list(got))
            return Mismatch(_list_summary("id", i, expected, list(got)), expected, list(got))
        return None


def _describe(value) -> str:
    # a value the wire could not carry as plain data (a dict with int keys, a subclass) arrives
    # as an Opaque: show the student's own type name and repr
    name, text = (value.type_name, value.text) if isinstance(value, Opaque) else (type(value).__name__, repr(value))
    return f"{name} {text[:80]}{'...' if len(text) > 80 else ''}"


def _list_summary(what, i, expected, got, vocab=None) -> str:
    def show(items):
        value = items[i]
        if vocab is not None and isinstance(value, tuple) and all(0 <= v < len(vocab) for v in value):
            return f"{value} = {vocab[value[0]] + vocab[value[1]]!r}"
        return repr(value)

    said = f"{len(got)} {what}s, expected {len(expected)}; " if len(got) != len(expected) else ""
    if i < len(got) and i < len(expected):
        return f"{said}{what} {i} is {show(got)}, expected {show(expected)} (the first {i} agree)"
    if i < len(expected):
        return f"{said}the first {i} agree, then {what} {i} is missing: expected {show(expected)}"
    return f"{said}the first {i} agree, then an extra {what} {show(got)}"


def _specials_in_vocab_size(call, expected, got) -> bool:
    """The expected merges, then as many more as there are special tokens, where the reference
    used every merge vocab_size allows (it did not stop early for want of pairs)."""
    text, vocab_size, specials = call.args
    merges = _as_pairs(got[0]) if isinstance(got, (tuple, list)) and len(got) == 2 else None
    want = expected[0]
    return (bool(specials) and merges is not None and len(want) == vocab_size - 256 - len(specials)
            and len(merges) == len(want) + len(specials) and merges[:len(want)] == want)


VOCAB_SIZE = Hint(_specials_in_vocab_size,
                  "vocab_size counts the special tokens too: train only vocab_size - 256 - "
                  "len(special_tokens) merges")


# ----------------------------------------------------------------------------- bugs to catch


def _train(text, vocab_size, specials=()):
    return Call((text, vocab_size, list(specials)), names=("text", "vocab_size", "special_tokens"))


def _encode(text, merges, specials=()):
    return Call((text, merges, list(specials)), names=("text", "merges", "special_tokens"))


def _decode(ids, vocab):
    return Call((ids, vocab), names=("ids", "vocab"))


BYTES = [bytes([i]) for i in range(256)]

TRAIN_EXAMPLES = (
    Example(_train("ab ab", 258, ["<s>"]),
            "vocab_size counts the special tokens too: train only vocab_size - 256 - len(special_tokens) merges"),
    Example(_train("ba ab", 257),
            "ties: among equally frequent pairs merge the smallest pair (a, b), here (32, 97) = b' a', "
            "not the one seen first"),
    Example(_train("aaa bc", 257),
            "count pairs as merge replaces them, without overlap: in b'aaa' the pair (97, 97) occurs "
            "once, not twice"),
    Example(_train("baab ab", 257),
            "count pairs as merge replaces them: only a run of three equal tokens hides an overlapping "
            "pair; in b'baab' the pairs are (98, 97), (97, 97) and (97, 98)"),
    Example(_train("a.a.a.", 257),
            "no merge crosses a pre-token boundary: count pairs inside each pre-token of "
            "re.findall(PATTERN, text) only ('a' and '.' are separate pre-tokens)"),
    Example(_train("x<|s|>x<|s|>", 258, ["<|s|>"]),
            "split the text at the special tokens and leave them out of training: no pair is counted "
            "across or inside a special token (here no pre-token has two bytes: no merge at all)"),
)

ENCODE_EXAMPLES = (
    Example(_encode("abc", [(98, 99), (97, 98)]),
            "apply merges by rank: merge the pair learned first (lowest index in merges), not the "
            "leftmost mergeable pair: here (98, 99) before (97, 98)"),
    Example(_encode("hi<|endoftext|>", [(104, 105)], [EOT]),
            "a special token in the text becomes its own single id 256 + len(merges) + j, "
            "not its bytes"),
    Example(_encode("a<s>b", [(97, 60), (62, 98)], ["<s>"]),
            "split the text at the special tokens before anything else: no merge may join a byte of a "
            "special token with its neighbours"),
    Example(_encode("<|end|>x<|end|>", [], ["<|end|>", "<|end|>x"]),
            "where two special tokens match at one position, the longest wins: split on the special "
            "tokens sorted longest first"),
)

DECODE_EXAMPLES = (
    Example(_decode([195, 169], BYTES),
            "decode the joined bytes once: b''.join(vocab[i] for i in ids).decode('utf-8', "
            "errors='replace'); 'é' is 2 bytes, here in two tokens, so decoding token by token breaks it"),
    Example(_decode([240, 159, 152, 128, 255], BYTES),
            "bytes that are not valid UTF-8 become U+FFFD: decode with errors='replace'"),
)

TRAIN_REFUSALS = refusals(
    "train_bpe",
    Example(_train("ab", 255), "vocab_size=255 leaves no room for the 256 bytes: raise ValueError"),
    Example(_train("ab", 256, ["<s>"]),
            "vocab_size=256 with one special token: vocab_size < 256 + len(special_tokens), raise ValueError"),
    Example(_train("ab", 300, [""]), "a special token must be a non-empty str: raise ValueError"),
    Example(_train("ab", 300, ["<s>", "<s>"]), "special tokens must be distinct: raise ValueError"),
    Example(_train("ab", 300.0), "vocab_size must be an int: raise ValueError for 300.0"),
    Example(_train("ab", True), "vocab_size must be an int (bool is refused): raise ValueError"))

ENCODE_REFUSALS = refusals(
    "encode",
    Example(_encode("ab", [], [""]), "a special token must be a non-empty str: raise ValueError"),
    Example(_encode("ab", [], ["<s>", "<s>"]), "special tokens must be distinct: raise ValueError"))

DECODE_REFUSALS = refusals(
    "decode",
    Example(_decode([256], BYTES), "id 256 is not in range(len(vocab)) = range(256): raise ValueError"),
    Example(_decode([-1], BYTES), "a negative id is not in range(len(vocab)): raise ValueError "
                                  "(vocab[-1] would silently give the last token)"),
    Example(_decode([1.0], BYTES), "ids must be ints: raise ValueError for 1.0"))


# ----------------------------------------------------------------------------- training at scale


def training_text(size: int = 1_000_000, seed: int = 17) -> str:
    """About 1 MB of text, the same every time: sentences of words drawn (Zipf-like) from a
    lexicon of syllables, with accents, CJK, an emoji, numbers, contractions, and an
    <|endoftext|> between "documents". Few distinct words, many occurrences: what a trainer that
    counts each distinct pre-token once is fast on."""
    rng = random.Random(seed)
    syllables = ["ka", "to", "re", "mi", "an", "el", "or", "sú", "ne", "li", "que", "da", "bo", "st", "ië",
                 "th", "in", "ou", "za", "ñe"]
    lexicon = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(3000)]
    lexicon += ["日本語", "東京", "😀", "naïve", "café", "e\u0301", "don't", "it's"]
    weights = [1 / (rank + 1) for rank in range(len(lexicon))]
    parts, n = [], 0
    while n < size:
        sentence = rng.choices(lexicon, weights, k=rng.randint(3, 15))
        if rng.random() < 0.3:
            sentence.insert(rng.randrange(len(sentence)), str(rng.randint(0, 2026)))
        text = " ".join(sentence).capitalize() + rng.choice([".", ".", "!", "?", ",", ";"])
        text += rng.choice([" ", " ", "\n", "\n\n", "  "])
        if rng.random() < 0.01:
            text += EOT
        parts.append(text)
        n += len(text)
    return "".join(parts)[:size]


BIG_CALL = Call(("<the training text>", BIG_VOCAB_SIZE, [EOT]), names=("text", "vocab_size", "special_tokens"))


def big_call(cells=None) -> Call:
    """The judged call (Check.draw): the same Call object every time, whatever the cells."""
    return _big_call()


@functools.cache
def _big_call() -> Call:
    return Call((BIG_TEXT(), BIG_VOCAB_SIZE, [EOT]), names=("text", "vocab_size", "special_tokens"))


# Generating the text (0.8 s of CPU) and training the reference on it (1.2 s) are done once, at
# build time for Gradescope, where half a CPU would make them 4 s of the student's wait.
BIG_TEXT = Precomputed("training_text", training_text)
BIG_EXPECTED = Precomputed("big_expected", lambda: _reference().train_bpe(*big_call().args))


def judge_big_training(call: Call, got) -> tuple[float, str]:
    mismatch = SameTraining()(BIG_EXPECTED(), got, 0.0)
    if mismatch is None:
        return 1.0, ""
    return 0.0, (f"trained on the 1 MB text (train_bpe(text, {BIG_VOCAB_SIZE}, [{EOT!r}])), the result "
                 f"differs from the reference's: {mismatch.summary}")


BIG_HINT = (f"train_bpe on about 1 MB of text must finish within {TRAIN_CPU_SECONDS} s of CPU time: count "
            "each distinct pre-token once, with its number of occurrences (collections.Counter), and apply "
            "each merge to the distinct pre-tokens, not to every occurrence")


# ----------------------------------------------------------------------------- questions

merge_q = Question(
    "merge", functions=("merge",),
    checks=(
        Check("matches the reference on random ids and pairs", "merge", merge_calls(), points=1.5,
              compare=SameIds(), max_examples=60,
              examples=(Example(Call(([7, 7, 7], (7, 7), 300), names=("ids", "pair", "new_id")),
                                "occurrences do not overlap: merge([7, 7, 7], (7, 7), 300) == [300, 7]"),
                        Example(Call(([1, 2, 1, 2], (1, 2), 256), names=("ids", "pair", "new_id")),
                                "replace every occurrence, the last one too"))),
    ))

train_q = Question(
    "train_bpe", functions=("train_bpe",),
    checks=(
        Check("merges and vocabulary equal the reference's on drawn corpora", "train_bpe", corpora(),
              points=2.5, compare=SameTraining(), max_examples=40, hints=(VOCAB_SIZE,),
              examples=TRAIN_EXAMPLES),
        Check("the same with special tokens (anywhere, inside words too)", "train_bpe", corpora(special=True), points=1,
              compare=SameTraining(), max_examples=30, hints=(VOCAB_SIZE,), examples=TRAIN_EXAMPLES[-1:]),
        TRAIN_REFUSALS,
        Check(f"trains on about 1 MB of text within {TRAIN_CPU_SECONDS} s of CPU time, with the reference's "
              "merges", "train_bpe", st.just(BIG_CALL), points=1, judge=judge_big_training,
              cpu_seconds=TRAIN_CPU_SECONDS, draw=big_call, examples=(Example(BIG_CALL, BIG_HINT),)),
    ))

encode_q = Question(
    "encode", functions=("encode",),
    checks=(
        Check("encodings equal the reference's (merges learned on drawn corpora, special tokens inside "
              "words)", "encode", encodings(), points=2.5, compare=SameIds(), max_examples=40,
              examples=ENCODE_EXAMPLES),
        ENCODE_REFUSALS,
    ))

decode_q = Question(
    "decode", functions=("decode",),
    checks=(
        Check("decode(encode(s)) == s on drawn text (any Unicode, emoji, combining marks, whitespace "
              "runs, special tokens)", "decode", round_trips(), points=1.5, compare=Exact(), max_examples=40,
              examples=DECODE_EXAMPLES[:1]),
        Check("ids that are not valid UTF-8 decode with errors='replace'", "decode", any_ids(), points=1,
              compare=Exact(), max_examples=40, examples=DECODE_EXAMPLES[1:]),
        DECODE_REFUSALS,
    ))

UNIT = Unit(
    name="tokenizer",
    questions=(merge_q, train_q, encode_q, decode_q),
    # make audit, 2026-12-06: 100% (40 killed, none equivalent), the timed check included; the
    # students' grader.check flags 12 of the 13 wrong corpus entries (not the slow trainer)
    mutation_floor=0.95,
    precomputed=(BIG_TEXT, BIG_EXPECTED),
)
