"""Reference solution for the `tokenizer` unit: a byte-level BPE tokenizer (GPT-2's scheme).

HIDDEN: this file is the grader's source of truth and is never shipped to students.
The docstrings below are copied verbatim into the stub notebook by
assignments/tokenizer/make_notebook.py, so they are written for students: they state every
convention the grader expects. The code is not copied anywhere.

The conventions that make one answer right (docs/units/tokenizer.md):
- ids 0..255 are the 256 single bytes; merge i (0-based) creates id 256 + i; the special
  tokens come last, in the order given: special token j has id 256 + len(merges) + j;
- the text is first split at the special tokens (at each position the longest special token
  that matches), then each piece is cut into pre-tokens by PATTERN (re.findall); no merge ever
  crosses a special token or a pre-token boundary, and special tokens never take part in merges;
- a pair is counted the way `merge` would replace it: left to right, without overlap, so in
  the bytes of "aaa" the pair (a, a) occurs once, not twice; counts are summed over the text;
- the most frequent pair is merged; ties go to the smallest pair (a, b) (smallest a, then b);
- training stops after vocab_size - 256 - len(special_tokens) merges, or earlier when no
  pre-token has two tokens left;
- decode joins the tokens' bytes first and decodes them once, with errors="replace".
"""

import re
from collections import Counter

# GPT-2's pre-tokenization rule, written for Python's `re` (GPT-2 uses the `regex` package's
# \p{L}/\p{N}; here letters are [^\W\d_] and digits \d): contractions, a run of letters, a run
# of digits, a run of other symbols (each optionally after one space), then whitespace. Every
# character matches one of the alternatives, so the pre-tokens always join back into the text.
PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""


# -----------------------------------------------------------------------------
# helpers


def _check_special_tokens(special_tokens):
    special_tokens = list(special_tokens)
    for token in special_tokens:
        if not isinstance(token, str) or not token:
            raise ValueError(f"each special token must be a non-empty str, got {token!r}")
    if len(set(special_tokens)) != len(special_tokens):
        raise ValueError(f"special tokens must be distinct, got {special_tokens}")
    return special_tokens


def _split_special(text, special_tokens):
    """[(piece, is_special)]: the text cut at its special tokens, longest match first."""
    if not special_tokens:
        return [(text, False)]
    # re tries the alternatives in order: longest first, so "<|endoftext|>" wins over "<|end"
    alternatives = sorted(special_tokens, key=len, reverse=True)
    splitter = re.compile("(" + "|".join(re.escape(t) for t in alternatives) + ")")
    pieces = splitter.split(text)  # with a group, the separators are kept at the odd indices
    return [(piece, i % 2 == 1) for i, piece in enumerate(pieces) if piece]


def _pretokens(text, special_tokens):
    """The pre-tokens of the ordinary text between the special tokens, as UTF-8 bytes."""
    words = []
    for piece, special in _split_special(text, special_tokens):
        if not special:
            words.extend(w.encode("utf-8") for w in re.findall(PATTERN, piece))
    return words


def merge(ids, pair, new_id):
    """Replace every occurrence of `pair` in `ids` by `new_id`, scanning left to right.

    Occurrences do not overlap: once two tokens are merged, the scan continues after them.
    So merge([7, 7, 7], (7, 7), 300) == [300, 7] and merge([7, 7, 7, 7], (7, 7), 300) ==
    [300, 300].

    Args:
        ids: a list of ints (token ids).
        pair: a tuple (a, b) of two ints.
        new_id: the int that replaces each occurrence of a followed by b.

    Returns:
        A new list of ints; `ids` is not modified.
    """
    out = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _pair_counts(words):
    """{pair: count} over {word (a tuple of ids): frequency}, counted as `merge` replaces."""
    counts = Counter()
    for word, freq in words.items():
        i = 0
        while i + 1 < len(word):
            counts[word[i], word[i + 1]] += freq
            # a run x x x: the pair (x, x) at i and at i + 1 overlap; merge takes only the first
            i += 2 if word[i] == word[i + 1] and i + 2 < len(word) and word[i + 2] == word[i] else 1
    return counts


# -----------------------------------------------------------------------------
# training, encoding, decoding


