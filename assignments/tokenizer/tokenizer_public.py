"""Public checks for the `tokenizer` unit: what `grader.check("<question>")` runs.

You may read this file: it contains no reference solution. Every check tests a property that
any correct implementation has (the vocabulary is built from the merges, encoding then decoding
gives the text back, ...) or a worked example whose answer is printed in the notebook. Passing
them all is a good sign, not a guarantee: the grader also compares your functions with a
reference on many more inputs, and times train_bpe on about 1 MB of text.

Each check is a plain function that takes your function as a keyword argument, named like
the function in the notebook, e.g. ``merge_worked_examples(merge=merge)``, and raises
AssertionError with the failing input when the property does not hold. Random inputs are
drawn by hypothesis with a fixed seed, so a check gives the same verdict every time.

This module needs only the Python standard library and hypothesis (and torch, through the
shared helpers).
"""

import re

from hypothesis import given
from hypothesis import strategies as st

import _public_kit as kit  # assignments/_public_kit.py, shipped beside this module

# The notebook's pre-tokenization rule (the same constant).
PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
BYTES = [bytes([i]) for i in range(256)]

CHECKS, _check = kit.registry()
_SETTINGS = kit.hypothesis_settings(max_examples=30)

_PROBES = {
    "merge": lambda f: f([1, 2], (1, 2), 256),
    "train_bpe": lambda f: f("ab", 257),
    "encode": lambda f: f("ab", []),
    "decode": lambda f: f([97], BYTES),
}


def _run(prop, fn, name):
    kit.run(prop, fn, name, _PROBES[name])


def _expect(fn, name, args, expected, what):
    out, call = kit.call(fn, name, *args)
    if out != expected:
        raise AssertionError(f"{call} returned {out!r}, expected {expected!r} ({what})")
    return out


_texts = st.lists(st.one_of(st.sampled_from(["a", "b", "ab", " ", "  ", "\n", "é", "e\u0301", "日本", "😀",
                                             "'s", "42", "!"]),
                            st.characters(exclude_categories=("Cs",))), max_size=20).map("".join)


# -----------------------------------------------------------------------------
# merge


@_check("merge")
def merge_worked_examples(merge):
    """matches the worked examples in the notebook"""
    _expect(merge, "merge", ([7, 7, 7], (7, 7), 300), [300, 7], "occurrences do not overlap")
    _expect(merge, "merge", ([7, 7, 7, 7], (7, 7), 300), [300, 300], "left to right, without overlap")
    _expect(merge, "merge", ([1, 2, 3, 1, 2], (1, 2), 256), [256, 3, 256], "every occurrence")
    _expect(merge, "merge", ([2, 1], (1, 2), 256), [2, 1], "(2, 1) is not the pair (1, 2)")
    ids = [1, 2, 1, 2]
    kit.call(merge, "merge", ids, (1, 2), 256)
    if ids != [1, 2, 1, 2]:
        raise AssertionError(f"merge([1, 2, 1, 2], (1, 2), 256) modified ids in place: now {ids}")


@_check("merge")
def merge_can_be_undone(merge):
    """replacing each new id by the pair gives the ids back"""

    @_SETTINGS
    @given(st.lists(st.integers(0, 3), max_size=12), st.integers(0, 3), st.integers(0, 3))
    def prop(ids, a, b):
        out, call = kit.call(merge, "merge", list(ids), (a, b), 256)
        undone = [t for i in out for t in ((a, b) if i == 256 else (i,))]
        if undone != ids:
            raise AssertionError(f"{call} returned {out!r}: replacing 256 by {a}, {b} gives {undone}, not the ids")

    _run(prop, merge, "merge")


# -----------------------------------------------------------------------------
# train_bpe


def _train(train_bpe, text, vocab_size, specials=None):
    args = (text, vocab_size) if specials is None else (text, vocab_size, specials)
    out, call = kit.call(train_bpe, "train_bpe", *args)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise AssertionError(f"{call} returned {type(out).__name__}, expected a tuple (merges, vocab)")
    return [tuple(p) for p in out[0]], out[1], call


