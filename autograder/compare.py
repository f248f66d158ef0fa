"""Judging a student's output against the reference's: types, shapes, dtypes, then values.

Tolerances decide fairness (docs/design.md): a correct algorithm computed the textbook way in
float32 must pass, even on float64 inputs and large logits; a real bug (an error of 1e-3 or
more, a wrong row, a NaN) must fail. So values are judged at float32 precision, with an
absolute tolerance that grows with the magnitude of the inputs:

    |got - expected| <= atol + scale * eps32 * max|input| + rtol * |expected|
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from .feedback import SMALL
from .worker import Opaque

EPS32 = torch.finfo(torch.float32).eps


@dataclass
class Mismatch:
    """Why an output is wrong, in a student's terms, with the values to show."""

    summary: str  # one line, e.g. "values differ by up to 0.25 at index (0, 1)"
    expected: Any = None
    got: Any = None
    hint: str = ""
    # up to 3 (index, got, expected) of the first differing entries of a large output
    first: list = field(default_factory=list)


class Comparator(Protocol):
    def __call__(self, expected: Any, got: Any, scale: float) -> Mismatch | None: ...


def input_scale(values: Any) -> float:
    """The largest magnitude among the floating-point input tensors (0 if there are none).

    Plain float arguments (a RoPE `base` of 10000.0) are settings, not data: counting them
    would loosen the tolerance for every value.
    """
    best = 0.0
    for value in _leaves(values):
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
            best = max(best, value.detach().abs().max().item())
        elif isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size:
            best = max(best, float(np.abs(value).max()))
    return best


def _leaves(value: Any):
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    else:
        yield value


def _type_name(value: Any) -> str:
    return value.type_name if isinstance(value, Opaque) else type(value).__name__


