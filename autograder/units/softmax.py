"""Unit `softmax`: softmax, log-softmax, masked softmax, causal and padding masks.

Each question's hidden checks compare the student's function with solutions/softmax.py on
hypothesis-drawn inputs; the explicit examples aim at the classic bugs. Each
function's documented ValueError cases are a small check of their own (`refusals`). The
docstrings' "on the same device" cases are not graded: the grader runs on the CPU only.
"""

import torch
from hypothesis import strategies as st

from .. import strategies as ts
from ..compare import Close, Exact
from ..spec import Call, Check, Example, Hint, Question, Unit, refusals
from ..strategies import tensor
from . import public_checks

public = public_checks("softmax")  # assignments/softmax/softmax_public.py

BANNED = (
    "torch.softmax", "torch.log_softmax", "torch.nn.functional.softmax",
    "torch.nn.functional.log_softmax", "torch.Tensor.softmax", "torch.Tensor.log_softmax",
    "torch.special.softmax", "torch.special.log_softmax",
)


# ----------------------------------------------------------------------------- inputs


@st.composite
def logits(draw, bound: float, with_mask: str = ""):
    """x (and a mask): any batch dims, any dim, float32 or float64.

    with_mask: "" (no mask), "kept" (every row keeps at least one position), "any" (rows may be
    fully masked, and at least one is).
    """
    dtype = draw(ts.dtypes())
    shape = draw(ts.shapes())
    x = draw(ts.floats(shape, dtype, bound))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    if not with_mask:
        return Call((x,), {"dim": dim}, names=("x",))
    mask = draw(ts.bools(draw(ts.broadcast_shape(shape))))
    full = mask.expand(shape)
    if with_mask == "kept":  # keep the first position of every row along dim
        rows = torch.zeros(shape, dtype=torch.bool).movedim(dim, -1)
        rows[..., 0] = True
        full = full | rows.movedim(-1, dim)
        mask = full
    elif not (~full).all(dim=dim).any():  # make the first row along dim fully masked
        full = full.clone().movedim(dim, -1)
        full[(0,) * (full.dim() - 1)] = False
        mask = full.movedim(-1, dim)
    return Call((x, mask), {"dim": dim}, names=("x", "mask"))


@st.composite
def causal_sizes(draw, equal: bool):
    q_len = draw(st.integers(1, 7))
    if equal:
        return Call((q_len,), names=("q_len",))
    k_len = draw(st.integers(1, 7).filter(lambda k: k != q_len))
    return Call((q_len, k_len), names=("q_len", "k_len"))


@st.composite
def padding_lengths(draw):
    max_len = draw(st.integers(1, 7))
    lengths = draw(st.lists(st.integers(0, max_len), min_size=1, max_size=5))
    return Call((torch.tensor(lengths, dtype=torch.int64), max_len), names=("lengths", "max_len"))


# ----------------------------------------------------------------------------- bugs to catch


def _x(values, dtype=torch.float32, dim=-1):
    return Call((tensor(values, dtype),), {"dim": dim}, names=("x",))


def _xm(values, mask, dim=-1):
    return Call((tensor(values), torch.tensor(mask)), {"dim": dim}, names=("x", "mask"))


def _softmax_along(x, d, mask=None):
    """The (masked) softmax of x along d in float64; fully masked slices all zeros."""
    z = x.double()
    if mask is not None:
        z = z.masked_fill(~mask, float("-inf"))
    return torch.nan_to_num(torch.softmax(z, d), nan=0.0)


def _wrong_dim(call, expected, got):
    """The output is the (masked, for masked_softmax) softmax along another dimension."""
    x, dim = call.args[0], call.kwargs.get("dim", -1)
    mask = call.args[1] if len(call.args) > 1 else None
    others = [d for d in range(x.dim()) if d != dim % x.dim() and x.shape[d] > 1]
    return isinstance(got, torch.Tensor) and got.shape == x.shape and any(
        torch.allclose(got.double(), _softmax_along(x, d, mask), atol=1e-5) for d in others)


WRONG_SHAPE = Hint(lambda call, e, got: isinstance(got, torch.Tensor) and got.shape != call.args[0].shape,
                   "your output's shape differs from x's: reduce with keepdim=True, so that the maximum and "
                   "the sum broadcast back along `dim`")
WRONG_DIM = Hint(_wrong_dim, "your output is the softmax along another dimension: reduce along `dim`")
NAN_ROW = Hint(lambda call, e, g: bool(torch.isnan(g).any()),
               "a row in which every position is masked must be all zeros, got NaN "
               "(exp(-inf - (-inf)) is NaN: handle fully masked rows explicitly)")
FULLY_MASKED = ("a row in which every position is masked must be all zeros: -inf masking gives NaN there "
                "(-inf - (-inf)), and a large negative fill such as -1e9 gives 1/n; handle such rows explicitly")
