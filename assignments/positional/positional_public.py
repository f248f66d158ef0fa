"""Public checks for the `positional` unit: what `grader.check("<question>")` runs.

You may read this file: it contains no reference solution. Every check tests a property
that any correct implementation has (sin^2 + cos^2 = 1 in every column pair, RoPE preserves
lengths and its dot products depend only on relative position, ALiBi is 0 on the diagonal,
...) or a worked example whose answer is printed in the notebook. Passing them all is a good
sign, not a guarantee: the grader also compares your functions with a reference on many more
inputs (long sequences, other bases, explicit positions, batch dims, other head counts, ...).

Each check is a plain function that takes your function(s) as keyword arguments, named
like the functions in the notebook, e.g. ``pairs_lie_on_the_unit_circle(sinusoidal_encoding=
sinusoidal_encoding)``, and raises AssertionError with the failing input when the property
does not hold. Random inputs are drawn by hypothesis with a fixed seed, so a check gives the
same verdict every time, and a failure shows a shrunk (small) failing input. The first line
of each docstring is the check's display name.

This module needs only torch, numpy and hypothesis.
"""

import cmath
import math

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import _public_kit as kit  # assignments/_public_kit.py, shipped beside this module

# question name -> its checks, in display order (filled in by @_check below); each question of
# the spec (autograder/units/positional.py) takes the checks registered under its name
CHECKS, _check = kit.registry()
_SETTINGS = kit.hypothesis_settings(max_examples=30)


# -----------------------------------------------------------------------------
# helpers: calling student code, tolerances


# one tiny valid call per student function, to say "not implemented yet" before hypothesis
# spends time drawing inputs
_PROBES = {
    "sinusoidal_encoding": lambda f: f(2, 2),
    "rotary_embedding": lambda f: f(torch.zeros(1, 2)),
    "alibi_slopes": lambda f: f(2),
    "alibi_bias": lambda f: f(2, 2),
}


def _run(prop, fn, name):
    """Run a hypothesis property; a stub says "not implemented yet" before any input is drawn."""
    kit.run(prop, fn, name, _PROBES[name])


# -----------------------------------------------------------------------------
# strategies: small random inputs

_BASES = st.sampled_from([10000.0, 100.0, 2.0, 1e6, 500.0])


@st.composite
def _table_args(draw, min_d=1):
    """(seq_len, d_model, kwargs) for sinusoidal_encoding; kwargs may set a non-default base."""
    seq_len = draw(st.integers(1, 64))
    d_model = draw(st.integers(min_d, 16))
    kwargs = {} if draw(st.booleans()) else {"base": draw(_BASES)}
    return seq_len, d_model, kwargs


def _floats(shape, dtype=np.float32, bound=5.0):
    width = 32 if dtype == np.float32 else 64
    elements = st.floats(-bound, bound, width=width, allow_nan=False, allow_infinity=False,
                         allow_subnormal=False)
    return hnp.arrays(dtype, shape, elements=elements).map(lambda a: torch.from_numpy(a.copy()))


