"""Bug: does not refuse a negative id: vocab[-1] silently gives the last token."""

LOSES = {"decode"}
HINT = "negative id"


def decode(ids, vocab):
    for i in ids:
        if type(i) is not int or i >= len(vocab):
            raise ValueError(f"bad token id {i!r}")
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")