SHIFT = "subtract the maximum of each row before exp: exp(1000) overflows to inf in float32"

# ----------------------------------------------------------------------------- invalid arguments
# Each docstring's "Raises:" cases, one example each (graded together, 0.5 points per function).


def _refuse(hint, *args, names=("x",), **kwargs):
    return Example(Call(args, kwargs, names=names), hint)


def _logit_refusals(function):
    x = tensor([[1.0, 2.0], [3.0, 4.0]])
    return refusals(function,
                    _refuse("x must be a torch.Tensor: raise ValueError for a list", [[1.0, 2.0]]),
                    _refuse("x must be a floating-point tensor: raise ValueError for an integer one",
                            torch.tensor([[1, 2]])),
                    _refuse("a 0-dimensional x has nothing to normalise over: raise ValueError", tensor(1.0)),
                    _refuse("dim=2 is out of range for a 2-D x: raise ValueError", x, dim=2),
                    _refuse("dim=-3 is out of range for a 2-D x: raise ValueError", x, dim=-3),
                    _refuse("dim must be an int: raise ValueError for dim=1.0", x, dim=1.0),
                    _refuse("dim must be an int (bool is refused): raise ValueError for dim=True", x, dim=True))


MASK_NAMES = ("x", "mask")
X22 = tensor([[1.0, 2.0], [3.0, 4.0]])
KEEP = torch.tensor([[True, False], [True, True]])
MASKED_REFUSALS = refusals(
    "masked_softmax",
    _refuse("mask must be a tensor of dtype torch.bool: raise ValueError for a float mask", X22,
            torch.ones(2, 2), names=MASK_NAMES),
    _refuse("mask must be a torch.Tensor: raise ValueError for a list", X22, [[True, False], [True, True]],
            names=MASK_NAMES),
    _refuse("a mask of shape (3,) does not broadcast to x's shape (2, 2): raise ValueError", X22,
            torch.tensor([True, False, True]), names=MASK_NAMES),
    _refuse("a mask of shape (2, 2, 2) would make the result larger than x: raise ValueError", X22,
            torch.ones(2, 2, 2, dtype=torch.bool), names=MASK_NAMES),
    _refuse("x must be a floating-point tensor: raise ValueError for an integer one", torch.tensor([[1, 2]]),
            torch.tensor([True, False]), names=MASK_NAMES),
    _refuse("dim=2 is out of range for a 2-D x: raise ValueError", X22, KEEP, names=MASK_NAMES, dim=2))

Q_NAMES, QK_NAMES = ("q_len",), ("q_len", "k_len")
CAUSAL_REFUSALS = refusals(
    "causal_mask",
    _refuse("q_len must be >= 0: raise ValueError for -1", -1, names=Q_NAMES),
    _refuse("k_len must be >= 0: raise ValueError for -2", 3, -2, names=QK_NAMES),
    _refuse("q_len must be an int: raise ValueError for 2.0", 2.0, names=Q_NAMES),
    _refuse("q_len must be an int (bool is refused): raise ValueError for True", True, names=Q_NAMES),
    _refuse("k_len must be an int (bool is refused): raise ValueError for False", 2, False, names=QK_NAMES))

LEN_NAMES = ("lengths", "max_len")
PADDING_REFUSALS = refusals(
    "padding_mask",
    _refuse("lengths must have an integer dtype: raise ValueError for float lengths",
            torch.tensor([1.0, 2.0]), 3, names=LEN_NAMES),
    _refuse("lengths must have an integer dtype (bool is refused): raise ValueError",
            torch.tensor([True, False]), 3, names=LEN_NAMES),
    _refuse("lengths must be 1-D [B]: raise ValueError for shape (2, 1)", torch.tensor([[1], [2]]), 3,
            names=LEN_NAMES),
    _refuse("lengths must be a torch.Tensor: raise ValueError for a list", [1, 2], 3, names=LEN_NAMES),
    _refuse("a length larger than max_len must raise ValueError (refuse rather than truncate)",
            torch.tensor([1, 4]), 3, names=LEN_NAMES),
    _refuse("a negative length must raise ValueError", torch.tensor([1, -1]), 3, names=LEN_NAMES),
    _refuse("max_len must be >= 0: raise ValueError for -1", torch.tensor([0, 0]), -1, names=LEN_NAMES),
    _refuse("max_len must be an int (bool is refused): raise ValueError for True", torch.tensor([1]), True,
            names=LEN_NAMES))