@st.composite
def _rope_input(draw, max_batch_dims=2, max_t=6, max_pairs=4):
    """x [..., T, d] with d even, float32 or float64, values in [-5, 5]."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=max_batch_dims, min_side=1, max_side=3))
    T = draw(st.integers(1, max_t))
    d = 2 * draw(st.integers(1, max_pairs))
    return draw(_floats((*batch, T, d), dtype))


def _rope_tol(x):
    return 1e-5 + 16 * kit.EPS32 * (x.abs().max().item() if x.numel() else 0.0)


# -----------------------------------------------------------------------------
# sinusoidal_encoding

# sinusoidal_encoding(3, 4): freq = [1, 1/100], rows p = 0, 1, 2
_TABLE_3_4 = [
    [0.0, 1.0, 0.0, 1.0],
    [0.8414709848078965, 0.5403023058681398, 0.009999833334166664, 0.9999500004166653],
    [0.9092974268256817, -0.4161468365471424, 0.019998666693333080, 0.9998000066665778],
]


@_check("sinusoidal_encoding")
def sinusoidal_worked_examples(sinusoidal_encoding):
    """matches the worked examples in the notebook"""
    out, call = kit.call(sinusoidal_encoding, "sinusoidal_encoding", 3, 4, shape=(3, 4))
    expected = torch.tensor(_TABLE_3_4, dtype=torch.float64)
    if not torch.allclose(out.double(), expected, atol=1e-6):
        kit.fail(call, "wrong values: PE[p, 2i] = sin(p / base^(2i/d_model)) and PE[p, 2i+1] = cos(same), "
                    "interleaved (even columns sine, odd columns cosine)", expected=expected, got=out)

    # odd d_model: the last column is the sine of one more frequency, without its cosine
    out, call = kit.call(sinusoidal_encoding, "sinusoidal_encoding", 2, 3, shape=(2, 3))
    expected = torch.tensor([[0.0, 1.0, 0.0],
                             [math.sin(1.0), math.cos(1.0), math.sin(10000.0 ** (-2 / 3))]], dtype=torch.float64)
    if not torch.allclose(out.double(), expected, atol=1e-6):
        kit.fail(call, "wrong values for an odd d_model: the last column is a sine, with exponent "
                    "2i/d_model = 2/3 here", expected=expected, got=out)


@_check("sinusoidal_encoding")
def sinusoidal_shape_and_dtype(sinusoidal_encoding):
    """returns a [seq_len, d_model] table, float32 unless `dtype` says otherwise"""

    @_SETTINGS
    @given(_table_args(), st.sampled_from([None, torch.float32, torch.float64]))
    def prop(args, dtype):
        seq_len, d_model, kwargs = args
        if dtype is not None:
            kwargs = dict(kwargs, dtype=dtype)
        out, call = kit.call(sinusoidal_encoding, "sinusoidal_encoding", seq_len, d_model,
                          shape=(seq_len, d_model), **kwargs)
        expected = dtype or torch.float32
        if out.dtype != expected:
            kit.fail(call, f"returned dtype {out.dtype}, expected {expected}")

    _run(prop, sinusoidal_encoding, "sinusoidal_encoding")


@_check("sinusoidal_encoding")
def first_row_is_zero_one(sinusoidal_encoding):
    """position 0 is [0, 1, 0, 1, ...] (sin 0 = 0 in even columns, cos 0 = 1 in odd ones)"""

    @_SETTINGS
    @given(_table_args())
    def prop(args):
        seq_len, d_model, kwargs = args
        out, call = kit.call(sinusoidal_encoding, "sinusoidal_encoding", seq_len, d_model,
                          shape=(seq_len, d_model), **kwargs)
        expected = (torch.arange(d_model) % 2).double()
        if not torch.allclose(out[0].double(), expected, atol=1e-6):
            kit.fail(call, "row 0 must be [0, 1, 0, 1, ...]: sines in the even columns, cosines in the "
                        "odd ones (interleaved, not concatenated)", expected=expected, got=out[0])

    _run(prop, sinusoidal_encoding, "sinusoidal_encoding")


@_check("sinusoidal_encoding")
def pairs_lie_on_the_unit_circle(sinusoidal_encoding):
    """values in [-1, 1], and PE[p, 2i]^2 + PE[p, 2i+1]^2 = 1 for every pair"""

    @_SETTINGS
    @given(_table_args(min_d=2))
    def prop(args):
        seq_len, d_model, kwargs = args
        out, call = kit.call(sinusoidal_encoding, "sinusoidal_encoding", seq_len, d_model,
                          shape=(seq_len, d_model), **kwargs)
        out64 = out.double()
        if not (torch.isfinite(out64) & (out64.abs() <= 1 + 4 * kit.EPS32)).all():
            kit.fail(call, "some values are not in [-1, 1]", got=out)
        n = d_model // 2
        radius = out64[:, 0:2 * n:2] ** 2 + out64[:, 1:2 * n:2] ** 2  # [seq_len, n]
        err = (radius - 1).abs().max().item()
        if not err <= 1e-5:
            p, i = [int(v) for v in ((radius - 1).abs() == err).nonzero()[0]]
            kit.fail(call, f"PE[{p}, {2 * i}]^2 + PE[{p}, {2 * i + 1}]^2 = {radius[p, i].item():.6g}, not 1: "
                        "columns 2i and 2i+1 must be the sine and the cosine of the same angle")

    _run(prop, sinusoidal_encoding, "sinusoidal_encoding")


@_check("sinusoidal_encoding")
def pair_i_turns_at_its_frequency(sinusoidal_encoding):
    """pair i turns by base^(-2i/d_model) radians from each position to the next"""
    # (PE[p, 2i+1], PE[p, 2i]) = (cos, sin) of the angle p * freq_i: as a complex number
    # cos + j sin = exp(j p freq_i), so row p+1 is row p times exp(j freq_i), for every p.

    @_SETTINGS
    @given(_table_args(min_d=2))
    def prop(args):
        seq_len, d_model, kwargs = args
        seq_len = max(seq_len, 2)
        base = kwargs.get("base", 10000.0)
        out, call = kit.call(sinusoidal_encoding, "sinusoidal_encoding", seq_len, d_model,
                          shape=(seq_len, d_model), **kwargs)
        out64 = out.double()
        for i in range((d_model + 1) // 2):
            freq = base ** (-2 * i / d_model)
            sin = out64[:, 2 * i]
            if 2 * i + 1 == d_model:  # odd d_model: a lone sine in the last column
                expected = torch.sin(torch.arange(seq_len, dtype=torch.float64) * freq)
                err = (sin - expected).abs().max().item()
                if not err <= 1e-5 + 4 * kit.EPS32 * seq_len:
                    kit.fail(call, f"the last column (odd d_model) must be sin(p * {freq:.6g}), i.e. the "
                                f"sine of frequency base^(-{2 * i}/{d_model}); it is off by {err:.3g}",
                          expected=expected.to(out.dtype), got=out[:, 2 * i])
                continue
            z = torch.complex(out64[:, 2 * i + 1], sin)  # exp(j p freq)
            step = z[1:] * z[:-1].conj()  # exp(j freq) for every p, if correct
            want = cmath.exp(1j * freq)
            err = (step - want).abs().max().item()
            if not err <= 1e-5 + 4 * kit.EPS32 * seq_len:
                bad = int((step - want).abs().argmax())
                turn = cmath.phase(complex(step[bad].item()))
                kit.fail(call, f"pair ({2 * i}, {2 * i + 1}) should turn by freq = base^(-{2 * i}/{d_model}) "
                            f"= {freq:.6g} radians per position, but from position {bad} to {bad + 1} it "
                            f"turns by {turn:.6g} (check the exponent 2i/d_model, where 2i is the column "
                            "of the pair's sine, and that you use `base`)")

    _run(prop, sinusoidal_encoding, "sinusoidal_encoding")


@_check("sinusoidal_encoding")
def sinusoidal_rejects_invalid_arguments(sinusoidal_encoding):
    """raises ValueError for a negative length, d_model < 1, a bool size, a base that is not positive and finite, a non-float dtype"""
    kit.expect_value_error(sinusoidal_encoding, "sinusoidal_encoding", [
        ((-1, 4), {}, "seq_len must be >= 0"),
        ((3, 0), {}, "d_model must be >= 1"),
        ((True, 4), {}, "seq_len must be an int (bool is refused)"),
        ((3, 4), {"base": 0.0}, "base must be a positive finite number"),
        ((3, 4), {"base": -10.0}, "base must be a positive finite number"),
        ((3, 4), {"base": float("inf")}, "base must be a positive finite number"),
        ((3, 4), {"base": float("nan")}, "base must be a positive finite number"),
        ((3, 4), {"dtype": torch.int64}, "dtype must be a floating-point torch.dtype"),
    ])


# -----------------------------------------------------------------------------
# rotary_embedding

_C1, _S1 = math.cos(1.0), math.sin(1.0)
_C01, _S01 = math.cos(0.01), math.sin(0.01)


@_check("rotary_embedding")
def rope_worked_examples(rotary_embedding):
    """matches the worked examples in the notebook"""
    # d = 4: pair 0 turns by 1 radian per position, pair 1 by 10000^(-2/4) = 0.01
    x = torch.tensor([[1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 1.0, 0.0]])
    out, call = kit.call(rotary_embedding, "rotary_embedding", x, shape=x.shape)
    expected = torch.tensor([[1.0, 0.0, 1.0, 0.0], [_C1, _S1, _C01, _S01]], dtype=torch.float64)
    if not torch.allclose(out.double(), expected, atol=1e-6):
        kit.fail(call, "wrong values: position 0 is unchanged, and at position 1 the pair (1, 0) turns "
                    "counter-clockwise to (cos theta, sin theta), theta = 1 for pair 0 and 0.01 for pair 1",
              expected=expected, got=out)

    x = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    out, call = kit.call(rotary_embedding, "rotary_embedding", x, shape=x.shape)
    expected = torch.tensor([[0.0, 1.0], [-_S1, _C1]], dtype=torch.float64)
    if not torch.allclose(out.double(), expected, atol=1e-6):
        kit.fail(call, "wrong values: (0, 1) rotated counter-clockwise by 1 radian is (-sin 1, cos 1)",
              expected=expected, got=out)

    # another base: pair 1 turns by base^(-2/4) = 100^(-1/2) = 0.1 per position
    x = torch.tensor([[1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 1.0, 0.0]])
    out, call = kit.call(rotary_embedding, "rotary_embedding", x, base=100.0, shape=x.shape)
    expected = torch.tensor([[1.0, 0.0, 1.0, 0.0], [_C1, _S1, math.cos(0.1), math.sin(0.1)]], dtype=torch.float64)
    if not torch.allclose(out.double(), expected, atol=1e-6):
        kit.fail(call, "wrong values with base=100: pair i turns by position * base^(-2i/d), so pair 1 "
                    "turns by 100^(-1/2) = 0.1 at position 1 (is `base` used?)", expected=expected, got=out)


@_check("rotary_embedding")
def rope_shape_and_dtype(rotary_embedding):
    """returns a tensor with x's shape and dtype (any number of batch dims)"""

    @_SETTINGS
    @given(_rope_input())
    def prop(x):
        out, call = kit.call(rotary_embedding, "rotary_embedding", x, shape=x.shape)
        if out.dtype != x.dtype:
            kit.fail(call, f"returned dtype {out.dtype}, expected x's dtype {x.dtype}")

    _run(prop, rotary_embedding, "rotary_embedding")


