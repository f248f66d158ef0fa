"""Hostile: a cell that ignores SIGTERM/SIGINT/SIGHUP and loops forever, with a child that
does the same. Only SIGKILL stops them, and both must be gone after grading."""

BASE = "correct/plain"
LIMITS = {"cell_seconds": 6, "call_seconds": 2}  # small, but the stub's own cells must still fit

# %% last
import os
import signal
import time

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1):
    signal.signal(sig, signal.SIG_IGN)
os.fork()  # parent and child both ignore the polite signals
while True:
    time.sleep(0.01)
