"""Unit `attention`: scaled dot-product attention, heads, multi-head attention, the module.

Each question's hidden checks compare the student's code with solutions/attention.py on
hypothesis-drawn inputs: Lq != Lk, d_k != d_v, batch dims of rank 0 to 2, n_heads >= 2 (so
d_head != D), masks broadcast from [Lq, Lk] and [B, 1, Lk], fully masked query rows,
cross-attention, biases present and absent, float32 and float64. The explicit examples aim
at the classic bugs; the hints below recompute each classic bug from the
failing input and name it when the student's output matches it.

Points are split so that a bug on extreme inputs (fully masked rows, huge scores) keeps the
points of the ordinary inputs.
"""

import functools
import math

import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .. import strategies as ts
from ..compare import Exact
from ..spec import Call, Check, Example, Hint, Question, Unit, refusals
from . import public_checks

public = public_checks("attention")  # assignments/attention/attention_public.py

BANNED = (
    "torch.nn.functional.scaled_dot_product_attention",
    "torch.nn.MultiheadAttention",
    "torch.nn.functional.multi_head_attention_forward",
)

SDPA_NAMES = ("q", "k", "v", "mask")
MHA_NAMES = ("x_q", "x_kv", "W_q", "W_k", "W_v", "W_o", "n_heads", "mask")


# ----------------------------------------------------------------------------- inputs


def _batch(draw, max_rank=2, max_side=3):
    return tuple(draw(st.lists(st.integers(1, max_side), max_size=max_rank)))


@st.composite
def _mask(draw, full, mode):
    """A bool mask broadcasting to `full` = (..., Lq, Lk), with at least its last 2 dims.

    mode "kept": every query keeps at least one key; "any": at least one query keeps none.
    """
    keep = draw(st.integers(2, len(full)))
    shape = tuple(draw(st.sampled_from([1, n])) if n > 1 else n for n in full[len(full) - keep:])
    mask = draw(ts.bools(shape)).clone()
    if mode == "kept":
        mask[..., draw(st.integers(0, shape[-1] - 1))] = True
    elif not (~mask.expand(full)).all(dim=-1).any():
        mask[(0,) * (mask.dim() - 1)] = False
    return mask


def _uniform(*shape, seed, dtype=torch.float32, bound=1.0):
    """Fixed pseudo-random values in [-bound, bound], rounded to 1/8 so that they print short."""
    g = torch.Generator().manual_seed(seed)
    values = ((torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) * bound * 8).round() / 8
    return (values + 0.0).to(dtype)  # + 0.0 turns -0.0 into 0.0


def _seeded(shape, dtype, bound):
    """A tensor from a drawn seed (see _uniform): much cheaper for hypothesis to draw than
    element by element when a call has many tensors (weights, inputs); shapes still shrink."""
    return st.integers(0, 2**32 - 1).map(lambda seed: _uniform(*shape, seed=seed, dtype=dtype, bound=bound))


def _integers(shape, dtype, bound):
    """Integer-valued floats: products and sums of them are exact, whatever the order."""
    return hnp.arrays("int64", shape, elements=st.integers(-bound, bound)).map(
        lambda a: torch.from_numpy(a.copy()).to(dtype))


@st.composite
def attention_calls(draw, mask: str = "", large: bool = False):
    """q [..., Lq, d_k], k [..., Lk, d_k], v [..., Lk, d_v] (+ a mask), batch rank 0 to 2.

    large: integer-valued q and k up to 50 with d_k in {1, 4, 16}, so the scores reach 1e4
    and are exact in float32 (any order of summation, multiply or divide by sqrt(d_k)).
    """
    dtype = draw(ts.dtypes())
    batch = _batch(draw)
    lq, lk, dv = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    if large:
        dk = draw(st.sampled_from([1, 4, 16]))
        q, k = draw(_integers(batch + (lq, dk), dtype, 50)), draw(_integers(batch + (lk, dk), dtype, 50))
    else:
        dk = draw(st.integers(1, 5))
        q, k = draw(ts.floats(batch + (lq, dk), dtype, 3.0)), draw(ts.floats(batch + (lk, dk), dtype, 3.0))
    v = draw(ts.floats(batch + (lk, dv), dtype, 3.0))
    if not mask:
        return Call((q, k, v), names=SDPA_NAMES)
    return Call((q, k, v, draw(_mask(batch + (lq, lk), mask))), names=SDPA_NAMES)


