"""Hostile: read the hidden reference from disk (by path, through /proc, by import) and use its
train_bpe in place of the student's wrong one. It must gain nothing: the sandbox user cannot
read the project."""

BASE = "wrong/tie_first_seen"

# %% last
import os
import sys

candidates = [
    "__PROJECT__/solutions/tokenizer.py",
    "/autograder/source/solutions/tokenizer.py",
    f"/proc/{os.getppid()}/cwd/solutions/tokenizer.py",
]
for path in candidates:
    try:
        with open(path) as f:
            stolen = {}
            exec(compile(f.read(), path, "exec"), stolen)
            train_bpe = stolen["train_bpe"]
            print("read", path)
    except OSError as err:
        print("cannot read", path, type(err).__name__)

sys.path[:0] = ["__PROJECT__", "__PROJECT__/solutions", "/autograder/source"]
for name in ["solutions.tokenizer", "autograder.units.tokenizer"]:
    try:
        train_bpe = __import__(name, fromlist=["*"]).train_bpe
        print("imported", name)
    except Exception as err:
        print("cannot import", name, type(err).__name__)
