"""Hostile: a fork bomb in a cell. RLIMIT_NPROC bounds it; every process must be gone afterwards,
and the bomb's copies of the worker must not confuse the grader."""

BASE = "correct/plain"

# %% last
import os

while True:
    os.fork()
