"""Hostile: every graded call of log_softmax forks; the worker exits at once and its child
sends the answer on the worker's reply pipe (gpt/hostile/forked_child_answers does it in a
training call, whose CPU time the grader reads from the worker's process). The grader must
take it as one call's answer or a lost call, restart the worker for the next question, and
kill the child (the base already loses log_softmax)."""

BASE = "wrong/banned_tensor_method"

# %% last
import fcntl
import os
import sys

# The worker's module (its globals: the request loop looks `_call` up there) and its reply
# pipe, however it was started: as a script (fds in argv) or forked (argv cleared).
_frame = sys._getframe()
while not {"_call", "send", "main"} <= _frame.f_globals.keys():
    _frame = _frame.f_back
_worker = _frame.f_globals


def _write_only(fd):
    try:
        return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY
    except OSError:  # not open
        return False


_reply_fd = next(fd for fd in range(3, 256) if _write_only(fd))
_real_call = _worker["_call"]


def _child_answers(namespace, header, blobs):
    if header.get("target") != "log_softmax":
        return _real_call(namespace, header, blobs)
    if os.fork() != 0:
        os._exit(0)  # the worker itself: gone before its answer is read
    reply, out = _real_call(namespace, header, blobs)
    _worker["send"](_reply_fd, reply, out)
    os._exit(0)


_worker["_call"] = _child_answers
