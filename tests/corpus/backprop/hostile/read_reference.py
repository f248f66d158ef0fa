"""Hostile: find the hidden reference and the spec on disk (by path, through /proc, by import),
exec them and use their adamw_step (or the spec's torch oracle) in place of the student's one
without bias correction. It must gain nothing: the sandbox user cannot read the project."""

BASE = "wrong/adam_no_bias_correction"

# %% last
import glob
import os
import sys

STOLEN = {}
candidates = [
    "__PROJECT__/solutions/backprop.py",
    "__PROJECT__/autograder/units/backprop.py",
    "/autograder/source/files/decoding_gpt_grader/solutions/backprop.py",
    f"/proc/{os.getppid()}/cwd/solutions/backprop.py",
    f"/proc/{os.getppid()}/root__PROJECT__/solutions/backprop.py",
]
for pattern in ["__PROJECT__/solutions/*.py", "__PROJECT__/tests/corpus/backprop/correct/*.py", "/autograder/**/*.py"]:
    candidates += glob.glob(pattern, recursive=True)
for path in candidates:
    try:
        with open(path) as f:
            STOLEN[path] = f.read()
        print("read", path)
    except OSError as err:
        print("cannot read", path, type(err).__name__)

sys.path[:0] = ["__PROJECT__", "__PROJECT__/solutions", "/autograder/source"]
for name in ["solutions.backprop", "backprop", "autograder.units.backprop"]:
    try:
        module = __import__(name, fromlist=["*"])
        adamw_step = getattr(module, "adamw_step", None) or module.torch_adamw_step
        print("imported", name)
    except Exception as err:
        print("cannot import", name, type(err).__name__)

for path, text in STOLEN.items():
    if "def adamw_step" in text:
        stolen = {}
        exec(compile(text, path, "exec"), stolen)
        adamw_step = stolen["adamw_step"]
