"""Bug: splits at the special tokens in the order given, not longest first, so "<|end|>x"
is cut as "<|end|>" followed by "x" when "<|end|>" is listed first."""

LOSES = {"encode"}
HINT = "the longest wins"


def encode(text, merges, special_tokens=()):
    special_tokens = check_specials(special_tokens)
    rank = {tuple(p): i for i, p in enumerate(merges)}
    pieces = [(text, False)]
    if special_tokens:
        pattern = "(" + "|".join(re.escape(t) for t in special_tokens) + ")"
        pieces = [(p, i % 2 == 1) for i, p in enumerate(re.split(pattern, text)) if p]
    ids = []
    for piece, special in pieces:
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
