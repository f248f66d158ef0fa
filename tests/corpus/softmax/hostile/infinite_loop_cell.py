"""Hostile: an infinite loop in a cell (killed at the per-cell wall-clock limit)."""

BASE = "correct/plain"
LIMITS = {"cell_seconds": 3, "call_seconds": 2}

# %% last
n = 0
while True:
    n += 1