softmax_q = Question(
    "softmax", functions=("softmax",),
    checks=(
        Check("matches the reference on ordinary inputs (|x| <= 10)", "softmax",
              logits(10.0), points=2, hints=(WRONG_SHAPE, WRONG_DIM),
              examples=(Example(_x([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], dim=0), "softmax must normalise along `dim`, "
                                "here dim=0 (down the columns)"),
                        Example(_x([[0.5, -1.0]], torch.float64), "return the input's dtype (float64 here)"))),
        Check("stays exact for large logits (|x| up to 1e4)", "softmax", logits(1e4), points=1,
              examples=(Example(_x([[1000.0, 0.0]]), SHIFT),
                        Example(_x([[-1e4, -1e4 + 1.0]]), "subtract the maximum of each row, not a constant: "
                                "exp(-10000) underflows to 0 and 0/0 is NaN"))),
        _logit_refusals("softmax"),
    ))

log_softmax_q = Question(
    "log_softmax", functions=("log_softmax",),
    checks=(
        Check("matches the reference on ordinary inputs (|x| <= 10)", "log_softmax", logits(10.0), points=2,
              examples=(Example(_x([[1.0, 2.0], [3.0, 5.0], [0.0, 0.0]], dim=0), "reduce along `dim`"),)),
        Check("stays finite for large logits (|x| up to 1e4)", "log_softmax", logits(1e4), points=1,
              examples=(Example(_x([[0.0, -1e4]]), "log(softmax(x)) underflows: softmax gives exactly 0 for the "
                                "-1e4 entry and log(0) = -inf; compute x - max - log(sum(exp(x - max))) instead"),
                        Example(_x([[1000.0, 0.0]]), SHIFT))),
        _logit_refusals("log_softmax"),
    ))

masked_softmax_q = Question(
    "masked_softmax", functions=("masked_softmax",),
    checks=(
        Check("matches the reference when every row keeps a position", "masked_softmax",
              logits(10.0, "kept"), points=2, hints=(WRONG_DIM,),
              examples=(Example(_xm([[0.0, 0.0, 0.0]], [[True, True, False]]),
                                "masked positions must not take part in the normalisation: apply the mask "
                                "before the softmax, not after"),
                        Example(_xm([[[1.0, 2.0], [3.0, 4.0]]], [True, False]),
                                "the mask broadcasts against x (here mask has shape (2,) and x (1, 2, 2))"),
                        Example(_xm([[5.0, 1.0]], [[False, True]]),
                                "a masked position must get exactly 0, even when its logit is the largest"))),
        Check("gives all zeros, not NaN, for fully masked rows", "masked_softmax", logits(10.0, "any"),
              points=1, hints=(NAN_ROW,),
              examples=(Example(_xm([[1.0, 2.0], [3.0, 4.0]], [[True, True], [False, False]]), FULLY_MASKED),)),
        Check("stays exact for large logits (|x| up to 1e4)", "masked_softmax", logits(1e4, "kept"), points=1,
              examples=(Example(_xm([[1000.0, 0.0, -1e4]], [[True, True, True]]), SHIFT),
                        Example(_xm([[1e4, 0.0, 1.0]], [[False, True, True]]),
                                "a large masked logit must not matter: mask before the softmax, so that the maximum "
                                "is taken over the kept positions only (masked logits to -inf, or a large "
                                "negative number, before subtracting it)"))),
        MASKED_REFUSALS,
    ))

causal_mask_q = Question(
    "causal_mask", functions=("causal_mask",),
    checks=(
        Check("square masks (q_len == k_len)", "causal_mask", causal_sizes(equal=True), points=1, compare=Exact(),
              examples=(Example(Call((3,), names=("q_len",)),
                                "position i may attend to itself: True on the diagonal (j <= i)"),
                        Example(Call((0,), names=("q_len",)), "q_len = 0 is valid: return an empty [0, 0] mask"))),
        Check("KV-cache alignment when q_len != k_len", "causal_mask", causal_sizes(equal=False), points=1,
              compare=Exact(),
              examples=(Example(Call((2, 4), names=("q_len", "k_len")),
                                "align the mask bottom-right: the last query sees every key, "
                                "True where j <= i + (k_len - q_len)"),
                        Example(Call((4, 2), names=("q_len", "k_len")),
                                "when q_len > k_len the first queries see no key at all"))),
        CAUSAL_REFUSALS,
    ))

padding_mask_q = Question(
    "padding_mask", functions=("padding_mask",),
    checks=(
        Check("matches the reference", "padding_mask", padding_lengths(), points=2, compare=Exact(),
              examples=(Example(Call((torch.tensor([0, 3, 1]), 3), names=("lengths", "max_len")),
                                "position t is real when t < lengths[b]: a length of 0 gives an all-False row"),
                        Example(Call((torch.tensor([0]), 0), names=("lengths", "max_len")),
                                "max_len = 0 is valid: return a [B, 0] mask"))),
        PADDING_REFUSALS,
    ))

UNIT = Unit(
    name="softmax",
    questions=(softmax_q, log_softmax_q, masked_softmax_q, causal_mask_q, padding_mask_q),
    banned=BANNED,
    mutation_floor=0.9,  # measured by `make audit`; make test checks it on a fixed sample
)
