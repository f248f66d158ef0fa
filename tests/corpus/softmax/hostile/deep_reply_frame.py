"""Hostile: every graded call of log_softmax is answered with a reply header nested 100000
levels deep, which made `json.loads` in the grader raise RecursionError and abort the whole
class run. Now: an unreadable reply, a failure of that call only (the base already loses
log_softmax)."""

BASE = "wrong/banned_tensor_method"

# %% last
import os
import struct
import sys

_worker = sys.modules["__main__"]
_real_call = _worker._call


def _deep_reply(namespace, header, blobs):
    if header.get("target") != "log_softmax":
        return _real_call(namespace, header, blobs)
    frame = b"[" * 100_000 + b"]" * 100_000
    os.write(int(sys.argv[-1]), struct.pack(">Q", len(frame)) + frame)
    return {"status": "missing"}, []  # never read: the grader gave up on the frame above


_worker._call = _deep_reply
