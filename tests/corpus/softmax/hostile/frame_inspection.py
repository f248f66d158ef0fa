"""Hostile: when graded, look through the caller frames (sys._getframe, inspect.stack) and every
live object (gc.get_objects) for the expected answer and return it; otherwise behave like the
broken base. The expected values never exist in the student's process, so it gains nothing."""

BASE = "wrong/log_of_softmax"

# %% last
import gc
import inspect
import sys

_broken_log_softmax = log_softmax
SEEN = []
CALLS = []


def _find_expected(x):
    frame = sys._getframe(1)
    while frame is not None:
        for key, value in frame.f_locals.items():
            if key in ("expected", "reference", "want", "ref_fn", "ref"):
                return value
        frame = frame.f_back
    for info in inspect.stack():
        SEEN.append(info.function)
    CALLS.append(1)
    if len(CALLS) > 3:  # gc.get_objects() is slow with torch loaded: the first calls are enough
        return None
    for obj in gc.get_objects():
        if isinstance(obj, dict) and "expected" in obj and isinstance(obj["expected"], torch.Tensor):
            if obj["expected"].shape == x.shape:
                return obj["expected"]
    return None


def log_softmax(x, dim=-1):
    found = _find_expected(x)
    if found is not None:
        print("found the expected values!")
        return found
    return _broken_log_softmax(x, dim)
