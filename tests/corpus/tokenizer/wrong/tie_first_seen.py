"""Bug: among equally frequent pairs, merges the one counted first (minbpe's
max(stats, key=stats.get)), not the smallest pair."""

LOSES = {"train_bpe"}
HINT = "smallest pair"
SAMPLE = True  # the unit's sample wrong entry: graded in a Gradescope tree and both ways by the fast path


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
        pair = max(counts, key=counts.get)
        merges.append(pair)
        vocab.append(vocab[pair[0]] + vocab[pair[1]])
        new_words = Counter()
        for word, n in words.items():
            new_words[tuple(replace_pair(list(word), pair, 256 + k))] += n
        words = new_words
    for t in special_tokens:
        vocab.append(t.encode("utf-8"))
    return merges, vocab
