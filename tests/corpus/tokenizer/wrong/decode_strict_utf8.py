"""Bug: decodes with the default errors="strict", so bytes that are not valid UTF-8 raise
UnicodeDecodeError instead of becoming U+FFFD."""

LOSES = {"decode"}
HINT = "errors='replace'"


def decode(ids, vocab):
    for i in ids:
        if type(i) is not int or i < 0 or i >= len(vocab):
            raise ValueError(f"bad token id {i!r}")
    return b"".join(vocab[i] for i in ids).decode("utf-8")
