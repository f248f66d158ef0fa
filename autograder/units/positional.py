"""Unit `positional`: sinusoidal encodings, rotary embeddings (RoPE), ALiBi slopes and biases.

Each question's hidden checks compare the student's function with solutions/positional.py on
hypothesis-drawn inputs; the explicit examples aim at the classic bugs (sin/cos
concatenated, wrong frequency exponent, `base` ignored, odd d_model crashing, RoPE rotated the
other way or in the half-split layout, `positions` ignored, ALiBi slopes wrong for
non-powers of two, ALiBi aligned top-left or with its sign flipped, inputs modified in place).

Tolerance: sinusoids and rotations are judged relative to the size of the angle. At position p
an angle p * freq (freq <= 1) computed the textbook way in float32 is off by ~p * eps32, so
PE[p] may be off by that much, and a rotated pair of length r by r times that (AngleClose).
The `dtype` argument of sinusoidal_encoding is graded (a torch.dtype crosses the worker's wire
by name), and so is each ValueError the docstrings list, each function's as a small check of its own.
"""

import math
from dataclasses import dataclass

import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .. import strategies as ts
from ..compare import EPS32, Close, Mismatch
from ..spec import Call, Check, Example, Hint, Question, Unit, refusals
from ..strategies import tensor
from . import public_checks

public = public_checks("positional")  # assignments/positional/positional_public.py

# ----------------------------------------------------------------------------- comparing


@dataclass(frozen=True)
class AngleClose:
    """Close, with an absolute tolerance that grows with the rotation angle of each row.

        |got - expected| <= atol + rtol |expected| + k eps32 (p + 1) r

    where p is the row's position (its index along dim -2, or `max_position` for every row
    when the positions are explicit) and r is 1 (sinusoids) or, with `pairs`, the length of
    the row's (2i, 2i+1) pair (RoPE: an angle error of e moves a pair of length r by r e).
    """

    max_position: int | None = None
    pairs: bool = False
    k: float = 4.0
    rtol: float = 1.3e-6
    atol: float = 1e-5

    def __call__(self, expected, got, scale):
        mismatch = Close()(expected, got, math.inf)  # type, shape, dtype, NaN and inf only
        if mismatch or not isinstance(expected, torch.Tensor) or expected.numel() == 0:
            return mismatch
        e, g = expected.double(), got.double()
        if self.max_position is None:
            p = torch.arange(e.shape[-2], dtype=torch.float64)[:, None]  # [T, 1]
        else:
            p = torch.tensor(float(self.max_position), dtype=torch.float64)
        r = 1.0
        if self.pairs:
            r = (e[..., 0::2] ** 2 + e[..., 1::2] ** 2).sqrt().repeat_interleave(2, dim=-1)
        tolerance = self.atol + self.rtol * e.abs() + self.k * EPS32 * (p + 1) * r
        diff = (g - e).abs()
        bad = diff > tolerance
        if not bad.any():
            return None
        flat = torch.where(bad, diff, torch.zeros_like(diff)).argmax()
        index = tuple(int(i) for i in torch.unravel_index(flat, diff.shape))
        return Mismatch(f"values differ by up to {diff.reshape(-1)[flat].item():.3g} at index {index} "
                        f"(got {g.reshape(-1)[flat].item():.6g}, expected {e.reshape(-1)[flat].item():.6g})",
                        expected, got)


# ----------------------------------------------------------------------------- inputs

BASES = st.sampled_from([100.0, 500.0, 2.0, 1e5, 1e6, 12345.0, 10.0])


def _sin_call(seq_len, d_model, base=None):
    kwargs = {} if base is None else {"base": base}
    return Call((seq_len, d_model), kwargs, names=("seq_len", "d_model"))


@st.composite
def tables(draw, d_model, max_len=16, min_len=1, base=False):
    """sinusoidal_encoding(seq_len, d_model[, base=...]); d_model: a strategy."""
    return _sin_call(draw(st.integers(min_len, max_len)), draw(d_model), draw(BASES) if base else None)