def train_bpe(text, vocab_size, special_tokens=()):
    """Learn byte-level BPE merges on `text` for a vocabulary of `vocab_size` tokens.

    The vocabulary is the 256 single bytes (ids 0-255), then one token per merge (merge i
    creates id 256 + i), then the special tokens (special token j gets id
    256 + len(merges) + j). So `vocab_size` counts the special tokens: there are at most
    vocab_size - 256 - len(special_tokens) merges.

    Training:
      1. Split the text at the special tokens (at each position, the longest special token
         that matches there), and drop them: special tokens never take part in a merge.
      2. Cut each remaining piece into pre-tokens with re.findall(PATTERN, piece), and each
         pre-token into its UTF-8 bytes. No merge ever crosses a pre-token boundary.
      3. Repeat: count every adjacent pair of tokens inside the pre-tokens, over the whole
         text. A pair is counted the way `merge` replaces it, left to right without overlap:
         in the bytes of "aaa" the pair (97, 97) counts once, in "aaaa" twice. Merge the most
         frequent pair into a new token (in every pre-token); if several pairs are equally
         frequent, merge the smallest pair (a, b): smallest a, then smallest b.
      4. Stop after vocab_size - 256 - len(special_tokens) merges, or earlier when no
         pre-token has two tokens left (then the vocabulary is smaller than vocab_size).

    Args:
        text: the training text, a str (any Unicode).
        vocab_size: an int >= 256 + len(special_tokens).
        special_tokens: a sequence of distinct, non-empty str, e.g. ["<|endoftext|>"].

    Returns:
        (merges, vocab): `merges` is the list of merged pairs, in the order learned, each a
        tuple (a, b) of two ids; `vocab` is a list of bytes with vocab[i] the bytes of token i:
        bytes([i]) for i < 256, vocab[a] + vocab[b] for the merge (a, b), the UTF-8 encoding
        of each special token last. len(vocab) == 256 + len(merges) + len(special_tokens).

    Raises:
        ValueError: if vocab_size is not an int (bool is refused) or is smaller than
            256 + len(special_tokens); if a special token is not a non-empty str, or two are equal.
    """
    special_tokens = _check_special_tokens(special_tokens)
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise ValueError(f"vocab_size must be an int, got {vocab_size!r}")
    if vocab_size < 256 + len(special_tokens):
        raise ValueError(f"vocab_size={vocab_size} leaves no room for the 256 bytes and "
                         f"{len(special_tokens)} special token(s)")

    # every distinct pre-token once, with its frequency: merges are applied per distinct word
    words = Counter(tuple(w) for w in _pretokens(text, special_tokens))
    vocab = [bytes([i]) for i in range(256)]
    merges = []
    for new_id in range(256, vocab_size - len(special_tokens)):
        counts = _pair_counts(words)
        if not counts:
            break  # every pre-token is a single token
        pair = min(counts, key=lambda p: (-counts[p], p))  # most frequent, then smallest
        merges.append(pair)
        vocab.append(vocab[pair[0]] + vocab[pair[1]])
        merged = Counter()
        for word, freq in words.items():
            merged[tuple(merge(list(word), pair, new_id))] += freq
        words = merged
    vocab.extend(t.encode("utf-8") for t in special_tokens)
    return merges, vocab


def encode(text, merges, special_tokens=()):
    """The token ids of `text` under the learned `merges`.

    The text is split as in training: at the special tokens (longest match first), each of
    which becomes its own id 256 + len(merges) + j; the rest is cut into pre-tokens by
    PATTERN, and each pre-token into its UTF-8 bytes. Within each pre-token, the merges are
    applied by rank: while some adjacent pair is in `merges`, merge (with `merge`) the pair
    that was learned first (lowest index in `merges`), everywhere in the pre-token.

    Args:
        text: a str (any Unicode).
        merges: the list of merged pairs (a, b) that train_bpe returned, in order.
        special_tokens: the special tokens given to train_bpe, in the same order.

    Returns:
        A list of ints. decode(encode(text, merges, special_tokens), vocab) == text.

    Raises:
        ValueError: if a special token is not a non-empty str, or two are equal.
    """
    special_tokens = _check_special_tokens(special_tokens)
    ranks = {tuple(pair): i for i, pair in enumerate(merges)}
    first_special = 256 + len(merges)
    ids = []
    for piece, special in _split_special(text, special_tokens):
        if special:
            ids.append(first_special + special_tokens.index(piece))
            continue
        for word in re.findall(PATTERN, piece):
            tokens = list(word.encode("utf-8"))
            while len(tokens) >= 2:
                pair = min(zip(tokens, tokens[1:]), key=lambda p: ranks.get(p, float("inf")))
                if pair not in ranks:
                    break  # nothing left to merge
                tokens = merge(tokens, pair, 256 + ranks[pair])
            ids.extend(tokens)
    return ids


def decode(ids, vocab):
    """The text of the token ids `ids`: their bytes joined, then decoded as UTF-8 once.

    Decode the joined bytes, not token by token: a character's UTF-8 bytes may be split
    between two tokens. Bytes that are not valid UTF-8 (ids from a model, not from encode)
    become U+FFFD: bytes.decode("utf-8", errors="replace").

    Args:
        ids: a list of ints, each in range(len(vocab)).
        vocab: the list of bytes that train_bpe returned (vocab[i]: the bytes of token i).

    Returns:
        A str.

    Raises:
        ValueError: if an id is not an int (bool is refused) or is not in range(len(vocab)).
    """
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(vocab):
            raise ValueError(f"token id {i!r} is not in range({len(vocab)})")
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")
