"""What a student reads: a failing input, expected vs. got, and a hint. Never test source."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .worker import Opaque, numpy_function_name

SMALL = 24  # tensors with at most this many elements are printed in full; larger ones summarised
MAX_LINES = 40  # a failed check's message is folded to at most this many lines
_ARGUMENT_LINES = 8  # lines of one argument of the failing input, at most


def describe_value(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        head = f"tensor of shape {tuple(value.shape)}, {str(value.dtype).removeprefix('torch.')}"
        if value.numel() == 0:
            return head
        if value.numel() > SMALL:
            return f"{head}, {_summary(value.detach().cpu().numpy() if value.dtype != torch.bfloat16 else value.float().numpy())}"
        with _print_options():
            body = repr(value.detach())
        return f"{head}:\n{indent(body)}"
    if isinstance(value, np.ndarray):
        head = f"array of shape {value.shape}, {value.dtype}"
        if value.size == 0:
            return head
        if value.size > SMALL:
            return f"{head}, {_summary(value)}"
        with np.printoptions(precision=5, threshold=SMALL, edgeitems=3, linewidth=100):
            body = repr(value)
        return f"{head}:\n{indent(body)}"
    if isinstance(value, np.generic):
        return repr(value.item())
    if isinstance(value, torch.Generator):  # a sampler's seeded generator: the same text every run
        return f"torch.Generator().manual_seed({value.initial_seed()})"
    if isinstance(value, tuple):
        return "(" + ", ".join(describe_value(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {describe_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Opaque):
        return f"a {value.type_name} ({value.text})"
    if numpy_function_name(value):
        return f"numpy.{numpy_function_name(value)}"
    return repr(value)


def _summary(array: np.ndarray) -> str:
    """One line for a large array: its range (or how many are True) and its first entries."""
    flat = array.reshape(-1)
    first = ", ".join(_short(v) for v in flat[:4])
    if array.dtype == np.bool_:
        return f"{int(flat.sum())} of {flat.size} True; first entries [{first}, ...]"
    if array.dtype.kind in "iuf":
        finite = flat[np.isfinite(flat)] if array.dtype.kind == "f" else flat
        span = f"values in [{_short(finite.min())}, {_short(finite.max())}]" if finite.size else "no finite value"
        odd = flat.size - finite.size
        return f"{span}{f' ({odd} not finite)' if odd else ''}; first entries [{first}, ...]"
    return f"first entries [{first}, ...]"


def _short(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return str(value)


def fold(text: str, max_lines: int, keep_end: int = 0) -> str:
    """`text` with at most `max_lines` lines: the first ones, a line saying how many are left
    out, and the last `keep_end` ones (e.g. a hint)."""
    lines = text.splitlines()
    if len(lines) <= max_lines:
        return text
    head = max_lines - 1 - keep_end
    tail = lines[len(lines) - keep_end:] if keep_end else []
    return "\n".join(lines[:head] + [f"... ({len(lines) - head - len(tail)} more lines left out)"] + tail)


def describe_call(call) -> str:
    """`name = value` lines for every argument (positional ones by their contract name)."""
    if call.init is not None:
        return (f"constructed with:\n{indent(_arguments(call.init))}\n"
                f"with the reference's weights, then called with:\n{indent(_arguments(call))}")
    return _arguments(call)


def _arguments(call) -> str:
    names = list(call.names) + [f"arg {i}" for i in range(len(call.names), len(call.args))]
    parts = [fold(f"{n} = {describe_value(v)}", _ARGUMENT_LINES) for n, v in zip(names, call.args)]
    parts += [fold(f"{k} = {describe_value(v)}", _ARGUMENT_LINES) for k, v in call.kwargs.items()]
    return "\n".join(parts) if parts else "(no arguments)"


class _print_options:
    def __enter__(self):
        from torch._tensor_str import PRINT_OPTS

        self.saved = dict(precision=PRINT_OPTS.precision, threshold=PRINT_OPTS.threshold,
                          edgeitems=PRINT_OPTS.edgeitems, linewidth=PRINT_OPTS.linewidth,
                          sci_mode=PRINT_OPTS.sci_mode)
        torch.set_printoptions(precision=5, threshold=SMALL, edgeitems=3, linewidth=100, sci_mode=None)

    def __exit__(self, *exc):
        torch.set_printoptions(**self.saved)


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())