EVEN_D = st.integers(1, 8).map(lambda n: 2 * n)
ODD_D = st.integers(0, 7).map(lambda n: 2 * n + 1)


def _rope_call(x, positions=None, base=None):
    kwargs = {}
    if positions is not None:
        kwargs["positions"] = positions
    if base is not None:
        kwargs["base"] = base
    return Call((x,), kwargs, names=("x",))


@st.composite
def rope_inputs(draw, positions=False, base=False, odd=False, max_position=255):
    """x [*batch, T, d], batch of rank 0 to 2, float32 or float64; optional positions and base."""
    dtype = draw(ts.dtypes())
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    T = draw(st.integers(1, 8))
    d = draw(ODD_D if odd else EVEN_D)
    x = draw(ts.floats((*batch, T, d), dtype, 10.0))
    pos = None
    if positions:
        pos_dtype = draw(st.sampled_from([torch.int64, torch.int32]))
        pos = torch.tensor(draw(st.lists(st.integers(0, max_position), min_size=T, max_size=T)), dtype=pos_dtype)
    return _rope_call(x, pos, draw(BASES) if base else None)


POWERS_OF_TWO = st.integers(0, 6).map(lambda k: 2 ** k)
OTHER_HEADS = st.integers(3, 100).filter(lambda n: n & (n - 1))


def _heads(n):
    return Call((n,), names=("n_heads",))


def _bias_call(n, q_len, k_len=None):
    if k_len is None:
        return Call((n, q_len), names=("n_heads", "q_len"))
    return Call((n, q_len, k_len), names=("n_heads", "q_len", "k_len"))


@st.composite
def biases(draw, heads, square):
    n, q_len = draw(heads), draw(st.integers(1, 8))
    if square:
        return _bias_call(n, q_len) if draw(st.booleans()) else _bias_call(n, q_len, q_len)
    return _bias_call(n, q_len, draw(st.integers(1, 8).filter(lambda k: k != q_len)))


# ----------------------------------------------------------------------------- diagnosing bugs
# Each hint recomputes what a classic bug would return for the failing call and says so only
# when the student's output is that (so a hint never claims a symptom the output lacks).


def _close(a, b, slack):
    # loose on purpose (float32 rounding of long tables grows with the position p along dim -2)
    p = torch.arange(b.shape[-2], dtype=torch.float64)[:, None] if b.dim() >= 2 else 0.0
    return bool(((a.double() - b.double()).abs() <= slack * (1 + p * 1e-2) * (1 + b.double().abs())).all())


def _is_variant(expected, got, variant, slack=1e-3):
    """Whether `got` is the buggy `variant`, and that is what makes it differ from `expected`."""
    return (isinstance(got, torch.Tensor) and got.shape == variant.shape == expected.shape
            and got.dtype == expected.dtype and not _close(expected, variant, slack)
            and _close(got, variant, slack))


def _args(call, names, defaults):
    values = dict(zip(names, call.args))
    values.update(call.kwargs)
    return [values.get(n, defaults.get(n)) for n in names]