@_check("rotary_embedding")
def rope_preserves_pair_norms(rotary_embedding):
    """preserves the length of every pair (x[..., 2i], x[..., 2i+1]); position 0 is unchanged"""

    @_SETTINGS
    @given(_rope_input())
    def prop(x):
        out, call = kit.call(rotary_embedding, "rotary_embedding", x, shape=x.shape)
        x64, out64 = x.double(), out.double()
        norm_in = x64[..., 0::2] ** 2 + x64[..., 1::2] ** 2
        norm_out = out64[..., 0::2] ** 2 + out64[..., 1::2] ** 2
        err = kit.max_diff(norm_in.sqrt(), norm_out.sqrt())
        if not err <= _rope_tol(x):
            kit.fail(call, f"the length of some pair (x[..., 2i], x[..., 2i+1]) changed by {err:.3g}: "
                        "RoPE rotates interleaved pairs, and rotations preserve lengths", x=x, got=out)
        err = kit.max_diff(out64[..., 0, :], x64[..., 0, :])
        if not err <= _rope_tol(x):
            kit.fail(call, "position 0 (the first row along T) must be unchanged: its angles are 0",
                  x=x, got=out)

    _run(prop, rotary_embedding, "rotary_embedding")


@_check("rotary_embedding")
def rope_scores_depend_on_relative_position(rotary_embedding):
    """<rope(q) at position m, rope(k) at position n> depends only on m - n"""

    @_SETTINGS
    @given(st.integers(1, 4), st.integers(2, 8), st.data())
    def prop(pairs, T, data):
        d = 2 * pairs
        q = data.draw(_floats((d,)))
        k = data.draw(_floats((d,)))
        xq, xk = q.expand(T, d).clone(), k.expand(T, d).clone()  # the same q (k) at positions 0 .. T-1
        rq, call = kit.call(rotary_embedding, "rotary_embedding", xq, shape=(T, d))
        rk, _ = kit.call(rotary_embedding, "rotary_embedding", xk, shape=(T, d))
        scores = rq.double() @ rk.double().T  # [m, n] = <rope(q, m), rope(k, n)>
        shifted = (scores[1:, 1:] - scores[:-1, :-1]).abs()  # (m+1, n+1) against (m, n)
        tol = 1e-4 * (1 + q.abs().sum().item() * k.abs().sum().item())
        if not shifted.max().item() <= tol:
            m, n = [int(v) for v in (shifted == shifted.max()).nonzero()[0]]
            raise AssertionError(
                f"with q = {kit.show(q)} and k = {kit.show(k)} at every position (x = q.expand({T}, {d})), "
                f"<rope(q) at {m + 1}, rope(k) at {n + 1}> = {scores[m + 1, n + 1].item():.6g} but "
                f"<rope(q) at {m}, rope(k) at {n}> = {scores[m, n].item():.6g}: the dot product must "
                "depend only on m - n. Rotate every pair by p * freq_i, with the same freq_i for "
                "queries and keys.")

    _run(prop, rotary_embedding, "rotary_embedding")


