"""Slow: minbpe's trainer, which keeps every pre-token occurrence and goes over all of them at
every merge. Right merges, but far past the CPU budget on 1 MB of text: it loses the timed
check only."""

LOSES = {"train_bpe"}
HINT = "distinct pre-token"


def train_bpe(text, vocab_size, special_tokens=()):
    special_tokens = check_specials(special_tokens)
    if type(vocab_size) is not int:
        raise ValueError("vocab_size must be an int")
    num_merges = vocab_size - 256 - len(special_tokens)
    if num_merges < 0:
        raise ValueError("vocab_size is too small")
    chunks = []
    for piece, special in split_text(text, special_tokens):
        if not special:
            chunks += [list(w.encode("utf-8")) for w in re.findall(PATTERN, piece)]
    vocab = [bytes([i]) for i in range(256)]
    merges = []
    for k in range(num_merges):
        counts = {}
        for chunk in chunks:
            i = 0
            while i < len(chunk) - 1:
                pair = (chunk[i], chunk[i + 1])
                counts[pair] = counts.get(pair, 0) + 1
                i += 2 if chunk[i] == chunk[i + 1] and i + 2 < len(chunk) and chunk[i + 2] == chunk[i] else 1
        if not counts:
            break
        best = max(counts.values())
        pair = min(p for p, c in counts.items() if c == best)
        merges.append(pair)
        vocab.append(vocab[pair[0]] + vocab[pair[1]])
        chunks = [replace_pair(chunk, pair, 256 + k) for chunk in chunks]
    for t in special_tokens:
        vocab.append(t.encode("utf-8"))
    return merges, vocab
