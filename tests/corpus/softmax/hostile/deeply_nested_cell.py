"""Hostile: a cell that is one expression of 200000 terms, on which `ast.parse` in the grader's
notebook reader raised RecursionError (not SyntaxError) and aborted the class run. Now: the
cell fails in the worker like any broken cell, and the rest is graded."""

BASE = "correct/plain"

# %% last
x = __LONG_SUM__
