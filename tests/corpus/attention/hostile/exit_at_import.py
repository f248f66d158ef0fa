"""Hostile: os._exit(0) in the very first code cell, before the imports. Only that cell is
lost: the worker is restarted and the remaining cells still run."""

BASE = "correct/plain"

# %% first
import os

os._exit(0)
