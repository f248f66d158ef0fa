"""Hostile: flood stdout and stderr (the output file size limit stops it)."""

BASE = "correct/plain"

# %% last
import sys

line = "spam " * 200 + "\n"
while True:
    sys.stdout.write(line)
    sys.stderr.write(line)
