"""Public checks for the `softmax` unit: what `grader.check("<question>")` runs.

You may read this file: it contains no reference solution. Every check tests a property
that any correct implementation has (rows sum to 1, masked positions are exactly 0, ...)
or a worked example whose answer is printed in the notebook. Passing them all is a good
sign, not a guarantee: the grader also compares your functions with a reference on many
more inputs (larger logits, other shapes and dtypes, fully masked rows, ...).

Each check is a plain function that takes your function(s) as keyword arguments, named
like the functions in the notebook, e.g. ``rows_sum_to_one(softmax=softmax)``, and raises
AssertionError with the failing input when the property does not hold. Random inputs are
drawn by hypothesis with a fixed seed, so a check gives the same verdict every time, and a
failure shows a shrunk (small) failing input. The first line of each docstring is the
check's display name.

This module needs only torch, numpy and hypothesis.
"""

import math

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import _public_kit as kit  # assignments/_public_kit.py, shipped beside this module

# question name -> its checks, in display order (filled in by @_check below); each question of
# the spec (autograder/units/softmax.py) takes the checks registered under its name
CHECKS, _check = kit.registry()
_SETTINGS = kit.hypothesis_settings(max_examples=30)


# -----------------------------------------------------------------------------
# helpers: calling student code, tolerances

# one tiny valid call per student function, to say "not implemented yet" before hypothesis
# spends time drawing inputs
_PROBES = {
    "softmax": lambda f: f(torch.zeros(2)),
    "log_softmax": lambda f: f(torch.zeros(2)),
    "masked_softmax": lambda f: f(torch.zeros(2), torch.ones(2, dtype=torch.bool)),
    "causal_mask": lambda f: f(2),
    "padding_mask": lambda f: f(torch.tensor([1]), 2),
}


def _run(prop, fn, name):
    """Run a hypothesis property; a stub says "not implemented yet" before any input is drawn."""
    kit.run(prop, fn, name, _PROBES[name])


def _as_row_major(t, dim):
    """[..., n at dim, ...] -> [rows, n]: one row per slice along `dim`."""
    t = t.movedim(dim, -1)
    return t.reshape(-1, t.shape[-1])


# -----------------------------------------------------------------------------
# strategies: small random inputs


@st.composite
def _logits(draw, bound=30.0, dtypes=(np.float32, np.float64), min_dims=1, max_dims=3, max_side=5):
    """(x, dim): a small float tensor with values in [-bound, bound] and a valid dim."""
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side))
    width = 32 if dtype == np.float32 else 64
    elements = st.floats(-bound, bound, width=width, allow_nan=False, allow_infinity=False)
    x = torch.from_numpy(draw(hnp.arrays(dtype, shape, elements=elements)).copy())
    dim = draw(st.integers(-x.dim(), x.dim() - 1))
    return x, dim


@st.composite
def _logits_and_mask(draw, bound=30.0, dtypes=(np.float32, np.float64), fully_masked_row=False):
    """(x, mask, dim) with mask of x's shape; optionally one slice along dim fully masked."""
    x, dim = draw(_logits(bound=bound, dtypes=dtypes))
    mask = torch.from_numpy(draw(hnp.arrays(np.bool_, tuple(x.shape))).copy())
    if fully_masked_row:
        rows = mask.movedim(dim, -1)  # a view: writing to it writes to mask
        index = draw(st.tuples(*[st.integers(0, s - 1) for s in rows.shape[:-1]]))
        rows[index] = False
    return x, mask, dim


# -----------------------------------------------------------------------------
# softmax


def _sum_tol(x, n):
    """How far from 1 a sum of n probabilities may be: float32 rounding, which grows with the
    size of the logits (exp(x - logsumexp(x)) in float32 is off by ~1e-5 near 1e3)."""
    return 1e-5 + 4 * n * kit.EPS32 + 4 * kit.EPS32 * (x.abs().max().item() if x.numel() else 0.0)


def _sums_to_one(out, dim, x):
    """Largest |sum - 1| over the slices along dim, and the tolerance it must meet."""
    err = (out.double().sum(dim=dim) - 1).abs().max().item() if out.numel() else 0.0
    return err, _sum_tol(x, x.shape[dim])