@_check("rotary_embedding")
def rope_positions_argument(rotary_embedding):
    """positions=arange(T) equals the default, and positions[t] = p rotates row t as position p"""

    @_SETTINGS
    @given(st.integers(1, 3), st.data())
    def prop(pairs, data):
        d = 2 * pairs
        T = data.draw(st.integers(1, 4))
        x = data.draw(_floats((T, d)))
        default, call = kit.call(rotary_embedding, "rotary_embedding", x, shape=(T, d))
        explicit, call2 = kit.call(rotary_embedding, "rotary_embedding", x, positions=torch.arange(T), shape=(T, d))
        if not kit.max_diff(default, explicit) <= _rope_tol(x):
            raise AssertionError(f"{call2} must equal {call} (positions defaults to arange(T)):\n"
                                 f"  with positions: {kit.show(explicit)}\n  default: {kit.show(default)}")
        positions = torch.tensor(data.draw(st.lists(st.integers(0, 12), min_size=T, max_size=T)))
        out, call = kit.call(rotary_embedding, "rotary_embedding", x, positions=positions, shape=(T, d))
        for t, p in enumerate(positions.tolist()):
            row = x[t].expand(p + 1, d).clone()  # the same vector at positions 0 .. p: the last is at p
            want, want_call = kit.call(rotary_embedding, "rotary_embedding", row, shape=(p + 1, d))
            if not kit.max_diff(out[t], want[p]) <= _rope_tol(x):
                raise AssertionError(
                    f"{call}: row {t} has position {p}, so it must be rotated like the last row of "
                    f"rotary_embedding(x[{t}].expand({p + 1}, {d})) (default positions 0 .. {p}), "
                    f"but it is {kit.show(out[t])}, not {kit.show(want[p])}. Use `positions` when given.")

    _run(prop, rotary_embedding, "rotary_embedding")


