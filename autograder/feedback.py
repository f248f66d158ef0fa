"""What a student reads: a failing input, expected vs. got, and a hint. Never test source."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .worker import Opaque, _numpy_function_name

_SMALL = 64  # tensors with at most this many elements are printed in full


def describe_value(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        head = f"tensor of shape {tuple(value.shape)}, {str(value.dtype).removeprefix('torch.')}"
        if value.numel() == 0 or value.numel() > _SMALL:
            return head
        with _print_options():
            body = repr(value.detach())
        return f"{head}:\n{indent(body)}"
    if isinstance(value, np.ndarray):
        head = f"array of shape {value.shape}, {value.dtype}"
        if value.size == 0 or value.size > _SMALL:
            return head
        with np.printoptions(precision=5, threshold=_SMALL, edgeitems=3, linewidth=100):
            body = repr(value)
        return f"{head}:\n{indent(body)}"
    if isinstance(value, np.generic):
        return repr(value.item())
    if isinstance(value, tuple):
        return "(" + ", ".join(describe_value(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {describe_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Opaque):
        return f"a {value.type_name} ({value.text})"
    if _numpy_function_name(value):
        return f"numpy.{_numpy_function_name(value)}"
    return repr(value)


def describe_call(call) -> str:
    """`name = value` lines for every argument (positional ones by their contract name)."""
    if call.init is not None:
        return (f"constructed with:\n{indent(_arguments(call.init))}\n"
                f"with the reference's weights, then called with:\n{indent(_arguments(call))}")
    return _arguments(call)


def _arguments(call) -> str:
    names = list(call.names) + [f"arg {i}" for i in range(len(call.names), len(call.args))]
    parts = [f"{n} = {describe_value(v)}" for n, v in zip(names, call.args)]
    parts += [f"{k} = {describe_value(v)}" for k, v in call.kwargs.items()]
    return "\n".join(parts) if parts else "(no arguments)"


class _print_options:
    def __enter__(self):
        from torch._tensor_str import PRINT_OPTS

        self.saved = dict(precision=PRINT_OPTS.precision, threshold=PRINT_OPTS.threshold,
                          edgeitems=PRINT_OPTS.edgeitems, linewidth=PRINT_OPTS.linewidth,
                          sci_mode=PRINT_OPTS.sci_mode)
        torch.set_printoptions(precision=5, threshold=_SMALL, edgeitems=3, linewidth=100)

    def __exit__(self, *exc):
        torch.set_printoptions(**self.saved)


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())