@_check("softmax")
def softmax_worked_examples(softmax):
    """matches the worked examples in the notebook"""
    x = torch.tensor([1.0, 2.0, 3.0])
    out, call = kit.call(softmax, "softmax", x, shape=x.shape)
    z = sum(math.exp(v) for v in (1, 2, 3))
    expected = torch.tensor([math.exp(1) / z, math.exp(2) / z, math.exp(3) / z])
    if not torch.allclose(out.double(), expected.double(), atol=1e-6):
        kit.fail(call, "wrong values", expected=expected, got=out)

    # along dim 0, each *column* is a softmax: softmax([0, ln 3]) = [1/4, 3/4]
    x = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)]], dtype=torch.float64)
    out, call = kit.call(softmax, "softmax", x, dim=0, shape=x.shape)
    expected = torch.tensor([[0.5, 0.25], [0.5, 0.75]], dtype=torch.float64)
    if not torch.allclose(out.double(), expected, atol=1e-6):
        kit.fail(call, "wrong values (dim=0 normalises each column)", expected=expected, got=out)

    x = torch.tensor([1000.0, 999.0])
    out, call = kit.call(softmax, "softmax", x, shape=x.shape)
    expected = torch.tensor([1 / (1 + math.exp(-1)), 1 / (1 + math.exp(1))])
    if not torch.allclose(out.double(), expected.double(), atol=1e-5 + 4 * kit.EPS32 * 1000):
        kit.fail(call, "wrong values for large logits (exp(1000) overflows: subtract the max first)",
              expected=expected, got=out)


@_check("softmax")
def softmax_shape_and_dtype(softmax):
    """returns a tensor with x's shape and dtype"""

    @_SETTINGS
    @given(_logits())
    def prop(x_dim):
        x, dim = x_dim
        out, call = kit.call(softmax, "softmax", x, dim=dim, shape=x.shape)
        if out.dtype != x.dtype:
            kit.fail(call, f"returned dtype {out.dtype}, expected x's dtype {x.dtype}")

    _run(prop, softmax, "softmax")


@_check("softmax")
def rows_sum_to_one(softmax):
    """sums to 1 along `dim` (any dim, any number of batch dims)"""

    @_SETTINGS
    @given(_logits())
    def prop(x_dim):
        x, dim = x_dim
        out, call = kit.call(softmax, "softmax", x, dim=dim, shape=x.shape)
        err, tol = _sums_to_one(out, dim, x)
        if not err <= tol:
            kit.fail(call, f"does not sum to 1 along dim={dim} (off by {err:.3g})",
                  sums=out.sum(dim=dim), output=out)

    _run(prop, softmax, "softmax")


@_check("softmax")
def values_in_unit_interval(softmax):
    """every value is a probability: finite and in [0, 1]"""

    @_SETTINGS
    @given(_logits())
    def prop(x_dim):
        x, dim = x_dim
        out, call = kit.call(softmax, "softmax", x, dim=dim, shape=x.shape)
        ok = torch.isfinite(out) & (out >= 0) & (out <= 1 + 4 * kit.EPS32)
        if not ok.all():
            kit.fail(call, "some values are not in [0, 1]", output=out)

    _run(prop, softmax, "softmax")


@_check("softmax")
def shift_invariance(softmax):
    """adding the same constant to every logit changes nothing"""
    # x is a multiple of 1/8 in [-16, 16] and c an integer, so x + c is exact in float32:
    # any difference comes from the function, not from rounding the input.
    @_SETTINGS
    @given(st.lists(st.integers(-128, 128), min_size=1, max_size=6),
           st.integers(-10_000, 10_000),
           st.sampled_from([torch.float32, torch.float64]))
    def prop(eighths, c, dtype):
        x = torch.tensor(eighths, dtype=dtype) / 8
        out, call = kit.call(softmax, "softmax", x, shape=x.shape)
        out_c, call_c = kit.call(softmax, "softmax", x + c, shape=x.shape)
        tol = 1e-6 + 4 * kit.EPS32 * (abs(c) + 16)
        err = (out.double() - out_c.double()).abs().max().item()
        if not err <= tol:  # also catches NaN
            raise AssertionError(
                f"softmax(x + {c}) should equal softmax(x), but they differ by {err:.3g}:\n"
                f"  {call} = {kit.show(out)}\n  {call_c} = {kit.show(out_c)}\n"
                f"(subtracting the maximum before exp makes softmax exactly shift invariant)")

    _run(prop, softmax, "softmax")


