"""Hostile: find the other submissions graded beside it (`--jobs 2`): their paths in every
process's command line (/proc/*/cmdline) and the notebooks in world-readable folders, then
exec a neighbour's definitions in place of its own broken softmax. It must gain nothing: a
worker reads only its own folder and the Python installation (Landlock), and each input is
graded from a private copy."""

BASE = "wrong/no_max_subtraction"

# %% last
import glob
import json
import os

import torch

NEIGHBOURS = set()
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        continue
    for arg in args:
        text = arg.decode(errors="replace")
        if text.endswith(".ipynb"):
            NEIGHBOURS.add(text)
        elif text.startswith("/") and os.path.isdir(text):
            NEIGHBOURS.update(glob.glob(os.path.join(text, "*.ipynb")))
for folder in ("/tmp", "/var/tmp", "/dev/shm"):
    NEIGHBOURS.update(glob.glob(f"{folder}/**/*.ipynb", recursive=True))
for path in sorted(NEIGHBOURS):
    try:
        with open(path) as f:
            cells = json.load(f)["cells"]
    except (OSError, ValueError, KeyError, TypeError):  # not a notebook
        print("cannot read", path)
        continue
    for cell in cells:
        source = "".join(cell.get("source", ""))
        if cell.get("cell_type") == "code" and "def softmax(" in source and "otter" not in source:
            found = {}
            try:
                exec(source, dict(globals()), found)
                if bool(found["softmax"](torch.tensor([1000.0, 0.0]))[0] == 1):  # a working one: take it
                    softmax = found["softmax"]
                    print("took softmax from", path)
            except Exception as exc:
                print("could not use", path, type(exc).__name__)
