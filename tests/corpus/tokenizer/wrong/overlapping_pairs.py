"""Bug: counts every adjacent pair with zip(word, word[1:]), so (97, 97) counts twice in
b"aaa", though merging it replaces it only once."""

LOSES = {"train_bpe"}
HINT = "without overlap"


def count_pairs(words):
    counts = {}
    for word, n in words.items():
        for pair in zip(word, word[1:]):
            counts[pair] = counts.get(pair, 0) + n
    return counts
