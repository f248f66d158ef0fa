"""Bug: alibi_slopes takes n_heads=True as 1 head (bool is an int in Python) instead of refusing it."""

LOSES = {"alibi_slopes"}
HINT = "bool is refused"

import math

import torch


def alibi_slopes(n_heads):
    _whole(int(n_heads) if isinstance(n_heads, bool) else n_heads, "n_heads", 1)

    def power_of_two(n):
        return [2 ** (-8 * (h + 1) / n) for h in range(n)]

    m = 2 ** int(math.log2(n_heads))
    slopes = power_of_two(m) + power_of_two(2 * m)[0::2][: n_heads - m]
    return torch.tensor(slopes, dtype=torch.float32)