@_check("train_bpe")
def train_bpe_worked_examples(train_bpe):
    """matches the worked examples in the notebook"""
    examples = [
        (("aaabdaaabac", 259), [(97, 97), (97, 98), (256, 257)], "the classic example"),
        (("ba ab", 257), [(32, 97)], "ties go to the smallest pair: (32, 97) < (97, 98) < (98, 97)"),
        (("aaa bc", 257), [(32, 98)], "in b'aaa' the pair (97, 97) counts once, not twice"),
        (("a.a.a.", 257), [], "'a' and '.' are separate pre-tokens: no pair inside a pre-token"),
        (("ab ab", 258, ["<s>"]), [(97, 98)], "vocab_size counts the special token: 258 - 256 - 1 = 1 merge"),
        (("x<|s|>x<|s|>", 258, ["<|s|>"]), [], "special tokens are split off and never merged"),
    ]
    for args, expected, what in examples:
        merges, _, call = _train(train_bpe, *args)
        if merges != expected:
            raise AssertionError(f"{call} learned merges {merges}, expected {expected} ({what})")


@_check("train_bpe")
def vocabulary_is_built_from_the_merges(train_bpe):
    """vocab = the 256 bytes, then vocab[a] + vocab[b] per merge, then the special tokens"""

    @_SETTINGS
    @given(_texts, st.integers(0, 20), st.lists(st.sampled_from(["<s>", "<|endoftext|>"]), unique=True))
    def prop(text, extra, specials):
        vocab_size = 256 + len(specials) + extra
        merges, vocab, call = _train(train_bpe, text, vocab_size, specials)
        if len(merges) > extra:
            raise AssertionError(f"{call} learned {len(merges)} merges: at most vocab_size - 256 - "
                                 f"len(special_tokens) = {extra}")
        if len(vocab) != 256 + len(merges) + len(specials):
            raise AssertionError(f"{call}: len(vocab) is {len(vocab)}, expected 256 + {len(merges)} merges + "
                                 f"{len(specials)} special tokens")
        expected = list(BYTES)
        for a, b in merges:
            if not (0 <= a < len(expected) and 0 <= b < len(expected)):
                raise AssertionError(f"{call}: merge {(a, b)} uses an id that does not exist yet")
            expected.append(expected[a] + expected[b])
        expected += [s.encode("utf-8") for s in specials]
        if list(vocab) != expected:
            i = next(i for i, (x, y) in enumerate(zip(vocab, expected)) if x != y)
            raise AssertionError(f"{call}: vocab[{i}] is {vocab[i]!r}, expected {expected[i]!r}")
        pieces = [p.encode("utf-8") for part in _split(text, specials) for p in re.findall(PATTERN, part)]
        for token in vocab[256:256 + len(merges)]:
            if not any(token in p for p in pieces):
                raise AssertionError(f"{call}: the token {token!r} is in no pre-token of the text: "
                                     "merges must not cross pre-tokens or special tokens")

    _run(prop, train_bpe, "train_bpe")


def _split(text, specials):
    if not specials:
        return [text]
    return re.split("|".join(re.escape(s) for s in sorted(specials, key=len, reverse=True)), text)


@_check("train_bpe")
def train_bpe_rejects_invalid_arguments(train_bpe):
    """raises ValueError for a vocab_size too small, or bad special tokens"""
    kit.expect_value_error(train_bpe, "train_bpe", [
        (("ab", 255), {}, "vocab_size must be at least 256"),
        (("ab", 256, ["<s>"]), {}, "vocab_size must leave room for the special token"),
        (("ab", 300, [""]), {}, "a special token must be a non-empty str"),
        (("ab", 300, ["<s>", "<s>"]), {}, "special tokens must be distinct"),
    ])


# -----------------------------------------------------------------------------
# encode


@st.composite
def _merges(draw):
    """Any valid merge list: merge i joins two ids that exist before it."""
    merges = []
    for i in range(draw(st.integers(0, 12))):
        ids = st.one_of(st.sampled_from([32, 97, 98, 195, 169]), st.integers(0, 255 + i))
        merges.append((draw(ids), draw(ids)))
    return merges


