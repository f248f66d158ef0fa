"""Hostile: find the hidden reference and the grader on disk (by path, through /proc, by
import), exec the reference and use its softmax in place of the student's broken one.
It must gain nothing: the sandbox user cannot read the project."""

BASE = "wrong/no_max_subtraction"

# %% last
import glob
import os
import sys

STOLEN = {}
candidates = [
    "__PROJECT__/solutions/softmax.py",
    "__PROJECT__/autograder/units/softmax.py",
    "__PROJECT__/autograder/grade.py",
    "/autograder/source/solutions/softmax.py",
    f"/proc/{os.getppid()}/cwd/solutions/softmax.py",
    f"/proc/{os.getppid()}/root__PROJECT__/solutions/softmax.py",
]
for pattern in ["__PROJECT__/tests/*.py", "__PROJECT__/solutions/*.py", "/autograder/**/*.py"]:
    candidates += glob.glob(pattern, recursive=True)
for path in candidates:
    try:
        with open(path) as f:
            STOLEN[path] = f.read()
        print("read", path)
    except OSError as err:
        print("cannot read", path, type(err).__name__)

sys.path[:0] = ["__PROJECT__", "__PROJECT__/solutions", "/autograder/source"]
for name in ["solutions.softmax", "softmax", "autograder.units.softmax"]:
    try:
        module = __import__(name, fromlist=["*"])
        softmax = module.softmax
        print("imported", name)
    except Exception as err:
        print("cannot import", name, type(err).__name__)

for path, text in STOLEN.items():
    if "def softmax" in text:
        stolen = {}
        exec(compile(text, path, "exec"), stolen)
        softmax = stolen["softmax"]
