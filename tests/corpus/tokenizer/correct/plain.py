"""Correct: a plain student solution, with dicts and a Counter of distinct pre-tokens."""

import re
from collections import Counter

PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""


def check_specials(special_tokens):
    special_tokens = list(special_tokens)
    if any(not isinstance(t, str) or t == "" for t in special_tokens):
        raise ValueError("special tokens must be non-empty strings")
    if len(set(special_tokens)) < len(special_tokens):
        raise ValueError("special tokens must be distinct")
    return special_tokens


def split_text(text, special_tokens):
    """Pieces of text and special tokens, in order: (piece, is_special)."""
    if not special_tokens:
        return [(text, False)]
    longest_first = sorted(special_tokens, key=len, reverse=True)
    pattern = "(" + "|".join(re.escape(t) for t in longest_first) + ")"
    out = []
    for i, piece in enumerate(re.split(pattern, text)):
        if piece:
            out.append((piece, i % 2 == 1))
    return out


def count_pairs(words):
    counts = {}
    for word, n in words.items():
        i = 0
        while i < len(word) - 1:
            pair = (word[i], word[i + 1])
            counts[pair] = counts.get(pair, 0) + n
            if word[i] == word[i + 1] and i + 2 < len(word) and word[i + 2] == word[i]:
                i += 2  # a b b b: the second (b, b) overlaps the first
            else:
                i += 1
    return counts


def merge(ids, pair, new_id):
    return replace_pair(ids, pair, new_id)


def replace_pair(ids, pair, new_id):
    result = []
    i = 0
    while i < len(ids):
        if i < len(ids) - 1 and (ids[i], ids[i + 1]) == tuple(pair):
            result.append(new_id)
            i += 2
        else:
            result.append(ids[i])
            i += 1
    return result


def train_bpe(text, vocab_size, special_tokens=()):
    special_tokens = check_specials(special_tokens)
    if type(vocab_size) is not int:
        raise ValueError("vocab_size must be an int")
    num_merges = vocab_size - 256 - len(special_tokens)
    if num_merges < 0:
        raise ValueError("vocab_size is too small")
    words = Counter()
    for piece, special in split_text(text, special_tokens):
        if not special:
            for word in re.findall(PATTERN, piece):
                words[tuple(word.encode("utf-8"))] += 1
    vocab = [bytes([i]) for i in range(256)]
    merges = []
    for k in range(num_merges):
        counts = count_pairs(words)
        if not counts:
            break
        best = max(counts.values())
        pair = min(p for p, c in counts.items() if c == best)
        new_id = 256 + k
        merges.append(pair)
        vocab.append(vocab[pair[0]] + vocab[pair[1]])
        new_words = Counter()
        for word, n in words.items():
            new_words[tuple(replace_pair(list(word), pair, new_id))] += n
        words = new_words
    for t in special_tokens:
        vocab.append(t.encode("utf-8"))
    return merges, vocab


def encode(text, merges, special_tokens=()):
    special_tokens = check_specials(special_tokens)
    rank = {}
    for i, (a, b) in enumerate(merges):
        rank[(a, b)] = i
    ids = []
    for piece, special in split_text(text, special_tokens):
        if special:
            ids.append(256 + len(merges) + special_tokens.index(piece))
            continue
        for word in re.findall(PATTERN, piece):
            tokens = list(word.encode("utf-8"))
            while True:
                ranked = [(rank[p], p) for p in zip(tokens, tokens[1:]) if p in rank]
                if not ranked:
                    break
                r, pair = min(ranked)
                tokens = replace_pair(tokens, pair, 256 + r)
            ids += tokens
    return ids


def decode(ids, vocab):
    data = b""
    for i in ids:
        if type(i) is not int or i < 0 or i >= len(vocab):
            raise ValueError(f"bad token id {i!r}")
        data += vocab[i]
    return data.decode("utf-8", errors="replace")