@_check("encode")
def encode_worked_examples(encode):
    """matches the worked examples in the notebook"""
    _expect(encode, "encode", ("abc", [(98, 99), (97, 98)]), [97, 256],
            "merges apply by rank: (98, 99) was learned first")
    _expect(encode, "encode", ("hi<|endoftext|>", [(104, 105)], ["<|endoftext|>"]), [256, 257],
            "a special token is one id, 256 + len(merges) + j")
    _expect(encode, "encode", ("a b", [(97, 32)]), [97, 32, 98], "' b' is its own pre-token: no merge across")
    _expect(encode, "encode", ("<|end|>x<|end|>", [], ["<|end|>", "<|end|>x"]), [257, 256],
            "where two special tokens match at one place, the longest wins")


@_check("encode")
def encode_rejects_invalid_special_tokens(encode):
    """raises ValueError for an empty or a repeated special token"""
    kit.expect_value_error(encode, "encode", [
        (("ab", [], [""]), {}, "a special token must be a non-empty str"),
        (("ab", [], ["<s>", "<s>"]), {}, "special tokens must be distinct"),
    ])


@_check("encode")
def encode_then_decode_gives_the_text(encode):
    """joining the tokens' bytes gives the text back, for any valid merges and special tokens"""

    @_SETTINGS
    @given(_texts, _merges(), st.lists(st.sampled_from(["<s>", "<|endoftext|>"]), unique=True), st.data())
    def prop(text, merges, specials, data):
        if specials:
            where = data.draw(st.integers(0, len(text)))
            text = text[:where] + specials[0] + text[where:]
        out, call = kit.call(encode, "encode", text, merges, specials)
        vocab = list(BYTES)
        for a, b in merges:
            vocab.append(vocab[a] + vocab[b])
        vocab += [s.encode("utf-8") for s in specials]
        if not all(isinstance(i, int) and 0 <= i < len(vocab) for i in out):
            raise AssertionError(f"{call} returned {out!r}: ids must be ints in range({len(vocab)})")
        back = b"".join(vocab[i] for i in out)
        if back != text.encode("utf-8"):
            raise AssertionError(f"{call} returned {out!r}, whose bytes are {back!r}, not the text's "
                                 f"{text.encode('utf-8')!r}")

    _run(prop, encode, "encode")


# -----------------------------------------------------------------------------
# decode


@_check("decode")
def decode_worked_examples(decode):
    """matches the worked examples in the notebook"""
    _expect(decode, "decode", ([104, 105], BYTES), "hi", "plain ASCII")
    _expect(decode, "decode", ([195, 169], BYTES), "é", "'é' is 2 bytes, here in 2 tokens: join the bytes, then decode")
    _expect(decode, "decode", ([255], BYTES), "\ufffd", "invalid UTF-8 becomes U+FFFD (errors='replace')")
    _expect(decode, "decode", ([256, 33], BYTES + [b"\xc3\xa9"]), "é!", "token 256 is the bytes of 'é'")


@_check("decode")
def decode_rejects_ids_outside_the_vocabulary(decode):
    """raises ValueError for an id that is not in range(len(vocab)), a negative one too"""
    kit.expect_value_error(decode, "decode", [
        (([256], BYTES), {}, "id 256 is not in range(256)"),
        (([-1], BYTES), {}, "a negative id is not in range(256) (vocab[-1] would be the last token)"),
        (([1.0], BYTES), {}, "ids must be ints"),
    ])


@_check("decode")
def decode_of_the_bytes_gives_the_text(decode):
    """decoding a text's UTF-8 bytes, one token per byte, gives the text back"""

    @_SETTINGS
    @given(_texts)
    def prop(text):
        out, call = kit.call(decode, "decode", list(text.encode("utf-8")), BYTES)
        if out != text:
            raise AssertionError(f"{call} returned {out!r}, expected {text!r}")

    _run(prop, decode, "decode")
