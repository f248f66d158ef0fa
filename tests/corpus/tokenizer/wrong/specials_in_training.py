"""Bug: trains on the text with its special tokens removed (text.replace(token, "")), so the
words on either side of a special token are joined and merged together."""

LOSES = {"train_bpe"}
HINT = "split the text at the special tokens"


def train_bpe(text, vocab_size, special_tokens=()):
    special_tokens = check_specials(special_tokens)
    if type(vocab_size) is not int:
        raise ValueError("vocab_size must be an int")
    num_merges = vocab_size - 256 - len(special_tokens)
    if num_merges < 0:
        raise ValueError("vocab_size is too small")
    for t in special_tokens:
        text = text.replace(t, "")
    words = Counter(tuple(w.encode("utf-8")) for w in re.findall(PATTERN, text))
    vocab = [bytes([i]) for i in range(256)]
    merges = []
    for k in range(num_merges):
        counts = count_pairs(words)
        if not counts:
            break
        best = max(counts.values())
        pair = min(p for p, c in counts.items() if c == best)
        merges.append(pair)
        vocab.append(vocab[pair[0]] + vocab[pair[1]])
        new_words = Counter()
        for word, n in words.items():
            new_words[tuple(replace_pair(list(word), pair, 256 + k))] += n
        words = new_words
    for t in special_tokens:
        vocab.append(t.encode("utf-8"))
    return merges, vocab
