"""Correct, written differently: training keeps the pair counts up to date incrementally (only
the distinct words that contain the merged pair are recounted), encode applies every merge in
the order learned (the same as lowest rank first, since a merge never creates an earlier
merge's pair), decode fills a bytearray."""

import re
from collections import Counter, defaultdict

PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""


def _specials(tokens):
    tokens = list(tokens)
    if not all(isinstance(t, str) and t for t in tokens) or len(set(tokens)) != len(tokens):
        raise ValueError(f"invalid special tokens {tokens!r}")
    return tokens


def _pieces(text, specials):
    if not specials:
        yield text, False
        return
    splitter = re.compile("|".join(map(re.escape, sorted(specials, key=len, reverse=True))))
    start = 0
    for match in splitter.finditer(text):
        yield text[start:match.start()], False
        yield match.group(), True
        start = match.end()
    yield text[start:], False


def _counts_of(word):
    """Non-overlapping pair counts of one word."""
    counts = Counter()
    i = 0
    while i + 1 < len(word):
        counts[word[i], word[i + 1]] += 1
        i += 2 if (i + 2 < len(word) and word[i] == word[i + 1] == word[i + 2]) else 1
    return counts


def merge(ids, pair, new_id):
    a, b = pair
    out, i, n = [], 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
            continue
        out.append(ids[i])
        i += 1
    return out


def train_bpe(text, vocab_size, special_tokens=()):
    specials = _specials(special_tokens)
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 256 + len(specials):
        raise ValueError(f"invalid vocab_size {vocab_size!r}")
    freq = Counter()
    for piece, special in _pieces(text, specials):
        if not special:
            freq.update(re.findall(PATTERN, piece))
    words = [list(w.encode("utf-8")) for w in freq]
    counts = list(freq.values())
    pairs = Counter()
    where = defaultdict(set)  # pair -> indices of the words that contain it
    for index, word in enumerate(words):
        for pair, c in _counts_of(word).items():
            pairs[pair] += c * counts[index]
            where[pair].add(index)
    merges, vocab = [], [bytes([i]) for i in range(256)]
    while len(vocab) < vocab_size - len(specials):
        live = {p: c for p, c in pairs.items() if c > 0}
        if not live:
            break
        best = min(live, key=lambda p: (-live[p], p))
        new_id = len(vocab)
        merges.append(best)
        vocab.append(vocab[best[0]] + vocab[best[1]])
        for index in sorted(where.pop(best, ())):
            old = words[index]
            for pair, c in _counts_of(old).items():
                pairs[pair] -= c * counts[index]
            words[index] = merge(old, best, new_id)
            for pair, c in _counts_of(words[index]).items():
                pairs[pair] += c * counts[index]
                where[pair].add(index)
        pairs.pop(best, None)
    vocab += [t.encode("utf-8") for t in specials]
    return merges, vocab


def encode(text, merges, special_tokens=()):
    specials = _specials(special_tokens)
    ids = []
    for piece, special in _pieces(text, specials):
        if special:
            ids.append(256 + len(merges) + specials.index(piece))
            continue
        for word in re.findall(PATTERN, piece):
            tokens = list(word.encode("utf-8"))
            for rank, pair in enumerate(merges):
                if len(tokens) < 2:
                    break
                tokens = merge(tokens, tuple(pair), 256 + rank)
            ids.extend(tokens)
    return ids


def decode(ids, vocab):
    out = bytearray()
    for i in ids:
        if type(i) is not int or not 0 <= i < len(vocab):
            raise ValueError(f"token id {i!r} out of range")
        out += vocab[i]
    return out.decode("utf-8", "replace")
