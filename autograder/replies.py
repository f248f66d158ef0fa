"""What a worker may answer: every reply is checked here before anything else reads it.

A reply is untrusted input like the notebook itself: the student's code runs in the worker and
can write anything to the reply pipe (`sys.modules["__main__"].send` is theirs to replace).
So each reply must have exactly the fields its request kind allows, of the right types, nested
no deeper than any real value, and refer only to blobs it carries. Anything else is a
`MalformedReply`, which ends that request as a clear failure of the call.
"""

from __future__ import annotations

MAX_DEPTH = 64  # a graded value is a few levels deep (a tuple of tensors, a state_dict)


class MalformedReply(ValueError):
    """The reply is not one the request allows; the message says what was wrong."""


_CELL = ({"ok", "blobs"}, {"ok", "error", "traceback", "blobs"})  # exec and provide
_CALL = {
    "ok": {"status", "value", "args_after", "kwargs_after", "blobs"},
    "error": {"status", "banned_used", "error", "traceback", "blobs"},
    "banned": {"status", "banned_used", "blobs"},  # "error"/"traceback" too when it raised
    "missing": {"status", "blobs"},
    "side_effect": {"status", "effects", "blobs"},  # the call changed what it must not (worker._side_effects)
}
_OPTIONAL = {"ok": {"banned_in"}}  # banned calls let through inside the target's dependencies


def check(op: str, reply: dict) -> None:
    """Raise MalformedReply unless `reply` (a decoded header) answers a request of kind `op`."""
    if not isinstance(reply, dict):
        raise MalformedReply("the reply is not an object")
    blobs = reply.get("blobs", 0)
    if op in ("ping", "exec", "provide"):
        _check_cell(op, reply)
    elif op == "call":
        _check_call(reply, blobs)
    else:
        raise MalformedReply(f"a reply to an unknown request {op!r}")


def _check_cell(op: str, reply: dict) -> None:
    ok = reply.get("ok")
    if not isinstance(ok, bool) or (op == "ping" and not ok):
        raise MalformedReply("the reply has no true/false 'ok' field")
    allowed = _CELL[0] if ok else _CELL[1]
    _fields(reply, allowed if ok else {"ok", "blobs"}, allowed)
    for name in ("error", "traceback"):
        if name in reply and not isinstance(reply[name], str):
            raise MalformedReply(f"its '{name}' is not text")


def _check_call(reply: dict, blobs: int) -> None:
    status = reply.get("status")
    if not isinstance(status, str) or status not in _CALL:
        raise MalformedReply(f"unknown status {str(status)[:40]!r}")
    allowed = _CALL[status] | ({"error", "traceback"} if status == "banned" else set()) | _OPTIONAL.get(status, set())
    _fields(reply, _CALL[status], allowed)
    if "effects" in reply and not (isinstance(reply["effects"], list)
                                   and all(isinstance(e, str) for e in reply["effects"])):
        raise MalformedReply("its 'effects' is not a list of names")
    banned_in = reply.get("banned_in", {})
    if not (isinstance(banned_in, dict) and all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(n, str) for n in v)
            for k, v in banned_in.items())):
        raise MalformedReply("its 'banned_in' is not a map of names to lists of names")
    if "banned_used" in reply and not (isinstance(reply["banned_used"], list)
                                       and all(isinstance(n, str) for n in reply["banned_used"])):
        raise MalformedReply("its 'banned_used' is not a list of names")
    for name in ("error", "traceback"):
        if name in reply and not isinstance(reply[name], str):
            raise MalformedReply(f"its '{name}' is not text")
    if status != "ok":
        return
    args, kwargs = reply["args_after"], reply["kwargs_after"]
    if not (isinstance(args, dict) and set(args) == {"$tuple"} and isinstance(args["$tuple"], list)):
        raise MalformedReply("its 'args_after' is not a tuple of arguments")
    if not (isinstance(kwargs, dict) and set(kwargs) == {"$dict"} and isinstance(kwargs["$dict"], dict)):
        raise MalformedReply("its 'kwargs_after' is not a dict of keyword arguments")
    for name in ("value", "args_after", "kwargs_after"):
        _check_value(name, reply[name], blobs)


def _fields(reply: dict, required: set, allowed: set) -> None:
    keys = set(reply)
    if not required <= keys:
        raise MalformedReply(f"it lacks {', '.join(sorted(required - keys))}")
    extra = keys - allowed
    if extra:
        raise MalformedReply(f"unexpected field(s) {', '.join(sorted(map(str, extra)))[:80]}")


def _check_value(name: str, value, blobs: int) -> None:
    """Depth at most MAX_DEPTH, and every array or tensor a blob the reply carries."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise MalformedReply(f"its '{name}' is nested more than {MAX_DEPTH} levels deep")
        if isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, dict):
            for key in ("$array", "$tensor", "$bytes"):
                if key in item:
                    index = item[key]
                    if type(index) is not int or not 0 <= index < blobs:
                        raise MalformedReply(f"its '{name}' refers to a missing array")
            stack.extend((v, depth + 1) for v in item.values())