@_check("rotary_embedding")
def rope_batch_dims_share_positions(rotary_embedding):
    """with batch dims [B, H, T, d], every [T, d] slice is rotated the same way"""

    @_SETTINGS
    @given(_rope_input(max_batch_dims=2))
    def prop(x):
        out, call = kit.call(rotary_embedding, "rotary_embedding", x, shape=x.shape)
        flat_x = x.reshape(-1, *x.shape[-2:])
        flat_out = out.reshape(-1, *x.shape[-2:])
        for b in range(flat_x.shape[0]):
            one, _ = kit.call(rotary_embedding, "rotary_embedding", flat_x[b], shape=x.shape[-2:])
            if not kit.max_diff(flat_out[b], one) <= _rope_tol(x):
                kit.fail(call, f"slice {b} of the batch (x.reshape(-1, T, d)[{b}]) is not rotated like "
                            "the same [T, d] tensor on its own: positions run along dim -2 only",
                      slice=flat_x[b], alone=one, in_batch=flat_out[b])

    _run(prop, rotary_embedding, "rotary_embedding")


@_check("rotary_embedding")
def rope_leaves_inputs_unchanged(rotary_embedding):
    """does not modify x or positions"""
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    kit.leaves_unchanged(rotary_embedding, "rotary_embedding", (x,), {"positions": torch.tensor([3, 1])},
                      "build a new tensor, e.g. with torch.stack or torch.empty_like, instead of "
                      "assigning into x[..., 0::2]")


