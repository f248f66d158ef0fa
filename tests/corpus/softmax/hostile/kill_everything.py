"""Hostile: kill(-1, SIGKILL), i.e. every process the sandbox user may signal, and try to kill
the grader (its parent). Only the worker itself dies; it is restarted and grading goes on."""

BASE = "correct/plain"

# %% last
import os
import signal

for pid in (os.getppid(), 1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError as err:
        print("cannot kill", pid, err)
os.kill(-1, signal.SIGKILL)
