"""Hostile: spawn sleeping children that leave the worker's session: `sleep` via Popen with
start_new_session, setsid + double fork in Python, and a shell `nohup ... &`. None may survive."""

BASE = "correct/plain"

# %% last
import os
import subprocess
import time

subprocess.Popen(["sleep", "3600"], start_new_session=True)
subprocess.Popen("nohup sleep 3601 >/dev/null 2>&1 &", shell=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(3602)
    os._exit(0)
time.sleep(0.2)