@st.composite
def split_calls(draw, divisible: bool = True):
    dtype = draw(ts.dtypes())
    batch = _batch(draw)
    n_heads, d_head, t = draw(st.integers(2, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    width = n_heads * d_head if divisible else n_heads * d_head + draw(st.integers(1, n_heads - 1))
    return Call((draw(ts.floats(batch + (t, width), dtype, 10.0)), n_heads), names=("x", "n_heads"))


@st.composite
def merge_calls(draw):
    dtype = draw(ts.dtypes())
    batch = _batch(draw)
    shape = batch + (draw(st.integers(2, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3)))
    return Call((draw(ts.floats(shape, dtype, 10.0)),), names=("x",))


@st.composite
def mha_calls(draw, cross: bool = False, mask: str = "", biases: bool = False):
    """Multi-head attention with n_heads >= 2 (so d_head < D), inputs and weights in [-1, 1].

    cross: x_kv is another sequence, of its own length; otherwise x_kv is x_q (self-attention).
    biases: each of b_q, b_k, b_v, b_o present or absent.
    """
    dtype = draw(ts.dtypes())
    batch = _batch(draw, max_side=2)
    n_heads, d_head = draw(st.integers(2, 4)), draw(st.integers(1, 3))
    width = n_heads * d_head
    d_in, d_out = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    lq = draw(st.integers(1, 5))
    x_q = draw(_seeded(batch + (lq, d_in), dtype, 1.0))
    if cross:
        lk = draw(st.integers(1, 5))
        x_kv = draw(_seeded(batch + (lk, d_in), dtype, 1.0))
    else:
        lk, x_kv = lq, x_q.clone()
    weights = [draw(_seeded((d_in, width), dtype, 1.0)) for _ in range(3)]
    weights.append(draw(_seeded((width, d_out), dtype, 1.0)))
    args = (x_q, x_kv, *weights, n_heads)
    if mask:
        args += (draw(_mask(batch + (lq, lk), mask)),)
    kwargs = {}
    if biases:
        for name, size in (("b_q", width), ("b_k", width), ("b_v", width), ("b_o", d_out)):
            if draw(st.booleans()):
                kwargs[name] = draw(_seeded((size,), dtype, 1.0))
    return Call(args, kwargs, names=MHA_NAMES)


def _module_init(d_model, n_heads, **kwargs):
    return Call((d_model, n_heads), kwargs, names=("d_model", "n_heads"))


@st.composite
def module_calls(draw, causal=None, padded: bool = False, bias=None):
    """MultiHeadSelfAttention(D, H, ...) with H >= 2, called on x [B, T, D] (float32).

    causal/bias: None leaves the argument out (the default must be causal=True, bias=True),
    True/False passes it, "any" (causal only) draws it. padded: a random key_padding_mask, in
    which a sequence may be all padding.
    """
    n_heads, d_head = draw(st.integers(2, 3)), draw(st.integers(1, 3))
    width = n_heads * d_head
    b, t = draw(st.integers(1, 2)), draw(st.integers(1, 5))
    x = draw(_seeded((b, t, width), torch.float32, 2.0))
    init = {}
    if causal is not None:
        init["causal"] = draw(st.booleans()) if causal == "any" else causal
    if bias is not None:
        init["bias"] = bias
    kwargs = {"key_padding_mask": draw(ts.bools((b, t))).clone()} if padded else {}
    return Call((x,), kwargs, names=("x",), init=_module_init(width, n_heads, **init))


# ----------------------------------------------------------------------------- bugs to catch
#
# Each hint recomputes one classic bug from the failing input, in float64, and applies when
# the student's output matches it: the student reads what their code actually does. The same
# bugs are recomputed for the three kinds of calls: attention (q, k, v), multi-head attention
# (explicit weights) and the module (the reference's weights, rebuilt as the grader built them).


def _matches(got, buggy) -> bool:
    """Whether `got` (a tensor, or a tuple of them) equals `buggy` up to 1e-4, NaN matching NaN."""
    if isinstance(buggy, tuple):
        return isinstance(got, (tuple, list)) and len(got) == len(buggy) and all(
            _matches(g, b) for g, b in zip(got, buggy))
    if not isinstance(got, torch.Tensor) or got.shape != buggy.shape:
        return False
    return bool(torch.allclose(got.double(), buggy.double(), rtol=1e-4, atol=1e-4, equal_nan=True))


def _attention(q, k, v, mask=None, *, scale="d_k", dim=-1, after=False, invert=False):
    """(out, weights) of attention in float64, with one bug switched on (defaults: correct)."""
    q, k, v = q.double(), k.double(), v.double()
    factor = {"d_k": 1 / math.sqrt(q.shape[-1]), "none": 1.0, "multiply": math.sqrt(q.shape[-1]),
              "d_v": 1 / math.sqrt(v.shape[-1])}[scale]
    scores = q @ k.transpose(-2, -1) * factor
    if mask is not None and invert:
        mask = ~mask
    if mask is not None and not after:
        scores = scores.masked_fill(~mask, -math.inf)
    weights = torch.nan_to_num(torch.softmax(scores, dim=dim), nan=0.0)  # fully masked rows: zeros
    if mask is not None and after:
        weights = weights * mask
    return weights @ v, weights


def _mha(call, *, width_scale=False, split_transpose=True, merge_transpose=True, kv_from_q=False,
         drop=(), **attention_bug):
    """multi_head_attention in float64, with one bug switched on (defaults: correct)."""
    x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, *mask = call.args
    mask = mask[0] if mask else None
    b = {name: t.double() for name, t in call.kwargs.items() if name not in drop and t is not None}
    x_q, x_kv = x_q.double(), (x_q if kv_from_q else x_kv).double()

    def project(x, w, name):
        return x @ w.double() + b.get(name, 0.0)

    def split(x):
        *batch, t, d = x.shape
        if split_transpose:
            return x.reshape(*batch, t, n_heads, d // n_heads).transpose(-3, -2)
        return x.reshape(*batch, n_heads, t, d // n_heads)

    q, k, v = split(project(x_q, W_q, "b_q")), split(project(x_kv, W_k, "b_k")), split(project(x_kv, W_v, "b_v"))
    if width_scale:  # 1/sqrt(D) instead of 1/sqrt(D/H): fold the difference into q
        q = q * math.sqrt(q.shape[-1] / W_q.shape[1])
    if mask is not None:
        mask = mask.reshape((1,) * max(0, 2 - mask.dim()) + tuple(mask.shape)).unsqueeze(-3)
    heads, _ = _attention(q, k, v, mask, **attention_bug)  # [..., H, Lq, d]
    *batch, h, t, d = heads.shape
    merged = (heads.transpose(-3, -2) if merge_transpose else heads).reshape(*batch, t, h * d)
    return project(merged, W_o, "b_o")


@functools.lru_cache(maxsize=None)
def _reference():
    from . import reference

    return reference("attention")


def _module_mask(call, causal_offset=0, padding="keep"):
    """The mask the module uses: causal j <= i + causal_offset (None: no causal mask even if
    causal=True; "always": causal even if causal=False), padding kept, inverted or ignored."""
    x, = call.args
    t = x.shape[-2]
    causal = call.init.kwargs.get("causal", True)
    mask = None
    if causal_offset == "always" or (causal and causal_offset is not None):
        i, j = torch.arange(t)[:, None], torch.arange(t)[None, :]
        mask = j <= i + (0 if causal_offset == "always" else causal_offset)
    kpm = call.kwargs.get("key_padding_mask")
    if kpm is not None and padding != "ignore":
        keys = (~kpm if padding == "invert" else kpm).unsqueeze(-2)
        mask = keys if mask is None else mask & keys
    return mask


def _as_mha_call(call, **mask_bug):
    """A module call as the multi_head_attention call it stands for (the reference's weights)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)  # as the grader: the reference module's weights
        module = _reference().MultiHeadSelfAttention(*call.init.args, **call.init.kwargs)
    x, = call.args
    linear = [getattr(module, f"{p}_proj") for p in "qkvo"]
    weights = [m.weight.detach().T for m in linear]
    biases = {f"b_{p}": m.bias.detach() for p, m in zip("qkvo", linear) if m.bias is not None}
    mask = _module_mask(call, **mask_bug)
    return Call((x, x, *weights, module.n_heads) + (() if mask is None else (mask,)), biases)


def _kind(call):
    return "module" if call.init is not None else "mha" if "n_heads" in call.names else "attention"


def _bug(mask_bug=None, **bug):
    """applies(call, expected, got): the student's output equals the output with `bug`."""

    def applies(call, expected, got):
        kind = _kind(call)
        if kind == "module":
            return _matches(got, _mha(_as_mha_call(call, **(mask_bug or {})), **bug))
        if mask_bug is not None:
            return False
        if kind == "mha":
            return _matches(got, _mha(call, **bug))
        if set(bug) - {"scale", "dim", "after", "invert"}:
            return False
        q, k, v, *mask = call.args
        return _matches(got, _attention(q, k, v, mask[0] if mask else None, **bug))

    return applies


def _fully_masked(call) -> bool:
    """Whether some query of this call has no key it may attend to."""
    kind = _kind(call)
    if kind == "module":
        mask = _module_mask(call)
        t = call.args[0].shape[-2]
        return mask is not None and bool((~mask.expand(*call.args[0].shape[:-2], t, t)).all(dim=-1).any())
    mask = call.args[7 if kind == "mha" else 3] if len(call.args) > (7 if kind == "mha" else 3) else None
    return mask is not None and bool((~mask).all(dim=-1).any())


def _non_finite(got) -> bool:
    values = got if isinstance(got, (tuple, list)) else (got,)
    return any(isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(t.isfinite().all())
               for t in values)


def _uniform_masked_rows(call, expected, got):
    """A fully masked row came out uniform (1/Lk): a large negative fill instead of -inf."""
    if _kind(call) != "attention" or len(call.args) < 4:
        return False
    weights = got[1] if isinstance(got, (tuple, list)) and len(got) == 2 else None
    if not isinstance(weights, torch.Tensor) or weights.shape != expected[1].shape:
        return False
    empty = ~call.args[3].expand(weights.shape).any(dim=-1)
    return bool(empty.any()) and bool(torch.allclose(
        weights[empty].double(), torch.full_like(weights[empty].double(), 1 / weights.shape[-1]), atol=1e-4))


def _d_v_is_1(call):
    return _kind(call) == "attention" and call.args[2].shape[-1] == 1


def _and(first, second):
    return lambda call, expected, got: first(call) and second(call, expected, got)


def _not(first, second):
    return lambda call, expected, got: not first(call) and second(call, expected, got)


NO_SCALE_OR_D_V = Hint(_and(_d_v_is_1, _bug(scale="none")), "your output matches scores that are not divided by "
                       "sqrt(d_k) (or divided by sqrt(d_v), which is 1 here): divide q @ k^T by sqrt(d_k), "
                       "d_k = q.shape[-1]")
NO_SCALE = Hint(_bug(scale="none"), "your output matches attention without the scaling: divide the scores "
                "q @ k^T by sqrt(d_k), d_k = q.shape[-1] (the head width)")
MULTIPLIED = Hint(_bug(scale="multiply"), "your output matches scores multiplied by sqrt(d_k): divide q @ k^T "
                  "by sqrt(d_k) instead")
SCALE_D_V = Hint(_not(_d_v_is_1, _bug(scale="d_v")), "your output matches scores scaled by 1/sqrt(d_v), the "
                 "values' size: scale by 1/sqrt(d_k), the size of the queries and keys (q.shape[-1])")
SCALE_WIDTH = Hint(_bug(width_scale=True), "your output matches scores scaled by 1/sqrt(D), D the full width of "
                   "the projections: each head's scores are divided by sqrt(d_head) = sqrt(D / n_heads)")
SOFTMAX_DIM = Hint(_bug(dim=-2), "your weights are a softmax over the queries (dim -2): normalise over the keys "
                   "(the last dimension of the scores), so each query's weights sum to 1")
MASK_AFTER = Hint(_bug(after=True), "your output matches the unmasked softmax with the masked weights zeroed "
                  "afterwards, so the kept ones no longer sum to 1: apply the mask before the softmax (masked "
                  "scores to -inf)")
MASK_INVERTED = Hint(_bug(invert=True), "your output matches the mask read the other way round: True means 'may "
                     "attend', False hides the key")
SPLIT_NO_TRANSPOSE = Hint(_bug(split_transpose=False), "your output matches splitting the heads with a reshape "
                          "to [..., H, T, D/H] and no transpose, which mixes positions into heads: reshape to "
                          "[..., T, H, D/H], then swap T and H")
MERGE_NO_TRANSPOSE = Hint(_bug(merge_transpose=False), "your output matches merging the heads with a reshape of "
                          "[..., H, T, d] and no transpose: swap H and T first, then reshape to [..., T, H*d]")
KV_FROM_Q = Hint(_bug(kv_from_q=True), "your output matches keys and values computed from x_q: queries come "
                 "from x_q, keys and values from x_kv")
DROPPED_BIAS = tuple(Hint(_bug(drop=(name,)), f"your output matches the output without the bias {name}: add "
                          f"every bias that is given (None means no bias)") for name in ("b_q", "b_k", "b_v", "b_o"))
CAUSAL_STRICT = Hint(_bug({"causal_offset": -1}), "your output matches a causal mask without the diagonal "
                     "(j < i): position i may attend to itself, so keep j <= i")
CAUSAL_LEAK = Hint(_bug({"causal_offset": 1}), "your output matches a causal mask one step too wide "
                   "(j <= i + 1): position i must not see position i + 1")
NOT_CAUSAL = Hint(_bug({"causal_offset": None}), "your output matches attention without a causal mask: with "
                  "causal=True (the default) position i may attend only to positions j <= i")
UNWANTED_CAUSAL = Hint(_bug({"causal_offset": "always"}), "your output matches a causal mask, but causal=False: "
                       "every position attends to every position")
PADDING_INVERTED = Hint(_bug({"padding": "invert"}), "your output matches key_padding_mask read the other way "
                        "round: True marks the real tokens (may attend), False the padding")
PADDING_IGNORED = Hint(_bug({"padding": "ignore"}), "your output matches ignoring key_padding_mask: no query "
                       "may attend to a padding token (False)")
NAN_ROWS = Hint(lambda call, e, got: _fully_masked(call) and _non_finite(got),
                "NaN in your output: a query whose every key is masked must get all-zero weights and an all-zero "
                "attention output, and -inf masking gives NaN there (-inf - (-inf)): handle such rows explicitly "
                "(e.g. zero the weights where the mask is False after the softmax)")
UNIFORM_ROWS = Hint(_uniform_masked_rows, "a query whose every key is masked must get all-zero weights; yours are "
                    "uniform (1/Lk), as a large negative fill such as -1e9 gives: zero them explicitly")
OVERFLOW = Hint(lambda call, e, got: _non_finite(got), "inf or NaN in your output: exp overflows to inf for "
                "scores above ~88 in float32 (and underflows to 0 below ~-103, giving 0/0): subtract each row's "
                "maximum score before exp")

# In order: the first hint that applies is shown.
SDPA_HINTS = (NO_SCALE_OR_D_V, NO_SCALE, MULTIPLIED, SCALE_D_V, SOFTMAX_DIM, MASK_AFTER, MASK_INVERTED, NAN_ROWS,
              UNIFORM_ROWS, OVERFLOW)
_HEAD_HINTS = (SCALE_WIDTH, SPLIT_NO_TRANSPOSE, MERGE_NO_TRANSPOSE, NO_SCALE, MULTIPLIED, SOFTMAX_DIM, MASK_AFTER)
MHA_HINTS = (*_HEAD_HINTS, KV_FROM_Q, MASK_INVERTED, *DROPPED_BIAS, NAN_ROWS, OVERFLOW)
MODULE_HINTS = (CAUSAL_STRICT, CAUSAL_LEAK, NOT_CAUSAL, UNWANTED_CAUSAL, PADDING_INVERTED, PADDING_IGNORED,
                *_HEAD_HINTS, *DROPPED_BIAS, NAN_ROWS, OVERFLOW)


# ----------------------------------------------------------------------------- explicit examples


def _t(values, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype)


def _sdpa(q, k, v, mask=None):
    return Call((q, k, v) if mask is None else (q, k, v, mask), names=SDPA_NAMES)


T, F = True, False
# d_k = 4 (sqrt = 2), d_v = 3, one query, two keys: scores [2, 1] / 2
SDPA_PLAIN = _sdpa(_t([[1.0, 2.0, 0.0, 1.0]]), _t([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 2.0, -1.0]]),
                   _t([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]]))
# Lq = 2 != Lk = 3, d_k = 2 != d_v = 1, a batch dim
SDPA_SHAPES = _sdpa(_uniform(2, 2, 2, seed=1, bound=2.0), _uniform(2, 3, 2, seed=2, bound=2.0),
                    _uniform(2, 3, 1, seed=3, bound=2.0))
SDPA_BATCH2 = _sdpa(_uniform(2, 1, 3, 2, seed=4, dtype=torch.float64, bound=2.0),
                    _uniform(2, 1, 2, 2, seed=5, dtype=torch.float64, bound=2.0),
                    _uniform(2, 1, 2, 3, seed=6, dtype=torch.float64, bound=2.0))
SDPA_MASK_2D = _sdpa(_uniform(3, 2, seed=7, bound=2.0), _uniform(4, 2, seed=8, bound=2.0),
                     _uniform(4, 3, seed=9, bound=2.0),
                     torch.tensor([[T, F, T, F], [T, T, F, F], [F, T, T, T]]))
SDPA_MASK_PAD = _sdpa(_uniform(2, 2, 2, seed=10, bound=2.0), _uniform(2, 3, 2, seed=11, bound=2.0),
                      _uniform(2, 3, 2, seed=12, bound=2.0), torch.tensor([[[T, T, F]], [[T, F, F]]]))
SDPA_EMPTY_ROW = _sdpa(_t([[1.0, 2.0], [3.0, 4.0]]), _t([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
                       _t([[1.0, 0.0], [2.0, 1.0], [3.0, -1.0]]), torch.tensor([[T, F, T], [F, F, F]]))
SDPA_EMPTY_SEQ = _sdpa(_uniform(2, 2, 2, seed=13, bound=2.0), _uniform(2, 3, 2, seed=14, bound=2.0),
                       _uniform(2, 3, 3, seed=15, bound=2.0), torch.tensor([[[T, F, T]], [[F, F, F]]]))
# scores 7550 / 2 and 7549 / 2: exp overflows, and the scaling (d_k = 4, d_v = 2) still shows
SDPA_LARGE = _sdpa(_t([[1.0, 50.0, 50.0, 50.0]]), _t([[50.0, 50.0, 50.0, 50.0], [49.0, 50.0, 50.0, 50.0]]),
                   _t([[1.0, -1.0], [2.0, 0.5]]))
# scores 5000, 4975, 4950 with the largest one masked
SDPA_LARGE_MASKED = _sdpa(_t([[50.0, 50.0, 50.0, 50.0]]),
                          _t([[50.0, 50.0, 50.0, 50.0], [49.0, 50.0, 50.0, 50.0], [48.0, 50.0, 50.0, 50.0]]),
                          _t([[1.0, -1.0], [2.0, 0.5], [0.0, 3.0]]), torch.tensor([[F, T, T]]))
SDPA_LARGE_NEGATIVE = _sdpa(_t([[50.0, 50.0, 50.0, 50.0]]), _t([[-50.0, -50.0, -50.0, -50.0],
                                                                [-50.0, -50.0, -50.0, -49.0]]),
                            _t([[1.0, -1.0], [2.0, 0.5]]), torch.tensor([[T, T]]))


def _mha_example(lq, lk, d_in, n_heads, d_head, d_out, *, seed, batch=(), dtype=torch.float32, cross=True,
                 mask=None, biases=()):
    width = n_heads * d_head
    x_q = _uniform(*batch, lq, d_in, seed=seed, dtype=dtype)
    x_kv = _uniform(*batch, lk, d_in, seed=seed + 1, dtype=dtype) if cross else x_q.clone()
    weights = [_uniform(d_in, width, seed=seed + 2 + i, dtype=dtype) for i in range(3)]
    weights.append(_uniform(width, d_out, seed=seed + 5, dtype=dtype))
    sizes = {"b_q": width, "b_k": width, "b_v": width, "b_o": d_out}
    kwargs = {name: _uniform(sizes[name], seed=seed + 6 + i, dtype=dtype) for i, name in enumerate(biases)}
    args = (x_q, x_kv, *weights, n_heads) + (() if mask is None else (mask,))
    return Call(args, kwargs, names=MHA_NAMES)


# two heads of 4 features (D = 8): 1/sqrt(4) != 1/sqrt(8), and 3 positions tell a missing transpose
MHA_TWO_HEADS = _mha_example(3, 3, 4, 2, 4, 3, seed=20, cross=False)
MHA_FOUR_HEADS = _mha_example(2, 2, 3, 4, 1, 2, seed=30, batch=(2, 1), dtype=torch.float64, cross=False)
MHA_CROSS = _mha_example(2, 4, 3, 2, 2, 3, seed=40)
MHA_CROSS_SAME_LENGTH = _mha_example(3, 3, 3, 2, 2, 2, seed=50)
MHA_MASK_2D = _mha_example(2, 4, 3, 2, 2, 2, seed=60, mask=torch.tensor([[T, T, T, F], [F, T, T, T]]))
MHA_MASK_PAD = _mha_example(2, 3, 3, 2, 2, 2, seed=70, batch=(2,), mask=torch.tensor([[[T, T, F]], [[T, F, F]]]))
MHA_EMPTY_ROW = _mha_example(2, 3, 3, 2, 2, 2, seed=80, mask=torch.tensor([[F, F, F], [T, F, T]]))
MHA_EMPTY_SEQ = _mha_example(2, 3, 3, 2, 2, 2, seed=90, batch=(2,), mask=torch.tensor([[[T, T, F]], [[F, F, F]]]))
MHA_ALL_BIASES = _mha_example(2, 3, 3, 2, 2, 2, seed=100, biases=("b_q", "b_k", "b_v", "b_o"))
MHA_ONE_BIAS = tuple(_mha_example(2, 3, 3, 2, 2, 2, seed=110 + 10 * i, biases=(name,))
                     for i, name in enumerate(("b_q", "b_k", "b_v", "b_o")))


def _module_example(batch, t, d_model, n_heads, *, seed, key_padding_mask=None, **init):
    x = _uniform(batch, t, d_model, seed=seed, bound=2.0)
    kwargs = {} if key_padding_mask is None else {"key_padding_mask": key_padding_mask}
    return Call((x,), kwargs, names=("x",), init=_module_init(d_model, n_heads, **init))


MODULE_CAUSAL = _module_example(1, 3, 4, 2, seed=200)
MODULE_CAUSAL_WIDE = _module_example(2, 4, 6, 3, seed=210)
MODULE_ONE_WIDE_HEAD = _module_example(2, 3, 1, 1, seed=260)  # d_model = n_heads = 1 are valid (mutation audit)
MODULE_BIDIRECTIONAL = _module_example(2, 3, 4, 2, seed=220, causal=False)
MODULE_PADDED = _module_example(2, 3, 4, 2, seed=230, key_padding_mask=torch.tensor([[T, T, F], [F, F, F]]))
MODULE_PADDED_BIDIRECTIONAL = _module_example(2, 3, 4, 2, seed=240, causal=False,
                                              key_padding_mask=torch.tensor([[T, F, T], [F, T, T]]))
MODULE_NO_BIAS = _module_example(2, 3, 6, 2, seed=250, bias=False)


def _examples(*calls):
    # The hints above diagnose whichever bug the student's output shows; an example's own hint
    # would take precedence over them, so the examples carry none.
    return tuple(Example(call, "") for call in calls)


# ----------------------------------------------------------------------------- invalid arguments
# One example per documented ValueError case, each function's a check of its own (0.5 points).


def _refuse(hint, *args, names=SDPA_NAMES, init=None, **kwargs):
    return Example(Call(args, kwargs, names=names, init=init), hint)


_Q, _K, _V = _uniform(2, 4, seed=400), _uniform(3, 4, seed=401), _uniform(3, 2, seed=402)
SDPA_REFUSALS = refusals(
    "scaled_dot_product_attention",
    _refuse("q must be a floating-point tensor: raise ValueError for an integer one", torch.ones(2, 4, dtype=torch.int64),
            _K, _V),
    _refuse("q must have at least 2 dimensions: raise ValueError for a 1-D q", _Q[0], _K, _V),
    _refuse("q and k must have the same d_k: raise ValueError", _uniform(2, 3, seed=403), _K, _V),
    _refuse("k and v must have the same number of keys: raise ValueError", _Q, _K, _uniform(2, 2, seed=404)),
    _refuse("q, k and v must have the same dtype: raise ValueError", _Q, _K.double(), _V),
    _refuse("the batch dimensions must broadcast: raise ValueError for batches 2 and 3",
            _uniform(2, 2, 4, seed=405), _uniform(3, 3, 4, seed=406), _uniform(3, 3, 2, seed=407)),
    _refuse("mask must be a torch.bool tensor: raise ValueError for a float mask", _Q, _K, _V, torch.ones(2, 3)),
    _refuse("mask must broadcast to [Lq, Lk] without enlarging it: raise ValueError", _Q, _K, _V,
            torch.ones(2, 2, 3, dtype=torch.bool)),
    _refuse("q, k and v must be floating-point tensors: raise ValueError for integer ones",
            *(torch.ones(2, 4, dtype=torch.int64) for _ in range(3))),
    _refuse("q must be a torch.Tensor: raise ValueError for a list", [[1.0, 0.0, 0.0, 1.0]], _K, _V),
    _refuse("mask must be a torch.bool tensor: raise ValueError for a list", _Q, _K, _V,
            [[True, False, True], [True, True, True]]))

MERGE_REFUSALS = refusals(
    "merge_heads",
    _refuse("x must have at least 3 dimensions [..., H, T, d]: raise ValueError for a 2-D x",
            torch.zeros(2, 3), names=("x",)),
    _refuse("x must be a torch.Tensor: raise ValueError for a list", [[[1.0]]], names=("x",)))

_XQ, _W = _uniform(3, 4, seed=410), _uniform(4, 4, seed=411)
MHA_REFUSALS = refusals(
    "multi_head_attention",
    _refuse("n_heads=3 does not divide D=4: raise ValueError", _XQ, _XQ, _W, _W, _W, _W, 3, names=MHA_NAMES),
    _refuse("n_heads must be an int >= 1: raise ValueError for 0", _XQ, _XQ, _W, _W, _W, _W, 0, names=MHA_NAMES),
    _refuse("W_q must be a matrix (2-D): raise ValueError", _XQ, _XQ, _W[0], _W, _W, _W, 2, names=MHA_NAMES),
    _refuse("W_k must have shape (D_in, D): raise ValueError", _XQ, _XQ, _W, _uniform(3, 4, seed=412), _W, _W, 2,
            names=MHA_NAMES),
    _refuse("mask must be a torch.bool tensor: raise ValueError for a float mask", _XQ, _XQ, _W, _W, _W, _W, 2,
            torch.ones(3, 3), names=MHA_NAMES),
    _refuse("b_q must have shape (D,): raise ValueError", _XQ, _XQ, _W, _W, _W, _W, 2, names=MHA_NAMES,
            b_q=_uniform(3, seed=413)))

_X = _uniform(2, 3, 4, seed=420)
MODULE_REFUSALS = refusals(
    "MultiHeadSelfAttention",
    _refuse("d_model=4 is not divisible by n_heads=3: raise ValueError in __init__", _X, names=("x",),
            init=_module_init(4, 3)),
    _refuse("n_heads must be an int >= 1: raise ValueError in __init__ for 0", _X, names=("x",),
            init=_module_init(4, 0)),
    _refuse("n_heads must be an int (bool is refused): raise ValueError in __init__ for True", _X,
            names=("x",), init=_module_init(4, True)),
    _refuse("x must have d_model features: raise ValueError for 3 features with d_model=4",
            _uniform(2, 3, 3, seed=421), names=("x",), init=_module_init(4, 2)),
    _refuse("x must have the parameters' dtype: raise ValueError for float64 x with float32 parameters",
            _X.double(), names=("x",), init=_module_init(4, 2)),
    _refuse("key_padding_mask must have shape x.shape[:-1]: raise ValueError", _X, names=("x",),
            init=_module_init(4, 2), key_padding_mask=torch.ones(2, 2, dtype=torch.bool)),
    _refuse("key_padding_mask must be a torch.bool tensor: raise ValueError", _X, names=("x",),
            init=_module_init(4, 2), key_padding_mask=torch.ones(2, 3)))


# ----------------------------------------------------------------------------- questions

attention_q = Question(
    "scaled_dot_product_attention", functions=("scaled_dot_product_attention",),
    checks=(
        Check("matches the reference without a mask (Lq != Lk, d_k != d_v, batch dims)",
              "scaled_dot_product_attention", attention_calls(), points=2, hints=SDPA_HINTS, max_examples=25,
              examples=_examples(SDPA_PLAIN, SDPA_SHAPES, SDPA_BATCH2)),
        Check("matches the reference with masks broadcast from [Lq, Lk] or [B, 1, Lk]",
              "scaled_dot_product_attention", attention_calls(mask="kept"), points=2, hints=SDPA_HINTS,
              max_examples=25, examples=_examples(SDPA_MASK_2D, SDPA_MASK_PAD)),
        Check("gives zero weights and a zero output for fully masked query rows", "scaled_dot_product_attention",
              attention_calls(mask="any"), points=1, hints=SDPA_HINTS, max_examples=15,
              examples=_examples(SDPA_EMPTY_ROW, SDPA_EMPTY_SEQ)),
        Check("stays finite and exact for large scores (up to 1e4)", "scaled_dot_product_attention",
              st.one_of(attention_calls(large=True), attention_calls(mask="kept", large=True)), points=1,
              hints=SDPA_HINTS, max_examples=15, examples=_examples(SDPA_LARGE, SDPA_LARGE_MASKED, SDPA_LARGE_NEGATIVE)),
        SDPA_REFUSALS,
    ))

split_heads_q = Question(
    "split_heads", functions=("split_heads",),
    checks=(
        Check("matches the reference (n_heads >= 2, batch dims)", "split_heads", split_calls(), points=2,
              compare=Exact(), max_examples=20,
              examples=(Example(Call((torch.arange(12.0).reshape(2, 6), 3), names=("x", "n_heads")),
                                "head h holds features h*D/H ... (h+1)*D/H - 1 of every position: reshape "
                                "[T, D] to [T, H, D/H], then transpose to [H, T, D/H] (a reshape alone mixes "
                                "positions into heads)"),
                        Example(Call((torch.arange(6.0).reshape(2, 3), 1), names=("x", "n_heads")),
                                "n_heads=1 is valid: a single head holding every feature, [T, D] -> [1, T, D]"))),
        Check("raises ValueError when D is not divisible by n_heads", "split_heads", split_calls(divisible=False),
              points=1, max_examples=5,
              examples=(Example(Call((torch.zeros(3, 6), 4), names=("x", "n_heads")),
                                "D=6 is not divisible by n_heads=4: raise ValueError"),)),
    ))

merge_heads_q = Question(
    "merge_heads", functions=("merge_heads",),
    checks=(
        Check("matches the reference (the inverse of split_heads)", "merge_heads", merge_calls(), points=2,
              compare=Exact(), max_examples=20,
              examples=(Example(Call((torch.arange(12.0).reshape(3, 2, 2),), names=("x",)),
                                "position t of the output is the concatenation of row t of every head: "
                                "transpose [H, T, d] to [T, H, d], then reshape to [T, H*d]"),
                        Example(Call((_uniform(2, 2, 3, 2, seed=300, bound=4.0),), names=("x",)),
                                "merge_heads must undo split_heads, with any batch dimensions: transpose the "
                                "heads and positions back, then reshape"))),
        MERGE_REFUSALS,
    ))

mha_q = Question(
    "multi_head_attention", functions=("multi_head_attention",),
    checks=(
        Check("self-attention without mask or biases matches the reference (n_heads >= 2)",
              "multi_head_attention", mha_calls(), points=2, hints=MHA_HINTS, max_examples=20,
              examples=_examples(MHA_TWO_HEADS, MHA_FOUR_HEADS)),
        Check("cross-attention: x_q and x_kv of different lengths", "multi_head_attention", mha_calls(cross=True),
              points=1, hints=MHA_HINTS, max_examples=15, examples=_examples(MHA_CROSS, MHA_CROSS_SAME_LENGTH)),
        Check("masks broadcast from [Lq, Lk] or [B, 1, Lk], shared by every head", "multi_head_attention",
              mha_calls(cross=True, mask="kept"), points=1, hints=MHA_HINTS, max_examples=15,
              examples=_examples(MHA_MASK_2D, MHA_MASK_PAD)),
        Check("fully masked query rows give a zero attention output", "multi_head_attention",
              mha_calls(cross=True, mask="any"), points=1, hints=MHA_HINTS, max_examples=12,
              examples=_examples(MHA_EMPTY_ROW, MHA_EMPTY_SEQ)),
        Check("biases b_q, b_k, b_v, b_o, each present or absent", "multi_head_attention",
              mha_calls(cross=True, biases=True), points=1, hints=MHA_HINTS, max_examples=15,
              examples=_examples(MHA_ALL_BIASES, *MHA_ONE_BIAS)),
        MHA_REFUSALS,
    ))

module_q = Question(
    "MultiHeadSelfAttention", functions=("MultiHeadSelfAttention",),
    checks=(
        Check("causal by default: matches the reference with its weights loaded", "MultiHeadSelfAttention",
              module_calls(), points=2, hints=MODULE_HINTS, max_examples=12,
              examples=_examples(MODULE_CAUSAL, MODULE_CAUSAL_WIDE, MODULE_ONE_WIDE_HEAD)),
        Check("causal=False: every position attends to every position", "MultiHeadSelfAttention",
              module_calls(causal=False), points=1, hints=MODULE_HINTS, max_examples=8,
              examples=_examples(MODULE_BIDIRECTIONAL)),
        Check("key_padding_mask, causal and not, sequences of padding only included", "MultiHeadSelfAttention",
              module_calls(causal="any", padded=True), points=1, hints=MODULE_HINTS, max_examples=12,
              examples=_examples(MODULE_PADDED, MODULE_PADDED_BIDIRECTIONAL)),
        Check("bias=False: four nn.Linear layers without bias", "MultiHeadSelfAttention",
              module_calls(causal="any", bias=False), points=1, hints=MODULE_HINTS, max_examples=8,
              examples=_examples(MODULE_NO_BIAS)),
        MODULE_REFUSALS,
    ))

UNIT = Unit(
    name="attention",
    questions=(attention_q, split_heads_q, merge_heads_q, mha_q, module_q),
    banned=BANNED,
    mutation_floor=0.9,  # measured by `make audit`; make test checks it on a fixed sample
)