@_check("softmax")
def softmax_finite_for_large_logits(softmax):
    """stays finite and sums to 1 for float32 logits up to ±1e4"""

    @_SETTINGS
    @given(_logits(bound=1e4, dtypes=(np.float32,)))
    def prop(x_dim):
        x, dim = x_dim
        out, call = kit.call(softmax, "softmax", x, dim=dim, shape=x.shape)
        if not torch.isfinite(out).all():
            kit.fail(call, "non-finite values: exp overflows to inf for logits above ~88 in "
                        "float32; subtract the maximum along dim first", output=out)
        err, tol = _sums_to_one(out, dim, x)
        if not err <= tol:
            kit.fail(call, f"does not sum to 1 along dim={dim} (off by {err:.3g})", output=out)

    _run(prop, softmax, "softmax")


@_check("softmax")
def softmax_leaves_input_unchanged(softmax):
    """does not modify its input"""
    x = torch.tensor([[1.0, -2.0, 3.0], [0.5, 0.0, -0.5]])
    before = x.clone()
    kit.call(softmax, "softmax", x, clone=False)
    if not torch.equal(x, before):
        raise AssertionError(f"softmax(x) modified x in place:\n  before = {kit.show(before)}\n"
                             f"  after  = {kit.show(x)}\n(use out-of-place ops: x - m, not x -= m)")


@_check("softmax")
def softmax_rejects_invalid_arguments(softmax):
    """raises ValueError for an integer tensor or an out-of-range dim"""
    x = torch.zeros(2, 3)
    kit.expect_value_error(softmax, "softmax", [
        ((torch.tensor([1, 2, 3]),), {}, "x must be a floating-point tensor"),
        ((x,), {"dim": 2}, "dim=2 is out of range for a 2-D tensor"),
        ((x,), {"dim": -3}, "dim=-3 is out of range for a 2-D tensor"),
    ])


# -----------------------------------------------------------------------------
# log_softmax


def _logsumexp_error_tol(x):
    # float32-level error allowed for values of size |x|
    return 1e-5 + 8 * kit.EPS32 * (x.abs().max().item() if x.numel() else 0.0)


@_check("log_softmax")
def log_softmax_worked_examples(log_softmax):
    """matches the worked examples in the notebook"""
    x = torch.tensor([1.0, 2.0, 3.0])
    out, call = kit.call(log_softmax, "log_softmax", x, shape=x.shape)
    lse = math.log(sum(math.exp(v) for v in (1, 2, 3)))
    expected = torch.tensor([1 - lse, 2 - lse, 3 - lse])
    if not torch.allclose(out.double(), expected.double(), atol=1e-5):
        kit.fail(call, "wrong values", expected=expected, got=out)

    x = torch.tensor([0.0, -1e4])
    out, call = kit.call(log_softmax, "log_softmax", x, shape=x.shape)
    expected = torch.tensor([0.0, -1e4])
    if not torch.allclose(out.double(), expected.double(), atol=1e-3):
        kit.fail(call, "wrong values: log(softmax(x)) underflows to log(0) = -inf here; compute "
                    "x - max - log(sum(exp(x - max))) instead", expected=expected, got=out)


@_check("log_softmax")
def log_softmax_shape_and_dtype(log_softmax):
    """returns a tensor with x's shape and dtype"""

    @_SETTINGS
    @given(_logits())
    def prop(x_dim):
        x, dim = x_dim
        out, call = kit.call(log_softmax, "log_softmax", x, dim=dim, shape=x.shape)
        if out.dtype != x.dtype:
            kit.fail(call, f"returned dtype {out.dtype}, expected x's dtype {x.dtype}")

    _run(prop, log_softmax, "log_softmax")


@_check("log_softmax")
def exp_sums_to_one(log_softmax):
    """is <= 0, and its exp sums to 1 along `dim`"""

    @_SETTINGS
    @given(_logits())
    def prop(x_dim):
        x, dim = x_dim
        out, call = kit.call(log_softmax, "log_softmax", x, dim=dim, shape=x.shape)
        if not (torch.isfinite(out) & (out <= 4 * kit.EPS32)).all():
            kit.fail(call, "log-probabilities must be finite and <= 0", output=out)
        err, tol = _sums_to_one(out.double().exp(), dim, x)
        if not err <= tol:
            kit.fail(call, f"exp(output) does not sum to 1 along dim={dim} (off by {err:.3g})", output=out)

    _run(prop, log_softmax, "log_softmax")


