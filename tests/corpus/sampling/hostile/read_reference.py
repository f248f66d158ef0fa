"""Hostile: find the hidden reference on disk (by path, through /proc, by import) and use its
sampler in place of the student's, which ignores its generator. It must gain nothing: the
sandbox user cannot read the project."""

BASE = "wrong/sample_ignores_generator"

# %% last
import os
import sys

for path in ["__PROJECT__/solutions/sampling.py", f"/proc/{os.getppid()}/cwd/solutions/sampling.py",
             "/autograder/source/solutions/sampling.py"]:
    try:
        with open(path) as f:
            stolen = {}
            exec(compile(f.read(), path, "exec"), stolen)
            sample = stolen["sample"]
            print("read", path)
    except OSError as err:
        print("cannot read", path, type(err).__name__)
sys.path[:0] = ["__PROJECT__", "__PROJECT__/solutions"]
try:
    from solutions.sampling import sample  # noqa: F811
except Exception as err:
    print("cannot import", type(err).__name__)
