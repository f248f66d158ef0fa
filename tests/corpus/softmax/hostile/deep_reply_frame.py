"""Hostile: every graded call of log_softmax is answered with a reply header nested 100000
levels deep, which made `json.loads` in the grader raise RecursionError and abort the whole
class run. Now: an unreadable reply, a failure of that call only (the base already loses
log_softmax)."""

BASE = "wrong/banned_tensor_method"

# %% last
import fcntl
import os
import struct
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


def _deep_reply(namespace, header, blobs):
    if header.get("target") != "log_softmax":
        return _real_call(namespace, header, blobs)
    frame = b"[" * 100_000 + b"]" * 100_000
    os.write(_reply_fd, struct.pack(">Q", len(frame)) + frame)
    return {"status": "missing"}, []  # never read: the grader gave up on the frame above


_worker["_call"] = _deep_reply
