"""Bug: encodes by merging the leftmost pair that is a merge, not the pair learned first."""

LOSES = {"encode"}
HINT = "by rank"


def encode(text, merges, special_tokens=()):
    special_tokens = check_specials(special_tokens)
    rank = {tuple(p): i for i, p in enumerate(merges)}
    ids = []
    for piece, special in split_text(text, special_tokens):
        if special:
            ids.append(256 + len(merges) + special_tokens.index(piece))
            continue
        for word in re.findall(PATTERN, piece):
            tokens = list(word.encode("utf-8"))
            while True:
                pair = next((p for p in zip(tokens, tokens[1:]) if p in rank), None)
                if pair is None:
                    break
                tokens = replace_pair(tokens, pair, 256 + rank[pair])
            ids += tokens
    return ids
