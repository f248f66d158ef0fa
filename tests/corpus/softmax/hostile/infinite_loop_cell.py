"""Hostile: an infinite loop in a cell (killed at the per-cell wall-clock limit)."""

BASE = "correct/plain"
LIMITS = {"cell_seconds": 6, "call_seconds": 2}  # small, but the stub's own cells must still fit

# %% last
n = 0
while True:
    n += 1
