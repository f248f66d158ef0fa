"""Hostile: a cell of 400 `!` shell escapes. IPython's transformer, run by the grader to turn
them into plain Python, is quadratic in their number (hundreds of CPU seconds for a few
thousand). Now: plain-Python cells are never transformed, and the conversion of a notebook is
bounded in time; the escapes do nothing in the worker, and the base's scores stand."""

BASE = "correct/plain"

# %% last
__SHELL_ESCAPES__