@_check("rotary_embedding")
def rope_rejects_odd_d(rotary_embedding):
    """raises ValueError when d is odd, x is not float, positions is not an integer tensor [T], or base is not positive and finite"""
    x = torch.zeros(3, 4)
    kit.expect_value_error(rotary_embedding, "rotary_embedding", [
        ((torch.zeros(2, 3),), {}, "d = 3 is odd"),
        ((torch.zeros(1, 4, 5),), {}, "d = 5 is odd"),
        ((torch.zeros(3, 4, dtype=torch.int64),), {}, "x must be a floating-point tensor"),
        ((x,), {"positions": torch.tensor([0.0, 1.0, 2.0])}, "positions must be an integer tensor (these are floats)"),
        ((x,), {"positions": torch.tensor([True, False, True])}, "positions must be an integer tensor (bool is refused)"),
        ((x,), {"positions": torch.tensor([0, 1])}, "positions must have shape [T] = [3]"),
        ((x,), {"base": 0.0}, "base must be a positive finite number"),
        ((x,), {"base": float("inf")}, "base must be a positive finite number"),
    ])


# -----------------------------------------------------------------------------
# alibi_slopes


@_check("alibi_slopes")
def slopes_worked_examples(alibi_slopes):
    """matches the worked examples in the notebook (n_heads = 8, 6 and 1)"""
    for n, expected in [
        (8, [2.0 ** -k for k in range(1, 9)]),
        (6, [2.0 ** -2, 2.0 ** -4, 2.0 ** -6, 2.0 ** -8, 2.0 ** -1, 2.0 ** -3]),
        (1, [2.0 ** -8]),
    ]:
        out, call = kit.call(alibi_slopes, "alibi_slopes", n, shape=(n,))
        expected = torch.tensor(expected)
        if not torch.allclose(out.double(), expected.double(), rtol=1e-6, atol=0):
            kit.fail(call, "wrong slopes", expected=expected, got=out)


@_check("alibi_slopes")
def slopes_shape_and_dtype(alibi_slopes):
    """returns a float32 tensor of shape [n_heads]"""

    @_SETTINGS
    @given(st.integers(1, 40))
    def prop(n):
        out, call = kit.call(alibi_slopes, "alibi_slopes", n, shape=(n,))
        if out.dtype != torch.float32:
            kit.fail(call, f"returned dtype {out.dtype}, expected torch.float32", got=out)

    _run(prop, alibi_slopes, "alibi_slopes")