def _table(seq_len, d_model, base=10000.0, exponent="2i", layout="interleaved", offset=0):
    """A sinusoidal table in float64, correct or with one classic bug."""
    n_sin, n_cos = (d_model + 1) // 2, d_model // 2
    i = torch.arange(n_sin, dtype=torch.float64)
    power = {"2i": 2 * i, "i": i}[exponent]
    angle = (torch.arange(seq_len, dtype=torch.float64)[:, None] + offset) * base ** (-power / d_model)
    sin, cos = torch.sin(angle), torch.cos(angle[:, :n_cos])
    if layout == "concatenated":
        return torch.cat([sin, cos], dim=1)
    if layout == "cos-first":
        sin, cos = torch.cos(angle), torch.sin(angle[:, :n_cos])
    pe = torch.empty(seq_len, d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = sin, cos
    return pe


def _table_hint(**bug):
    def applies(call, expected, got):
        seq_len, d_model, base = _args(call, ("seq_len", "d_model", "base"), {"base": 10000.0})
        return _is_variant(expected, got, _table(seq_len, d_model, base, **bug))

    return applies


def _base_ignored(call, expected, got):
    seq_len, d_model, base = _args(call, ("seq_len", "d_model", "base"), {"base": 10000.0})
    return base != 10000.0 and _is_variant(expected, got, _table(seq_len, d_model, 10000.0))


SIN_HINTS = (
    Hint(_table_hint(layout="concatenated"), "you put all the sines first and then all the cosines; "
         "they are interleaved: PE[p, 2i] is a sine and PE[p, 2i+1] the cosine of the same angle"),
    Hint(_table_hint(layout="cos-first"), "sines go in the even columns (0, 2, ...) and cosines in the "
         "odd ones (1, 3, ...), not the other way round"),
    Hint(_table_hint(exponent="i"), "the exponent is 2i/d_model, where 2i is the column of the pair's "
         "sine (0, 2, 4, ...), not the pair index i (0, 1, 2, ...)"),
    Hint(_base_ignored, "use the `base` argument instead of the constant 10000"),
    Hint(_table_hint(offset=1), "positions start at 0: row 0 is [0, 1, 0, 1, ...]"),
)


def _rope(x, positions=None, base=10000.0, sign=1.0, layout="interleaved", exponent="2i"):
    """RoPE in float64, correct or with one classic bug."""
    T, d = x.shape[-2], x.shape[-1]
    p = torch.arange(T) if positions is None else positions
    i = torch.arange(d // 2, dtype=torch.float64)
    power = {"2i": 2 * i, "i": i}[exponent]
    angle = sign * p.double()[:, None] * base ** (-power / d)
    cos, sin = torch.cos(angle), torch.sin(angle)
    z = x.double()
    if layout == "half-split":
        a, b = z[..., : d // 2], z[..., d // 2:]
        return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)
    out = torch.empty_like(z)
    out[..., 0::2] = z[..., 0::2] * cos - z[..., 1::2] * sin
    out[..., 1::2] = z[..., 0::2] * sin + z[..., 1::2] * cos
    return out


def _rope_hint(ignore=(), **bug):
    def applies(call, expected, got):
        x, positions, base = _args(call, ("x", "positions", "base"), {"base": 10000.0})
        if "positions" in ignore:
            if positions is None or torch.equal(positions.long(), torch.arange(x.shape[-2])):
                return False
            positions = None
        if "base" in ignore:
            if base == 10000.0:
                return False
            base = 10000.0
        return _is_variant(expected, got, _rope(x, positions, base, **bug))

    return applies


ROPE_HINTS = (
    Hint(_rope_hint(sign=-1.0), "you rotate the pairs clockwise (by -theta): out[..., 2i] = "
         "x[..., 2i] cos(theta) - x[..., 2i+1] sin(theta), out[..., 2i+1] = x[..., 2i] sin(theta) + "
         "x[..., 2i+1] cos(theta)"),
    Hint(_rope_hint(layout="half-split"), "you paired dimension i with i + d/2 (the GPT-NeoX/LLaMA "
         "layout); this course's RoPE pairs interleaved neighbours (x[..., 2i], x[..., 2i+1])"),
    Hint(_rope_hint(exponent="i"), "the frequency of pair i is base^(-2i/d), not base^(-i/d)"),
    Hint(_rope_hint(ignore=("positions",)), "rotate row t by positions[t] when `positions` is given "
         "(you used 0, 1, 2, ...)"),
    Hint(_rope_hint(ignore=("base",)), "use the `base` argument instead of the constant 10000"),
)

ODD_D_HINT = ("x's last dim is odd, so it cannot be split into pairs: check d % 2 and raise "
              "ValueError before computing anything")


def _paper_slopes(n):
    return [2.0 ** (-8.0 * (h + 1) / n) for h in range(n)]


def _slopes_hint(variant):
    def applies(call, expected, got):
        return _is_variant(expected, got, torch.tensor(variant(call.args[0]), dtype=torch.float64), 1e-5)

    return applies


def _rounded_up(n):  # the slopes of the next power of two, cut to n
    return _paper_slopes(2 ** math.ceil(math.log2(n)))[:n]


SLOPE_HINTS = (
    Hint(_slopes_hint(_paper_slopes), "2^(-8(h+1)/n) is the rule for a power of two n only; for other "
         "n, take the slopes of the largest power of two m < n, then every other slope of 2m"),
    Hint(_slopes_hint(_rounded_up), "do not cut the slopes of the next power of two: take all the slopes "
         "of the largest power of two m < n, then every other slope of 2m (the 1st, 3rd, ...)"),
)


def _alibi(n, q_len, k_len, slopes, rule):
    i = torch.arange(q_len, dtype=torch.float64)[:, None]
    j = torch.arange(k_len, dtype=torch.float64)[None, :]
    distance = {"correct": j - i - (k_len - q_len), "top-left": j - i, "flipped": i + (k_len - q_len) - j,
                "symmetric": -(j - i - (k_len - q_len)).abs()}[rule]
    return slopes.double()[:, None, None] * distance


def _bias_hint(rule, slopes=None):
    def applies(call, expected, got):
        n, q_len, k_len = _args(call, ("n_heads", "q_len", "k_len"), {})
        k_len = q_len if k_len is None else k_len
        if slopes is not None:
            wrong = torch.tensor(slopes(n), dtype=torch.float64)
            return _is_variant(expected, got, _alibi(n, q_len, k_len, wrong, rule), 1e-5)
        if k_len < 2:
            return False
        # the expected bias's column steps are the slopes (slope[h] = bias[h, 0, 1] - bias[h, 0, 0])
        return _is_variant(expected, got, _alibi(n, q_len, k_len, expected[:, 0, 1] - expected[:, 0, 0], rule), 1e-5)

    return applies


BIAS_HINTS = (
    Hint(_bias_hint("correct", _paper_slopes), "these are the biases of slopes 2^(-8(h+1)/n), the rule "
         "for a power of two n only: alibi_bias(n, ...) must use alibi_slopes(n) (question 3)"),
    Hint(_bias_hint("flipped"), "the sign is flipped: keys in the query's past must get a negative "
         "bias (slope * (j - i') with j < i')"),
    Hint(_bias_hint("top-left"), "align the bias bottom-right, as a causal mask with a KV cache: query i "
         "sits at position i + (k_len - q_len), so bias[h, i, j] = slope[h] * (j - (i + k_len - q_len))"),
    Hint(_bias_hint("symmetric"), "keys in the query's future get positive values, slope * (j - i'), "
         "not -slope * |j - i'|"),
)


# ----------------------------------------------------------------------------- questions
# Inputs drawn per check, after the explicit examples. The inputs are small and the explicit
# examples pin down each classic bug, so 25 draws (not the engine's 50) keep grading fast.
EXAMPLES = 25

# ----------------------------------------------------------------------------- invalid arguments


def _refuse(hint, *args, names=("seq_len", "d_model"), **kwargs):
    return Example(Call(args, kwargs, names=names), hint)


SIN_REFUSALS = refusals(
    "sinusoidal_encoding",
    _refuse("seq_len must be >= 0: raise ValueError for -1", -1, 4),
    _refuse("d_model must be >= 1: raise ValueError for 0", 3, 0),
    _refuse("seq_len must be an int (bool is refused): raise ValueError for True", True, 4),
    _refuse("d_model must be an int: raise ValueError for 4.0", 3, 4.0),
    _refuse("base must be a positive finite number: raise ValueError for -1.0", 3, 4, base=-1.0),
    _refuse("base must be a positive finite number: raise ValueError for inf", 3, 4, base=float("inf")),
    _refuse("dtype must be a floating-point torch.dtype: raise ValueError for torch.int64", 3, 4,
            dtype=torch.int64))

ROPE_REFUSALS = refusals(
    "rotary_embedding",
    _refuse("x must be a floating-point tensor: raise ValueError for an integer one",
            torch.ones(2, 4, dtype=torch.int64), names=("x",)),
    _refuse("x must have at least 2 dims [..., T, d]: raise ValueError for a 1-D x", tensor([1.0, 2.0]),
            names=("x",)),
    _refuse("positions must be an integer tensor: raise ValueError for float positions",
            tensor([[1.0, 0.0]] * 2), positions=tensor([0.0, 1.0]), names=("x",)),
    _refuse("positions must have shape [T]: raise ValueError for 3 positions of 2 tokens",
            tensor([[1.0, 0.0]] * 2), positions=torch.tensor([0, 1, 2]), names=("x",)),
    _refuse("base must be a positive finite number: raise ValueError for 0.0", tensor([[1.0, 0.0]] * 2),
            base=0.0, names=("x",)))

SLOPES_REFUSALS = refusals(
    "alibi_slopes",
    _refuse("n_heads must be >= 1: raise ValueError for 0", 0, names=("n_heads",)),
    _refuse("n_heads must be an int (bool is refused): raise ValueError for True", True, names=("n_heads",)),
    _refuse("n_heads must be an int: raise ValueError for 4.0", 4.0, names=("n_heads",)))

BIAS_REFUSALS = refusals(
    "alibi_bias",
    _refuse("n_heads must be >= 1: raise ValueError for 0", 0, 3, names=("n_heads", "q_len")),
    _refuse("q_len must be >= 0: raise ValueError for -1", 2, -1, names=("n_heads", "q_len")),
    _refuse("k_len must be >= 0: raise ValueError for -2", 2, 3, -2, names=("n_heads", "q_len", "k_len")),
    _refuse("q_len must be an int (bool is refused): raise ValueError for True", 2, True,
            names=("n_heads", "q_len")))


@st.composite
def dtype_tables(draw):
    """sinusoidal_encoding(seq_len, d_model, dtype=float64): the table in the dtype asked for."""
    call = draw(tables(st.integers(1, 16)))
    return Call(call.args, {"dtype": torch.float64}, names=call.names)


sinusoidal_q = Question(
    "sinusoidal_encoding", functions=("sinusoidal_encoding",),
    checks=(
        Check("matches the reference: short tables, even d_model, default base", "sinusoidal_encoding",
              tables(EVEN_D), points=1, max_examples=EXAMPLES, compare=AngleClose(), hints=SIN_HINTS,
              examples=(Example(_sin_call(4, 8), ""), Example(_sin_call(3, 2), ""))),
        Check("uses `base` (other bases than 10000)", "sinusoidal_encoding",
              tables(EVEN_D, base=True), points=1, max_examples=EXAMPLES, compare=AngleClose(), hints=SIN_HINTS,
              examples=(Example(_sin_call(4, 4, 100.0), ""),)),
        Check("odd d_model: the last column is a sine", "sinusoidal_encoding",
              tables(ODD_D), points=0.5, max_examples=EXAMPLES, compare=AngleClose(), hints=SIN_HINTS,
              examples=(Example(_sin_call(3, 5), "with an odd d_model there is one more sine column than "
                                "cosine columns: (d_model + 1) // 2 frequencies, the last without its cosine"),
                        Example(_sin_call(2, 1), "d_model = 1: a single column, sin(p)"))),
        Check("long tables (seq_len up to 2048), judged at float32 precision of the angle",
              "sinusoidal_encoding", tables(st.integers(1, 32).map(lambda n: 2 * n), max_len=2048, min_len=256),
              points=0.5, max_examples=8, compare=AngleClose(), hints=SIN_HINTS,
              examples=(Example(_sin_call(2048, 64), ""),)),
        Check("returns the `dtype` asked for (float64 here)", "sinusoidal_encoding", dtype_tables(),
              points=0.5, max_examples=5, compare=AngleClose(), hints=SIN_HINTS,
              examples=(Example(Call((4, 6), {"dtype": torch.float64}, names=("seq_len", "d_model")),
                                "return a table of the `dtype` argument (here torch.float64)"),)),
        SIN_REFUSALS,
    ))

rotary_q = Question(
    "rotary_embedding", functions=("rotary_embedding",),
    checks=(
        Check("matches the reference: default positions and base, any batch dims, float32 and float64",
              "rotary_embedding", rope_inputs(), points=1, max_examples=EXAMPLES,
              compare=AngleClose(pairs=True), hints=ROPE_HINTS,
              examples=(Example(_rope_call(tensor([[1.0, 0.0], [1.0, 0.0]])), ""),
                        Example(_rope_call(tensor([[1.0, 2.0, 3.0, 4.0]] * 3)), ""),
                        Example(_rope_call(tensor([[[0.5, -1.0, 2.0, 1.0]] * 3] * 2, torch.float64)), ""))),
        Check("explicit positions (any order, up to 255)", "rotary_embedding", rope_inputs(positions=True),
              points=1, max_examples=EXAMPLES, compare=AngleClose(max_position=255, pairs=True), hints=ROPE_HINTS,
              examples=(Example(_rope_call(tensor([[1.0, 0.0, 1.0, 0.0]] * 2), torch.tensor([7, 3])), ""),
                        Example(_rope_call(tensor([[[1.0, 2.0]], [[3.0, 4.0]]]),
                                           torch.tensor([200], dtype=torch.int32)), ""))),
        Check("uses `base` (other bases than 10000)", "rotary_embedding", rope_inputs(base=True),
              points=0.5, max_examples=EXAMPLES, compare=AngleClose(pairs=True), hints=ROPE_HINTS,
              examples=(Example(_rope_call(tensor([[1.0, 0.0, 1.0, 0.0]] * 3), base=100.0), ""),)),
        Check("raises ValueError when d is odd", "rotary_embedding", rope_inputs(odd=True),
              points=0.5, max_examples=EXAMPLES,
              examples=(Example(_rope_call(tensor([[1.0, 2.0, 3.0]] * 2)), ODD_D_HINT),)),
        ROPE_REFUSALS,
    ))

SLOPES = Close(atol=1e-8)  # slopes and biases are exact up to float32 rounding of 2^(-8(h+1)/n)

slopes_q = Question(
    "alibi_slopes", functions=("alibi_slopes",),
    checks=(
        Check("head counts that are powers of two", "alibi_slopes", POWERS_OF_TWO.map(_heads),
              points=1, max_examples=EXAMPLES, compare=SLOPES, hints=SLOPE_HINTS,
              examples=(Example(_heads(8), ""), Example(_heads(1), ""))),
        Check("head counts that are not powers of two (the paper's rule)", "alibi_slopes", OTHER_HEADS.map(_heads),
              points=1, max_examples=EXAMPLES, compare=SLOPES, hints=SLOPE_HINTS,
              examples=(Example(_heads(6), ""), Example(_heads(3), ""), Example(_heads(12), ""))),
        SLOPES_REFUSALS,
    ))

bias_q = Question(
    "alibi_bias", functions=("alibi_bias",),
    checks=(
        Check("square biases (q_len == k_len), power-of-two head counts", "alibi_bias",
              biases(POWERS_OF_TWO, square=True), points=1, max_examples=EXAMPLES, compare=SLOPES, hints=BIAS_HINTS,
              examples=(Example(_bias_call(4, 3), ""),)),
        Check("KV-cache alignment when q_len != k_len", "alibi_bias", biases(POWERS_OF_TWO, square=False),
              points=1, max_examples=EXAMPLES, compare=SLOPES, hints=BIAS_HINTS,
              examples=(Example(_bias_call(2, 2, 5), ""), Example(_bias_call(2, 4, 2), ""))),
        Check("head counts that are not powers of two", "alibi_bias", biases(OTHER_HEADS, square=False),
              points=0.5, max_examples=EXAMPLES, compare=SLOPES, hints=BIAS_HINTS,
              examples=(Example(_bias_call(6, 3, 3), ""),)),
        BIAS_REFUSALS,
    ))

UNIT = Unit(
    name="positional",
    questions=(sinusoidal_q, rotary_q, slopes_q, bias_q),
    mutation_floor=0.9,  # measured by `make audit`; make test checks it on a fixed sample
)