@_check("log_softmax")
def equals_x_minus_logsumexp(log_softmax):
    """equals x - logsumexp(x) along `dim`"""

    @_SETTINGS
    @given(_logits(bound=100.0))
    def prop(x_dim):
        x, dim = x_dim
        out, call = kit.call(log_softmax, "log_softmax", x, dim=dim, shape=x.shape)
        expected = x.double() - torch.logsumexp(x.double(), dim=dim, keepdim=True)
        err = (out.double() - expected).abs().max().item()
        if not err <= _logsumexp_error_tol(x):
            kit.fail(call, f"differs from x - logsumexp(x, dim={dim}) by {err:.3g} (computing "
                        "log(softmax(x)) loses the tiny probabilities: work in log space)",
                  expected=expected.to(x.dtype), got=out)

    _run(prop, log_softmax, "log_softmax")


@_check("log_softmax")
def log_softmax_finite_for_large_logits(log_softmax):
    """stays finite and correct for float32 logits up to ±1e4"""

    @_SETTINGS
    @given(_logits(bound=1e4, dtypes=(np.float32,)))
    def prop(x_dim):
        x, dim = x_dim
        out, call = kit.call(log_softmax, "log_softmax", x, dim=dim, shape=x.shape)
        if not torch.isfinite(out).all():
            kit.fail(call, "non-finite values: do not take log(softmax(x)), whose small "
                        "probabilities underflow to 0; use x - max - log(sum(exp(x - max)))",
                  output=out)
        expected = x.double() - torch.logsumexp(x.double(), dim=dim, keepdim=True)
        err = (out.double() - expected).abs().max().item()
        if not err <= _logsumexp_error_tol(x):
            kit.fail(call, f"differs from x - logsumexp(x, dim={dim}) by {err:.3g}",
                  expected=expected.to(x.dtype), got=out)

    _run(prop, log_softmax, "log_softmax")


@_check("log_softmax")
def log_softmax_leaves_input_unchanged(log_softmax):
    """does not modify its input"""
    x = torch.tensor([[1.0, -2.0, 3.0], [0.5, 0.0, -0.5]])
    before = x.clone()
    kit.call(log_softmax, "log_softmax", x, clone=False)
    if not torch.equal(x, before):
        raise AssertionError(f"log_softmax(x) modified x in place:\n  before = {kit.show(before)}\n"
                             f"  after  = {kit.show(x)}\n(use out-of-place ops: x - m, not x -= m)")


@_check("log_softmax")
def log_softmax_rejects_invalid_arguments(log_softmax):
    """raises ValueError for an integer tensor or an out-of-range dim"""
    x = torch.zeros(2, 3)
    kit.expect_value_error(log_softmax, "log_softmax", [
        ((torch.tensor([1, 2, 3]),), {}, "x must be a floating-point tensor"),
        ((x,), {"dim": 2}, "dim=2 is out of range for a 2-D tensor"),
        ((x,), {"dim": -3}, "dim=-3 is out of range for a 2-D tensor"),
    ])


# -----------------------------------------------------------------------------
# masked_softmax


@_check("masked_softmax")
def masked_softmax_worked_examples(masked_softmax):
    """matches the worked examples in the notebook"""
    x = torch.tensor([1.0, 2.0, 3.0])
    mask = torch.tensor([True, False, True])
    out, call = kit.call(masked_softmax, "masked_softmax", x, mask, shape=x.shape)
    expected = torch.tensor([1 / (1 + math.exp(2)), 0.0, 1 / (1 + math.exp(-2))])
    if not torch.allclose(out.double(), expected.double(), atol=1e-6):
        kit.fail(call, "wrong values (the masked entry must not take part in the softmax)",
              expected=expected, got=out)

    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    mask = torch.tensor([[True, False], [False, False]])
    out, call = kit.call(masked_softmax, "masked_softmax", x, mask, shape=x.shape)
    expected = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    if not torch.equal(out.double().nan_to_num(7.0), expected.double()):
        kit.fail(call, "wrong values (a fully masked row must be all zeros)",
              expected=expected, got=out)


@_check("masked_softmax")
def masked_softmax_shape_and_dtype(masked_softmax):
    """returns a tensor with x's shape and dtype"""

    @_SETTINGS
    @given(_logits_and_mask())
    def prop(args):
        x, mask, dim = args
        out, call = kit.call(masked_softmax, "masked_softmax", x, mask, dim=dim, shape=x.shape)
        if out.dtype != x.dtype:
            kit.fail(call, f"returned dtype {out.dtype}, expected x's dtype {x.dtype}")

    _run(prop, masked_softmax, "masked_softmax")


