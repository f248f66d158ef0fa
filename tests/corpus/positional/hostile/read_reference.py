"""Hostile: find the hidden reference on disk (by path, through /proc, by import), exec it and
use its rotary_embedding in place of the student's broken one (which rotates the wrong way).
It must gain nothing: the sandbox user cannot read the project."""

BASE = "wrong/rope_clockwise"

# %% last
import glob
import os
import sys

STOLEN = {}
candidates = [
    "__PROJECT__/solutions/positional.py",
    "__PROJECT__/autograder/units/positional.py",
    "/autograder/source/solutions/positional.py",
    f"/proc/{os.getppid()}/cwd/solutions/positional.py",
    f"/proc/{os.getppid()}/root__PROJECT__/solutions/positional.py",
]
for pattern in ["__PROJECT__/solutions/*.py", "/autograder/**/positional*.py"]:
    candidates += glob.glob(pattern, recursive=True)
for path in candidates:
    try:
        with open(path) as f:
            STOLEN[path] = f.read()
        print("read", path)
    except OSError as err:
        print("cannot read", path, type(err).__name__)

sys.path[:0] = ["__PROJECT__", "__PROJECT__/solutions", "/autograder/source"]
for name in ["solutions.positional", "positional", "autograder.units.positional"]:
    try:
        module = __import__(name, fromlist=["*"])
        rotary_embedding = module.rotary_embedding
        print("imported", name)
    except Exception as err:
        print("cannot import", name, type(err).__name__)

for path, text in STOLEN.items():
    if "def rotary_embedding" in text:
        stolen = {}
        exec(compile(text, path, "exec"), stolen)
        rotary_embedding = stolen["rotary_embedding"]
