"""Hostile: train_sorter forks; the worker process exits at once and the child sends the
answer on the worker's reply pipe. Reading the worker's CPU time from /proc/<pid>/stat then
failed (the process was gone) and aborted the class run. Now: the CPU time of the worker's
group is what was last seen, and an answer read while the worker is ending (or has ended) is
not its answer: the call is lost ("stopped while answering"), no credit."""

BASE = "correct/plain"
ATTACKS = {"train_sorter"}

# %% functions
import fcntl
import os
import sys


def _write_only(fd):
    try:
        return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY
    except OSError:  # not open
        return False


def train_sorter(steps=600, seed=0, length=6, digits=10):
    if os.fork() != 0:
        os._exit(0)  # the worker itself: gone before its answer is read
    # the worker's module and reply pipe, started as a script or forked from a fork server
    frame = sys._getframe()
    while not {"_call", "send", "main"} <= frame.f_globals.keys():
        frame = frame.f_back
    worker = frame.f_globals
    reply_fd = next(fd for fd in range(3, 256) if _write_only(fd))
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**sort_sizes(length, digits)))
    out = []
    reply = {"status": "ok", "value": worker["encode"]((dict(model.state_dict()), [1.0]), out),
             "args_after": worker["encode"]((), out),
             "kwargs_after": worker["encode"]({"length": length, "digits": digits}, out)}
    worker["send"](reply_fd, reply, out)
    os._exit(0)
