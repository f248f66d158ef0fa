"""Hostile: every graded call of log_softmax sleeps just under the per-call limit, so that no
call times out and grading would take hours (50 inputs per check). Now: the calls of one
function share a total time (`function_seconds`, small here), past which that function is not
called again; the other functions are graded as usual (the base already loses log_softmax)."""

BASE = "wrong/banned_tensor_method"
LIMITS = {"cell_seconds": 6, "call_seconds": 2, "function_seconds": 3}

# %% functions
import sys
import time


def log_softmax(x, dim=-1):
    if not sys._getframe(1).f_code.co_filename.startswith("<cell"):  # called by the grader
        time.sleep(1.2)
    return x - x.exp().sum(dim, keepdim=True).log()