@_check("masked_softmax")
def masked_entries_are_zero(masked_softmax):
    """masked positions (mask False) are exactly 0.0"""

    @_SETTINGS
    @given(_logits_and_mask())
    def prop(args):
        x, mask, dim = args
        out, call = kit.call(masked_softmax, "masked_softmax", x, mask, dim=dim, shape=x.shape)
        bad = ~mask & (out != 0)
        if bad.any():
            kit.fail(call, f"{int(bad.sum())} masked position(s) are not exactly 0.0 "
                        "(True in the mask means keep, False means drop)", output=out)

    _run(prop, masked_softmax, "masked_softmax")


@_check("masked_softmax")
def kept_entries_sum_to_one(masked_softmax):
    """in each slice with a kept position, the kept probabilities sum to 1"""

    @_SETTINGS
    @given(_logits_and_mask())
    def prop(args):
        x, mask, dim = args
        out, call = kit.call(masked_softmax, "masked_softmax", x, mask, dim=dim, shape=x.shape)
        if not torch.isfinite(out).all():
            kit.fail(call, "non-finite values", output=out)
        sums = out.double().where(mask, 0.0).sum(dim=dim)
        live = mask.any(dim=dim)
        err = (sums - 1).abs().where(live, 0.0).max().item()
        if not err <= _sum_tol(x, x.shape[dim]):
            kit.fail(call, f"the kept entries along dim={dim} do not sum to 1 (off by {err:.3g}); "
                        "apply the mask before normalising, not after", output=out)

    _run(prop, masked_softmax, "masked_softmax")


@_check("masked_softmax")
def kept_entries_follow_exp(masked_softmax):
    """kept probabilities are proportional to exp(x): out_i / out_j = exp(x_i - x_j)"""

    @_SETTINGS
    @given(_logits_and_mask(bound=10.0))
    def prop(args):
        x, mask, dim = args
        out, call = kit.call(masked_softmax, "masked_softmax", x, mask, dim=dim, shape=x.shape)
        # log(out_i) - x_i must be the same for every kept i of a slice
        rows = _as_row_major(out.double(), dim)
        xs = _as_row_major(x.double(), dim)
        keep = _as_row_major(mask, dim)
        for r in range(rows.shape[0]):
            k = keep[r]
            if not k.any():
                continue
            if not (rows[r][k] > 0).all():
                kit.fail(call, "a kept position got probability 0", output=out)
            offsets = rows[r][k].log() - xs[r][k]
            spread = (offsets.max() - offsets.min()).item()
            if not spread <= 1e-4:
                kit.fail(call, f"kept probabilities along dim={dim} are not proportional to exp(x) "
                            f"(log(out) - x varies by {spread:.3g} within a slice)", output=out)

    _run(prop, masked_softmax, "masked_softmax")


@_check("masked_softmax")
def masked_logits_are_ignored(masked_softmax):
    """changing the logits at masked positions changes nothing"""

    @_SETTINGS
    @given(_logits_and_mask(), st.floats(-30, 30, width=32))
    def prop(args, other):
        x, mask, dim = args
        x2 = x.masked_fill(~mask, other)
        out, call = kit.call(masked_softmax, "masked_softmax", x, mask, dim=dim, shape=x.shape)
        out2, call2 = kit.call(masked_softmax, "masked_softmax", x2, mask, dim=dim, shape=x.shape)
        err = kit.max_diff(out, out2)
        if not err <= 1e-6:
            raise AssertionError(
                f"only the masked logits differ between these two calls, yet the results "
                f"differ by {err:.3g}:\n  {call} = {kit.show(out)}\n  {call2} = {kit.show(out2)}")

    _run(prop, masked_softmax, "masked_softmax")


