"""Hostile: log_softmax returns the Python int 10**400, which reached float() in a comparator
(OverflowError) and aborted the class run. Now: a wrong answer like any other (the base
already loses log_softmax)."""

BASE = "wrong/banned_tensor_method"

# %% functions


def log_softmax(x, dim=-1):
    return 10**400