@_check("alibi_slopes")
def power_of_two_slopes_are_geometric(alibi_slopes):
    """for n a power of two: 2^(-8/n), 2^(-16/n), ..., 2^(-8)"""

    @_SETTINGS
    @given(st.integers(0, 6))
    def prop(k):
        n = 2 ** k
        out, call = kit.call(alibi_slopes, "alibi_slopes", n, shape=(n,))
        ratio = 2.0 ** (-8.0 / n)
        expected = torch.tensor([ratio ** (h + 1) for h in range(n)], dtype=torch.float64)
        if not torch.allclose(out.double(), expected, rtol=1e-5, atol=0):
            kit.fail(call, f"for n = {n} the slopes are the geometric sequence starting at "
                        f"2^(-8/{n}) = {ratio:.6g} with that same ratio, ending at 2^-8",
                  expected=expected.float(), got=out)

    _run(prop, alibi_slopes, "alibi_slopes")


@_check("alibi_slopes")
def other_head_counts_follow_the_paper(alibi_slopes):
    """for other n: alibi_slopes(m), then alibi_slopes(2m)[0::2], m the largest power of two < n"""

    @_SETTINGS
    @given(st.integers(3, 40).filter(lambda n: n & (n - 1)))
    def prop(n):
        m = 1 << (n.bit_length() - 1)  # the largest power of two below n
        out, call = kit.call(alibi_slopes, "alibi_slopes", n, shape=(n,))
        first, _ = kit.call(alibi_slopes, "alibi_slopes", m, shape=(m,))
        double, _ = kit.call(alibi_slopes, "alibi_slopes", 2 * m, shape=(2 * m,))
        expected = torch.cat([first, double[0::2][: n - m]])
        if not kit.max_diff(out, expected) <= 1e-7:
            kit.fail(call, f"for n = {n}, not a power of two, the slopes are the {m} slopes of "
                        f"alibi_slopes({m}) followed by the first {n - m} of alibi_slopes({2 * m})[0::2] "
                        "(every other slope of twice as many heads)", expected=expected, got=out)

    _run(prop, alibi_slopes, "alibi_slopes")


@_check("alibi_slopes")
def slopes_reject_invalid_arguments(alibi_slopes):
    """raises ValueError for n_heads < 1 or not an int (bool is refused)"""
    kit.expect_value_error(alibi_slopes, "alibi_slopes", [
        ((0,), {}, "n_heads must be >= 1"),
        ((-4,), {}, "n_heads must be >= 1"),
        ((True,), {}, "n_heads must be an int (bool is refused)"),
        ((2.0,), {}, "n_heads must be an int"),
    ])


# -----------------------------------------------------------------------------
# alibi_bias


@st.composite
def _bias_args(draw, square=None):
    n = draw(st.integers(1, 12))
    q_len = draw(st.integers(1, 6))
    if square is None:
        square = draw(st.booleans())
    k_len = q_len if square else draw(st.integers(1, 8))
    return n, q_len, k_len


@_check("alibi_bias")
def bias_worked_examples(alibi_bias):
    """matches the worked example in the notebook"""
    out, call = kit.call(alibi_bias, "alibi_bias", 2, 2, 4, shape=(2, 2, 4))
    s0, s1 = 2.0 ** -4, 2.0 ** -8
    expected = torch.tensor([[[-2 * s0, -s0, 0.0, s0], [-3 * s0, -2 * s0, -s0, 0.0]],
                             [[-2 * s1, -s1, 0.0, s1], [-3 * s1, -2 * s1, -s1, 0.0]]])
    if not torch.allclose(out.double(), expected.double(), rtol=1e-6, atol=0):
        kit.fail(call, "wrong bias: bias[h, i, j] = slope[h] * (j - (i + k_len - q_len))",
              expected=expected, got=out)


@_check("alibi_bias")
def bias_shape_and_dtype(alibi_bias):
    """returns a float32 tensor [n_heads, q_len, k_len] (k_len defaults to q_len)"""

    @_SETTINGS
    @given(_bias_args())
    def prop(args):
        n, q_len, k_len = args
        out, call = kit.call(alibi_bias, "alibi_bias", n, q_len, k_len, shape=(n, q_len, k_len))
        if out.dtype != torch.float32:
            kit.fail(call, f"returned dtype {out.dtype}, expected torch.float32")
        kit.call(alibi_bias, "alibi_bias", n, q_len, shape=(n, q_len, q_len))

    _run(prop, alibi_bias, "alibi_bias")