@_check("masked_softmax")
def fully_masked_rows_are_zero(masked_softmax):
    """a fully masked slice is all zeros, and nothing is NaN"""
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    out, call = kit.call(masked_softmax, "masked_softmax", x, mask, shape=x.shape)
    if not torch.equal(out[1].double().nan_to_num(7.0), torch.zeros(3, dtype=torch.float64)):
        kit.fail(call, "row 1 is fully masked and must be all zeros: not NaN (filling with -inf "
                    "gives -inf - (-inf) = NaN there) and not uniform (filling with a large "
                    "negative number gives that); handle such rows specially", output=out)

    @_SETTINGS
    @given(_logits_and_mask(fully_masked_row=True))
    def prop(args):
        x, mask, dim = args
        out, call = kit.call(masked_softmax, "masked_softmax", x, mask, dim=dim, shape=x.shape)
        if torch.isnan(out).any():
            kit.fail(call, "the output contains NaN", output=out)
        dead = ~mask.any(dim=dim, keepdim=True)
        if (out.where(dead, 0.0) != 0).any():
            kit.fail(call, f"a fully masked slice along dim={dim} is not all zeros", output=out)

    _run(prop, masked_softmax, "masked_softmax")


@_check("masked_softmax")
def mask_broadcasts(masked_softmax):
    """a mask with fewer or size-1 dims acts like the expanded mask"""

    @_SETTINGS
    @given(hnp.array_shapes(min_dims=4, max_dims=4, min_side=1, max_side=3), st.data())
    def prop(shape, data):
        b, h, lq, lk = shape
        x = torch.from_numpy(data.draw(hnp.arrays(np.float32, shape, elements=st.floats(-5, 5, width=32))).copy())
        causal_like = torch.from_numpy(data.draw(hnp.arrays(np.bool_, (lq, lk))).copy())  # [Lq, Lk]
        padding_like = torch.from_numpy(data.draw(hnp.arrays(np.bool_, (b, 1, 1, lk))).copy())  # [B,1,1,Lk]
        for mask in (causal_like, padding_like):
            out, call = kit.call(masked_softmax, "masked_softmax", x, mask, shape=x.shape)
            full = mask.expand(x.shape).clone()
            out_full, call_full = kit.call(masked_softmax, "masked_softmax", x, full, shape=x.shape)
            err = kit.max_diff(out, out_full)
            if not err <= 1e-6:
                raise AssertionError(
                    f"a mask of shape {tuple(mask.shape)} must act like the same mask expanded "
                    f"to x's shape {tuple(x.shape)}, but the results differ by {err:.3g}:\n"
                    f"  {call} = {kit.show(out)}\n  with mask.expand(x.shape): {kit.show(out_full)}")

    _run(prop, masked_softmax, "masked_softmax")


@_check("masked_softmax")
def masked_softmax_finite_for_large_logits(masked_softmax):
    """stays finite, with kept entries summing to 1, for float32 logits up to ±1e4"""

    @_SETTINGS
    @given(_logits_and_mask(bound=1e4, dtypes=(np.float32,)))
    def prop(args):
        x, mask, dim = args
        out, call = kit.call(masked_softmax, "masked_softmax", x, mask, dim=dim, shape=x.shape)
        if not torch.isfinite(out).all():
            kit.fail(call, "non-finite values: subtract the maximum over the kept positions "
                        "before exp", output=out)
        sums = out.double().where(mask, 0.0).sum(dim=dim)
        err = (sums - 1).abs().where(mask.any(dim=dim), 0.0).max().item()
        if not err <= _sum_tol(x, x.shape[dim]):
            kit.fail(call, f"the kept entries along dim={dim} do not sum to 1 (off by {err:.3g})",
                  output=out)

    _run(prop, masked_softmax, "masked_softmax")


@_check("masked_softmax")
def masked_softmax_leaves_inputs_unchanged(masked_softmax):
    """does not modify x or mask"""
    x = torch.tensor([[1.0, -2.0, 3.0], [0.5, 0.0, -0.5]])
    mask = torch.tensor([[True, False, True], [False, False, False]])
    x0, mask0 = x.clone(), mask.clone()
    kit.call(masked_softmax, "masked_softmax", x, mask, clone=False)
    if not (torch.equal(x, x0) and torch.equal(mask, mask0)):
        raise AssertionError(
            f"masked_softmax(x, mask) modified its inputs in place:\n"
            f"  before: x = {kit.show(x0)}, mask = {kit.show(mask0)}\n"
            f"  after:  x = {kit.show(x)}, mask = {kit.show(mask)}\n"
            "(use x.masked_fill(...), which returns a new tensor, not x.masked_fill_(...))")


