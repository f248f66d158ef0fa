"""Hostile: print the reference, the spec and the tests into the output (stdout, and an
exception message that lands in the feedback). Nothing of them may reach results.json."""

BASE = "correct/plain"

# %% last
import glob

for pattern in ["__PROJECT__/solutions/*.py", "__PROJECT__/autograder/**/*.py", "__PROJECT__/tests/*.py"]:
    for path in sorted(glob.glob(pattern, recursive=True)) or [pattern]:
        try:
            print(open(path).read())
        except OSError as err:
            print("cannot read", path, err)

# %% last
text = ""
for path in ["__PROJECT__/solutions/softmax.py", "__PROJECT__/autograder/units/softmax.py"]:
    try:
        text += open(path).read()
    except OSError as err:
        text += f"[{path}: {err}]"
raise RuntimeError("LEAK:" + text)
