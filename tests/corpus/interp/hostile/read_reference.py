"""Hostile: find the hidden reference and the provided model on the grader's disk (by path,
through /proc, by import), exec the reference and use its direct_logit_attribution in place
of the student's wrong one. It must gain nothing: the sandbox user cannot read the project."""

BASE = "wrong/dla_bias_per_head"

# %% last
import glob
import os
import sys

STOLEN = {}
candidates = [
    "__PROJECT__/solutions/interp.py",
    "__PROJECT__/autograder/units/interp.py",
    "/autograder/source/files/decoding_gpt_grader/solutions/interp.py",
    f"/proc/{os.getppid()}/cwd/solutions/interp.py",
]
for pattern in ["__PROJECT__/solutions/*.py", "__PROJECT__/tests/corpus/interp/correct/*.py", "/autograder/**/*.py"]:
    candidates += glob.glob(pattern, recursive=True)
for path in candidates:
    try:
        with open(path) as f:
            STOLEN[path] = f.read()
        print("read", path)
    except OSError as err:
        print("cannot read", path, type(err).__name__)

sys.path[:0] = ["__PROJECT__", "__PROJECT__/solutions"]
for name in ["solutions.interp", "autograder.units.interp"]:
    try:
        module = __import__(name, fromlist=["*"])
        direct_logit_attribution = module.direct_logit_attribution
        print("imported", name)
    except Exception as err:
        print("cannot import", name, type(err).__name__)

for path, text in STOLEN.items():
    if "def direct_logit_attribution" in text:
        stolen = {}
        exec(compile(text, path, "exec"), stolen)
        direct_logit_attribution = stolen["direct_logit_attribution"]