@_check("masked_softmax")
def masked_softmax_rejects_invalid_arguments(masked_softmax):
    """raises ValueError for a non-bool mask or a mask that does not broadcast to x"""
    x = torch.zeros(2, 4)
    kit.expect_value_error(masked_softmax, "masked_softmax", [
        ((x, torch.ones(2, 4)), {}, "the mask must have dtype torch.bool"),
        ((x, torch.ones(2, 4, dtype=torch.int64)), {}, "the mask must have dtype torch.bool"),
        ((x, torch.ones(3, dtype=torch.bool)), {}, "a [3] mask does not broadcast to x's shape [2, 4]"),
        ((x, torch.ones(3, 2, 4, dtype=torch.bool)), {},
         "a [3, 2, 4] mask would make the result larger than x [2, 4]"),
        ((x, torch.ones(2, 4, dtype=torch.bool)), {"dim": 2}, "dim=2 is out of range for a 2-D tensor"),
    ])


# -----------------------------------------------------------------------------
# causal_mask

_lengths = st.integers(0, 8)


@_check("causal_mask")
def causal_mask_worked_examples(causal_mask):
    """matches the worked examples in the notebook"""
    T, F = True, False
    examples = [
        ((3,), torch.tensor([[T, F, F], [T, T, F], [T, T, T]])),
        ((2, 4), torch.tensor([[T, T, T, F], [T, T, T, T]])),
        ((3, 2), torch.tensor([[F, F], [T, F], [T, T]])),
    ]
    for args, expected in examples:
        out, call = kit.call(causal_mask, "causal_mask", *args, shape=expected.shape)
        if not torch.equal(out.to(torch.bool), expected):
            kit.fail(call, "wrong mask (True where key j <= i + (k_len - q_len))",
                  expected=expected, got=out)


@_check("causal_mask")
def causal_mask_shape_and_dtype(causal_mask):
    """returns a bool tensor of shape [q_len, k_len] (k_len defaults to q_len)"""

    @_SETTINGS
    @given(_lengths, st.one_of(st.none(), _lengths))
    def prop(q_len, k_len):
        args = (q_len,) if k_len is None else (q_len, k_len)
        out, call = kit.call(causal_mask, "causal_mask", *args, shape=(q_len, q_len if k_len is None else k_len))
        if out.dtype != torch.bool:
            kit.fail(call, f"returned dtype {out.dtype}, expected torch.bool", got=out)

    _run(prop, causal_mask, "causal_mask")
    kit.call(causal_mask, "causal_mask", 3, 5, device="cpu", shape=(3, 5))  # device is keyword-only


@_check("causal_mask")
def square_mask_is_lower_triangular(causal_mask):
    """causal_mask(T) is True exactly on and below the diagonal (j <= i)"""

    @_SETTINGS
    @given(st.integers(1, 8))
    def prop(n):
        out, call = kit.call(causal_mask, "causal_mask", n, shape=(n, n))
        i = torch.arange(n).unsqueeze(1)
        j = torch.arange(n).unsqueeze(0)
        wrong = out.to(torch.bool) != (j <= i)
        if wrong.any():
            i0, j0 = [int(v) for v in wrong.nonzero()[0]]
            kit.fail(call, f"entry [{i0}, {j0}] is {bool(out[i0, j0])}: query i may attend to keys "
                        "j <= i, including itself (the diagonal is True)", got=out)

    _run(prop, causal_mask, "causal_mask")


@_check("causal_mask")
def bottom_right_alignment(causal_mask):
    """with k_len > q_len, the queries are the LAST q_len rows of causal_mask(k_len)"""

    @_SETTINGS
    @given(st.integers(1, 8), st.integers(0, 6))
    def prop(q_len, extra):
        k_len = q_len + extra
        out, call = kit.call(causal_mask, "causal_mask", q_len, k_len, shape=(q_len, k_len))
        full, _ = kit.call(causal_mask, "causal_mask", k_len, shape=(k_len, k_len))
        expected = full[k_len - q_len:].to(torch.bool)
        if not torch.equal(out.to(torch.bool), expected):
            kit.fail(call, f"with a cache, the {q_len} new queries are the last {q_len} positions of "
                        f"{k_len}: the mask must equal causal_mask({k_len})[{k_len - q_len}:] "
                        "(aligned bottom-right, so the last query sees every key)",
                  expected=expected, got=out)

    _run(prop, causal_mask, "causal_mask")


