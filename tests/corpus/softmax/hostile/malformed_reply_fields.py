"""Hostile: graded calls of log_softmax answer with malformed fields (`args_after` a number,
`kwargs_after` missing, an extra field), which made the grader raise TypeError outside its
guards. Now: a malformed reply is a failure of that call only (the base already loses
log_softmax)."""

BASE = "wrong/banned_tensor_method"

# %% last
import sys

# The worker's module (its globals: the request loop looks `_call` up there), however it was
# started: as a script or forked.
_frame = sys._getframe()
while not {"_call", "send", "main"} <= _frame.f_globals.keys():
    _frame = _frame.f_back
_worker = _frame.f_globals
_real_call = _worker["_call"]


def _malformed(namespace, header, blobs):
    if header.get("target") != "log_softmax":
        return _real_call(namespace, header, blobs)
    return {"status": "ok", "value": 1.0, "args_after": 5, "surprise": [1]}, []


_worker["_call"] = _malformed