@_check("alibi_bias")
def bias_is_zero_on_the_diagonal(alibi_bias):
    """is 0 where key j is the query's own position, j = i + (k_len - q_len)"""

    @_SETTINGS
    @given(_bias_args())
    def prop(args):
        n, q_len, k_len = args
        out, call = kit.call(alibi_bias, "alibi_bias", n, q_len, k_len, shape=(n, q_len, k_len))
        offset = k_len - q_len
        for i in range(q_len):
            j = i + offset
            if 0 <= j < k_len and (out[:, i, j] != 0).any():
                kit.fail(call, f"bias[:, {i}, {j}] must be 0: query {i} sits at position {i} + k_len - q_len "
                            f"= {j}, its own key (the diagonal is aligned bottom-right)", got=out)

    _run(prop, alibi_bias, "alibi_bias")


@_check("alibi_bias")
def bias_is_linear_in_distance(alibi_bias, alibi_slopes):
    """bias[h, i, j] = alibi_slopes(n_heads)[h] * (distance of key j from the query)"""

    @_SETTINGS
    @given(_bias_args())
    def prop(args):
        n, q_len, k_len = args
        out, call = kit.call(alibi_bias, "alibi_bias", n, q_len, k_len, shape=(n, q_len, k_len))
        slopes, _ = kit.call(alibi_slopes, "alibi_slopes", n, shape=(n,))
        step = out.double()[:, :, 1:] - out.double()[:, :, :-1]  # one key further right
        want = slopes.double()[:, None, None].expand_as(step)
        if not kit.max_diff(step, want) <= 1e-6:
            kit.fail(call, "moving one key to the right must add slope[h] (= alibi_slopes(n_heads)[h]) "
                        "to the bias, in every row: the penalty is linear in the distance, and keys "
                        "further in the past get more negative biases", slopes=slopes, got=out)
        past = torch.arange(k_len)[None, :] < torch.arange(q_len)[:, None] + (k_len - q_len)
        if not (out[:, past] < 0).all():
            kit.fail(call, "keys in the query's past must get a negative bias (a penalty)", got=out)

    _run(prop, alibi_bias, "alibi_bias")


@_check("alibi_bias")
def bias_with_a_cache_is_the_last_rows(alibi_bias):
    """with k_len > q_len, the queries are the LAST q_len rows of alibi_bias(n, k_len)"""

    @_SETTINGS
    @given(st.integers(1, 8), st.integers(1, 5), st.integers(1, 4))
    def prop(n, q_len, extra):
        k_len = q_len + extra
        out, call = kit.call(alibi_bias, "alibi_bias", n, q_len, k_len, shape=(n, q_len, k_len))
        full, _ = kit.call(alibi_bias, "alibi_bias", n, k_len, shape=(n, k_len, k_len))
        expected = full[:, extra:]
        if not kit.max_diff(out, expected) <= 1e-7:
            kit.fail(call, f"the {q_len} queries are the last {q_len} of {k_len} positions, so the bias "
                        f"must equal alibi_bias({n}, {k_len})[:, {extra}:] (aligned bottom-right, like "
                        "a causal mask with a KV cache)", expected=expected, got=out)

    _run(prop, alibi_bias, "alibi_bias")


@_check("alibi_bias")
def bias_rejects_invalid_arguments(alibi_bias):
    """raises ValueError for n_heads < 1, a negative length, or a size that is not an int (bool is refused)"""
    kit.expect_value_error(alibi_bias, "alibi_bias", [
        ((0, 3), {}, "n_heads must be >= 1"),
        ((2, -1), {}, "q_len must be >= 0"),
        ((2, 3, -2), {}, "k_len must be >= 0"),
        ((True, 3), {}, "n_heads must be an int (bool is refused)"),
        ((2, 3.0), {}, "q_len must be an int"),
    ])
