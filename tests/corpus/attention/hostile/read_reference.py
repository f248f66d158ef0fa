"""Hostile: find the hidden reference and the grader on disk (by path, through /proc, by
import), exec the reference and use its attention in place of the student's unscaled one.
It must gain nothing: the sandbox user cannot read the project."""

BASE = "wrong/no_scaling"

# %% last
import glob
import os
import sys

STOLEN = {}
candidates = [
    "__PROJECT__/solutions/attention.py",
    "__PROJECT__/autograder/units/attention.py",
    "/autograder/source/files/decoding_gpt_grader/solutions/attention.py",
    f"/proc/{os.getppid()}/cwd/solutions/attention.py",
    f"/proc/{os.getppid()}/root__PROJECT__/solutions/attention.py",
]
for pattern in ["__PROJECT__/solutions/*.py", "__PROJECT__/tests/corpus/attention/correct/*.py", "/autograder/**/*.py"]:
    candidates += glob.glob(pattern, recursive=True)
for path in candidates:
    try:
        with open(path) as f:
            STOLEN[path] = f.read()
        print("read", path)
    except OSError as err:
        print("cannot read", path, type(err).__name__)

sys.path[:0] = ["__PROJECT__", "__PROJECT__/solutions", "/autograder/source"]
for name in ["solutions.attention", "attention", "autograder.units.attention"]:
    try:
        module = __import__(name, fromlist=["*"])
        scaled_dot_product_attention = module.scaled_dot_product_attention
        print("imported", name)
    except Exception as err:
        print("cannot import", name, type(err).__name__)

for path, text in STOLEN.items():
    if "def scaled_dot_product_attention" in text:
        stolen = {}
        exec(compile(text, path, "exec"), stolen)
        scaled_dot_product_attention = stolen["scaled_dot_product_attention"]
