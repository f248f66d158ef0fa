"""Hostile: 40 children, each in a session of its own, burn CPU for a few seconds and then
sleep: an attempt to starve whatever is graded beside it (`--jobs 2`). The worker's resource
group caps all its processes together at its CPU quota (`Limits.cpus`) and kills them all when
its grading ends; tests/test_containment.py grades it beside an honest neighbour whose score
depends on getting its CPU."""

BASE = "correct/plain"

# %% first
import os
import time

_burn_until = time.monotonic() + 4
for _ in range(40):
    if os.fork() == 0:
        os.setsid()
        while time.monotonic() < _burn_until:
            pass
        time.sleep(3600)
        os._exit(0)