@_check("causal_mask")
def more_queries_than_keys(causal_mask):
    """with k_len < q_len, the first q_len - k_len rows are all False"""

    @_SETTINGS
    @given(st.integers(0, 6), st.integers(1, 4))
    def prop(k_len, extra):
        q_len = k_len + extra
        out, call = kit.call(causal_mask, "causal_mask", q_len, k_len, shape=(q_len, k_len))
        full, _ = kit.call(causal_mask, "causal_mask", k_len, shape=(k_len, k_len))
        expected = torch.cat([torch.zeros(extra, k_len, dtype=torch.bool), full.to(torch.bool)])
        if not torch.equal(out.to(torch.bool), expected):
            kit.fail(call, f"rule j <= i + (k_len - q_len) = i - {extra}: the first {extra} rows are all "
                        f"False and the rest equal causal_mask({k_len})", expected=expected, got=out)

    _run(prop, causal_mask, "causal_mask")


@_check("causal_mask")
def causal_mask_rejects_invalid_arguments(causal_mask):
    """raises ValueError for a negative or non-integer length"""
    kit.expect_value_error(causal_mask, "causal_mask", [
        ((-1,), {}, "q_len must be >= 0"),
        ((3, -2), {}, "k_len must be >= 0"),
        ((2.5,), {}, "q_len must be an int"),
    ])


# -----------------------------------------------------------------------------
# padding_mask


@st.composite
def _lengths_and_max_len(draw):
    max_len = draw(st.integers(0, 8))
    lengths = draw(st.lists(st.integers(0, max_len), min_size=1, max_size=5))
    dtype = draw(st.sampled_from([torch.int64, torch.int32]))
    return torch.tensor(lengths, dtype=dtype), max_len


@_check("padding_mask")
def padding_mask_worked_examples(padding_mask):
    """matches the worked examples in the notebook"""
    T, F = True, False
    lengths = torch.tensor([2, 0, 3])
    expected = torch.tensor([[T, T, F], [F, F, F], [T, T, T]])
    out, call = kit.call(padding_mask, "padding_mask", lengths, 3, shape=expected.shape)
    if not torch.equal(out.to(torch.bool), expected):
        kit.fail(call, "wrong mask (True where position t < lengths[b])", expected=expected, got=out)


@_check("padding_mask")
def padding_mask_shape_and_dtype(padding_mask):
    """returns a bool tensor of shape [B, max_len], for int64 and int32 lengths"""

    @_SETTINGS
    @given(_lengths_and_max_len())
    def prop(args):
        lengths, max_len = args
        out, call = kit.call(padding_mask, "padding_mask", lengths, max_len,
                          shape=(lengths.shape[0], max_len))
        if out.dtype != torch.bool:
            kit.fail(call, f"returned dtype {out.dtype}, expected torch.bool", got=out)

    _run(prop, padding_mask, "padding_mask")


@_check("padding_mask")
def leading_trues_per_row(padding_mask):
    """row b is lengths[b] Trues followed by Falses, and `lengths` is left unchanged"""

    @_SETTINGS
    @given(_lengths_and_max_len())
    def prop(args):
        lengths, max_len = args
        before = lengths.clone()
        out, call = kit.call(padding_mask, "padding_mask", lengths, max_len,
                          shape=(lengths.shape[0], max_len), clone=False)
        if not torch.equal(lengths, before):
            kit.fail(call, "modified `lengths` in place", before=before, after=lengths)
        out = out.to(torch.bool)
        for b, n in enumerate(lengths.tolist()):
            row = out[b]
            if not (row[:n].all() and not row[n:].any()):
                kit.fail(call, f"row {b} should be {n} True then {max_len - n} False", got=out)

    _run(prop, padding_mask, "padding_mask")


@_check("padding_mask")
def padding_mask_rejects_invalid_arguments(padding_mask):
    """raises ValueError for negative lengths, lengths > max_len, or a bad lengths tensor"""
    kit.expect_value_error(padding_mask, "padding_mask", [
        ((torch.tensor([2, -1]), 3), {}, "lengths must be >= 0"),
        ((torch.tensor([2, 4]), 3), {}, "lengths must be <= max_len"),
        ((torch.tensor([2, 1]), -1), {}, "max_len must be >= 0"),
        ((torch.tensor([2.0, 1.0]), 3), {}, "lengths must have an integer dtype"),
        ((torch.tensor([[2, 1]]), 3), {}, "lengths must be 1-D [B]"),
    ])
