"""Bug: decodes each token to str on its own and joins the strings, which breaks a character
whose UTF-8 bytes are split between two tokens."""

LOSES = {"decode"}
HINT = "joined bytes"


def decode(ids, vocab):
    for i in ids:
        if type(i) is not int or i < 0 or i >= len(vocab):
            raise ValueError(f"bad token id {i!r}")
    return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)
