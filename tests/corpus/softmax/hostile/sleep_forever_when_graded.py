"""Hostile: a graded function that sleeps forever, but only when the grader calls it (not from
the notebook's own cells): killed at the per-call wall-clock limit. Its base already loses
every point of that question, so the score must not change."""

BASE = "wrong/banned_tensor_method"
LIMITS = {"cell_seconds": 6, "call_seconds": 2}  # small, but the stub's own cells must still fit

# %% functions
import sys
import time


def log_softmax(x, dim=-1):
    if not sys._getframe(1).f_code.co_filename.startswith("<cell"):  # called by the grader
        while True:
            time.sleep(3600)
    return x - x.exp().sum(dim, keepdim=True).log()