def _number(value: Any) -> float | None:
    """A real number a student may return for a float (Python or NumPy scalar, 0-d array)."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) or (
            isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf"):
        try:
            return float(value)
        except OverflowError:  # a Python int beyond float's range (10**400): infinitely far off
            return float("inf") if value > 0 else float("-inf")
    return None


def _structure(expected: Any, got: Any, leaf) -> Mismatch | None:
    """Walk tuples/lists/dicts in parallel, judging tensor, array and float leaves with `leaf`."""
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            n = len(expected)
            return Mismatch(f"expected a tuple of {n} values, got {_type_name(got)}"
                            + (f" of length {len(got)}" if isinstance(got, (tuple, list)) else ""))
        for i, (e, g) in enumerate(zip(expected, got)):
            mismatch = _structure(e, g, leaf)
            if mismatch:
                mismatch.summary = f"output [{i}]: {mismatch.summary}"
                return mismatch
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            keys = sorted(expected)
            return Mismatch(f"expected a dict with keys {keys}, got {_type_name(got)}"
                            + (f" with keys {sorted(map(str, got))}" if isinstance(got, dict) else ""))
        for key in expected:
            mismatch = _structure(expected[key], got[key], leaf)
            if mismatch:
                mismatch.summary = f"output [{key!r}]: {mismatch.summary}"
                return mismatch
        return None
    if isinstance(expected, np.ndarray):  # units written in NumPy: judged like tensors
        if not isinstance(got, np.ndarray):
            return Mismatch(f"expected a numpy.ndarray, got {_type_name(got)}"
                            + (f" {got.text}" if isinstance(got, Opaque) else f" {got!r}"[:120]))
        if got.shape != expected.shape:
            return Mismatch(f"shape {got.shape}, expected {expected.shape}", expected, got)
        if got.dtype != expected.dtype:
            return Mismatch(f"dtype {got.dtype}, expected {expected.dtype}", expected, got)
        mismatch = leaf(torch.from_numpy(expected), torch.from_numpy(got))
        if mismatch and mismatch.expected is not None:
            mismatch.expected, mismatch.got = expected, got
        return mismatch
    if isinstance(expected, (float, np.floating)):  # a float (a loss): within the tolerance
        number = _number(got)
        if number is None:
            return Mismatch(f"expected a number, got {_type_name(got)}"
                            + (f" {got.text}" if isinstance(got, Opaque) else f" {got!r}"[:120]))
        e = torch.tensor([float(expected)], dtype=torch.float64)
        mismatch = leaf(e, torch.tensor([number], dtype=torch.float64))
        if mismatch:
            return Mismatch(mismatch.summary.replace(" at index (0,)", ""), float(expected), number)
        return None
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return Mismatch(f"expected a torch.Tensor, got {_type_name(got)}"
                            + (f" {got.text}" if isinstance(got, Opaque) else f" {got!r}"[:120]))
        if tuple(got.shape) != tuple(expected.shape):
            return Mismatch(f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}", expected, got)
        if got.dtype != expected.dtype:
            return Mismatch(f"dtype {got.dtype}, expected {expected.dtype} (return the input's dtype)",
                            expected, got)
        return leaf(expected, got)
    if expected != got:
        return Mismatch(f"got {got!r}, expected {expected!r}", expected, got)
    return None


@dataclass(frozen=True)
class Close:
    """Floating-point outputs equal up to float32 rounding (see the module docstring)."""

    rtol: float = 1.3e-6
    atol: float = 1e-5
    scale: float = 4.0  # multiples of eps32 * max|input| allowed in absolute error

    def __call__(self, expected: Any, got: Any, scale: float) -> Mismatch | None:
        return _structure(expected, got, lambda e, g: self._values(e, g, scale))

    def _values(self, expected: torch.Tensor, got: torch.Tensor, scale: float) -> Mismatch | None:
        if not expected.is_floating_point():
            return Exact()._values(expected, got)
        e, g = expected.double(), got.double()
        bad_nan = ~torch.isfinite(g) & torch.isfinite(e)
        if bad_nan.any():
            index = _index(bad_nan.nonzero()[0])
            kind = "NaN" if torch.isnan(g).any() else "inf"
            return Mismatch(f"{kind} at index {index}, where the expected value is finite "
                            f"({e[tuple(bad_nan.nonzero()[0])].item():.6g})", expected, got)
        if e.numel() == 0:
            return None
        tolerance = self.atol + self.scale * EPS32 * scale + self.rtol * e.abs()
        diff = (g - e).abs()
        bad = diff > tolerance
        if bad.any():
            flat = torch.where(bad, diff, torch.zeros_like(diff)).argmax()
            index = _index(torch.unravel_index(flat, diff.shape))
            worst = diff.reshape(-1)[flat].item()
            return Mismatch(f"values differ by up to {worst:.3g} at index {index} "
                            f"(got {g.reshape(-1)[flat].item():.6g}, expected {e.reshape(-1)[flat].item():.6g})"
                            + (f"; {int(bad.sum())} of {bad.numel()} values differ" if bad.numel() > 1 else ""),
                            expected, got, first=_first_differing(bad, g, e, "{:.6g}"))
        return None


@dataclass(frozen=True)
class Exact:
    """Outputs identical in shape, dtype and every value (masks, indices)."""

    def __call__(self, expected: Any, got: Any, scale: float) -> Mismatch | None:
        return _structure(expected, got, self._values)

    def _values(self, expected: torch.Tensor, got: torch.Tensor) -> Mismatch | None:
        bad = got != expected
        if bad.any():
            first = bad.nonzero()[0]
            return Mismatch(f"{int(bad.sum())} of {bad.numel()} values differ; first at index {_index(first)} "
                            f"(got {got[tuple(first)].item()}, expected {expected[tuple(first)].item()})",
                            expected, got, first=_first_differing(bad, got, expected, "{}"))
        return None


def _first_differing(bad: torch.Tensor, got: torch.Tensor, expected: torch.Tensor, form: str) -> list:
    """(index, got, expected) of the first 3 differing entries, for an output too large to print
    (a small one is printed whole)."""
    if bad.numel() <= SMALL or bad.dim() == 0:
        return []
    return [(_index(i), form.format(got[tuple(i)].item()), form.format(expected[tuple(i)].item()))
            for i in bad.nonzero()[:3]]


def _index(index) -> tuple[int, ...]:
    return tuple(int(i) for i in index)


def unchanged(before: Any, after: Any) -> bool:
    """Whether the worker's copy of the inputs after the call equals what we sent."""
    if isinstance(before, (tuple, list)):
        return isinstance(after, (tuple, list)) and len(before) == len(after) and all(
            unchanged(b, a) for b, a in zip(before, after))
    if isinstance(before, dict):
        return isinstance(after, dict) and before.keys() == after.keys() and all(
            unchanged(before[k], after[k]) for k in before)
    if isinstance(before, torch.Tensor):
        return (isinstance(after, torch.Tensor) and after.shape == before.shape
                and after.dtype == before.dtype and torch.equal(after, before))
    if isinstance(before, np.ndarray):
        return (isinstance(after, np.ndarray) and after.shape == before.shape
                and after.dtype == before.dtype and np.array_equal(after, before))
    return True
