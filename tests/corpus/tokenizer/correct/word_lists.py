"""Correct, written differently: training works on a list of [bytes-as-list, count] pairs
mutated in place, finds the best pair with sorted(), and skips words too short to hold it;
encoding caches each distinct pre-token's ids."""

import re

PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""


def validate(special_tokens):
    special_tokens = list(special_tokens)
    for t in special_tokens:
        if type(t) is not str or len(t) == 0:
            raise ValueError("bad special token")
    if len(special_tokens) != len(set(special_tokens)):
        raise ValueError("repeated special token")
    return special_tokens


def chunks(text, special_tokens):
    """Split at special tokens (longest first); special ones are returned as ("special", token)."""
    if not special_tokens:
        return [("text", text)]
    regex = "(" + "|".join(re.escape(t) for t in sorted(special_tokens, key=lambda t: -len(t))) + ")"
    parts = re.split(regex, text)
    return [("special" if k % 2 else "text", p) for k, p in enumerate(parts) if p != ""]


def merge(ids, pair, new_id):
    merged = []
    skip = False
    for k in range(len(ids)):
        if skip:
            skip = False
            continue
        if k + 1 < len(ids) and ids[k] == pair[0] and ids[k + 1] == pair[1]:
            merged.append(new_id)
            skip = True
        else:
            merged.append(ids[k])
    return merged


def train_bpe(text, vocab_size, special_tokens=()):
    special_tokens = validate(special_tokens)
    if type(vocab_size) is not int or vocab_size < 256 + len(special_tokens):
        raise ValueError("vocab_size too small")
    seen = {}
    for kind, part in chunks(text, special_tokens):
        if kind == "text":
            for w in re.findall(PATTERN, part):
                seen[w] = seen.get(w, 0) + 1
    words = [[list(w.encode("utf-8")), n] for w, n in seen.items()]
    vocab = {i: bytes([i]) for i in range(256)}
    merges = []
    while 256 + len(merges) + len(special_tokens) < vocab_size:
        stats = {}
        for ids, n in words:
            k = 0
            while k < len(ids) - 1:
                p = (ids[k], ids[k + 1])
                stats[p] = stats.get(p, 0) + n
                k += 2 if k + 2 < len(ids) and ids[k] == ids[k + 1] == ids[k + 2] else 1
        if len(stats) == 0:
            break
        best = sorted(stats.items(), key=lambda item: (-item[1], item[0]))[0][0]
        new_id = 256 + len(merges)
        merges.append(best)
        vocab[new_id] = vocab[best[0]] + vocab[best[1]]
        for entry in words:
            if len(entry[0]) > 1:
                entry[0] = merge(entry[0], best, new_id)
    out = [vocab[i] for i in range(len(vocab))]
    return merges, out + [t.encode("utf-8") for t in special_tokens]


def encode(text, merges, special_tokens=()):
    special_tokens = validate(special_tokens)
    ranks = {(a, b): r for r, (a, b) in enumerate(merges)}
    cache = {}
    result = []
    for kind, part in chunks(text, special_tokens):
        if kind == "special":
            result.append(256 + len(merges) + special_tokens.index(part))
            continue
        for w in re.findall(PATTERN, part):
            if w not in cache:
                ids = list(w.encode("utf-8"))
                while len(ids) > 1:
                    candidates = [p for p in zip(ids, ids[1:]) if p in ranks]
                    if not candidates:
                        break
                    best = min(candidates, key=ranks.__getitem__)
                    ids = merge(ids, best, 256 + ranks[best])
                cache[w] = ids
            result += cache[w]
    return result


def decode(ids, vocab):
    pieces = []
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, int) or i < 0 or i >= len(vocab):
            raise ValueError(f"no token {i!r}")
        pieces.append(vocab[i])
    return b"".join(pieces).decode("utf-8", errors="replace")
