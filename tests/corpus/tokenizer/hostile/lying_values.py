"""Hostile: return merges and a vocabulary made of list and bytes subclasses whose == always
says "equal", and ids that compare equal to anything. Comparisons happen in the trusted
process, on plain values only: this must gain nothing."""

BASE = "wrong/tie_first_seen"

# %% functions


class AlwaysEqualList(list):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False


class AlwaysEqualBytes(bytes):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = bytes.__hash__


class AlwaysEqualInt(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


def train_bpe(text, vocab_size, special_tokens=()):
    if type(vocab_size) is not int or vocab_size < 256 + len(special_tokens):
        raise ValueError("vocab_size is too small")
    check_specials(special_tokens)
    return AlwaysEqualList(), AlwaysEqualList(AlwaysEqualBytes(b"x") for _ in range(vocab_size))


class AlwaysEqualStr(str):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = str.__hash__


def encode(text, merges, special_tokens=()):
    check_specials(special_tokens)
    return AlwaysEqualList(AlwaysEqualInt(0) for _ in text)


def decode(ids, vocab):
    for i in ids:
        if type(i) is not int or i < 0 or i >= len(vocab):
            raise ValueError(f"bad token id {i!r}")
    return AlwaysEqualStr("?")
