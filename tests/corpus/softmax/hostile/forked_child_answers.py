"""Hostile: every graded call of log_softmax forks; the worker exits at once and its child
sends the answer on the worker's reply pipe (gpt/hostile/forked_child_answers does it in a
training call, whose CPU time the grader reads from the worker's process). The grader must
take it as one call's answer or a lost call, restart the worker for the next question, and
kill the child (the base already loses log_softmax)."""

BASE = "wrong/banned_tensor_method"

# %% last
import os
import sys

_worker = sys.modules["__main__"]
_real_call = _worker._call


def _child_answers(namespace, header, blobs):
    if header.get("target") != "log_softmax":
        return _real_call(namespace, header, blobs)
    if os.fork() != 0:
        os._exit(0)  # the worker itself: gone before its answer is read
    reply, out = _real_call(namespace, header, blobs)
    _worker.send(int(sys.argv[-1]), reply, out)
    os._exit(0)


_worker._call = _child_answers
