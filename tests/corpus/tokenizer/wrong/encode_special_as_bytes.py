"""Bug: encode ignores the special tokens: "<|endoftext|>" is encoded as its bytes (and
merged with its neighbours), not as its own id."""

LOSES = {"encode"}
HINT = "its own single id"


def encode(text, merges, special_tokens=()):
    special_tokens = check_specials(special_tokens)
    rank = {tuple(p): i for i, p in enumerate(merges)}
    ids = []
    for word in re.findall(PATTERN, text):
        tokens = list(word.encode("utf-8"))
        while True:
            ranked = [(rank[p], p) for p in zip(tokens, tokens[1:]) if p in rank]
            if not ranked:
                break
            r, pair = min(ranked)
            tokens = replace_pair(tokens, pair, 256 + r)
        ids += tokens
    return ids
