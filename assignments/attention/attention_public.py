"""Public checks for the `attention` unit: what `grader.check("<question>")` runs.

You may read this file: it contains no reference solution. Every check tests a property
that any correct implementation has (attention weights are probability distributions over
the keys and the output is the matching average of the values; a causal model's output at
position t does not depend on later positions; without positional information, reordering
the keys and values together changes nothing; merge_heads concatenates the heads; multi-head
attention is a sum of single-head attentions) or a worked example whose answer is printed
in the notebook. Passing them all is a good sign, not a guarantee: the grader also compares
your functions with a reference on many more inputs (other shapes and dtypes, Lq != Lk,
d_k != d_v, several heads, broadcast and fully masked masks, biases, large scores, ...).

Each check is a plain function that takes your function(s) or class as keyword arguments,
named like them in the notebook, e.g. ``weights_are_distributions(scaled_dot_product_attention=
scaled_dot_product_attention)``, and raises AssertionError with the failing input when the
property does not hold. Random inputs are drawn by hypothesis with a fixed seed, so a check
gives the same verdict every time, and a failure shows a shrunk (small) failing input. The
first line of each docstring is the check's display name.

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
# the spec (autograder/units/attention.py) takes the checks registered under its name
CHECKS, _check = kit.registry()
_SETTINGS = kit.hypothesis_settings(max_examples=25)


# -----------------------------------------------------------------------------
# helpers: calling student code, tolerances


def _attend(sdpa, q, k, v, mask=None, clone=True):
    """(out, weights, call) of the student's attention, checked to be two tensors of the right shapes."""
    batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    args = (q, k, v) if mask is None else (q, k, v, mask)
    result, call = kit.call(sdpa, "scaled_dot_product_attention", *args, clone=clone)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise AssertionError(f"{call} returned a {type(result).__name__}; expected a tuple (out, weights)")
    out, weights = result
    kit.expect_tensor(out, call, batch + (q.shape[-2], v.shape[-1]), "returned `out` of")
    kit.expect_tensor(weights, call, batch + (q.shape[-2], k.shape[-2]), "returned `weights` of")
    return out, weights, call


def _build(cls, *args, **kwargs):
    """The student's module, built and put in eval mode, or a clear AssertionError."""
    name = "MultiHeadSelfAttention"
    kit.require(cls, name)
    call = kit.describe(name, args, kwargs)
    try:
        module = cls(*args, **kwargs)
    except NotImplementedError as exc:
        raise kit.not_implemented(name) from exc
    except Exception as exc:
        raise AssertionError(f"{call} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(module, torch.nn.Module):
        raise AssertionError(f"{call} is a {type(module).__name__}, expected a torch.nn.Module")
    return module.eval(), call


def _forward(module, built, x, key_padding_mask=None):
    kwargs = {} if key_padding_mask is None else {"key_padding_mask": key_padding_mask}
    call = f"{built}.forward({kit.show(x)}" + (f", key_padding_mask={kit.show(key_padding_mask)})" if kwargs else ")")
    try:
        with torch.no_grad():
            out = module(x.clone(), **kwargs)
    except NotImplementedError as exc:
        raise kit.not_implemented("MultiHeadSelfAttention") from exc
    except Exception as exc:
        raise AssertionError(f"{call} raised {type(exc).__name__}: {exc}") from exc
    kit.expect_tensor(out, call, x.shape)
    return out, call


# one tiny valid call per question, to say "not implemented yet" before hypothesis spends
# time drawing inputs
_PROBES = {
    "scaled_dot_product_attention": lambda f: f(torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(1, 2)),
    "split_heads": lambda f: f(torch.zeros(1, 2), 2),
    "merge_heads": lambda f: f(torch.zeros(2, 1, 1)),
    "multi_head_attention": lambda f: f(torch.zeros(1, 2), torch.zeros(1, 2), *[torch.zeros(2, 2)] * 4, 1),
    "MultiHeadSelfAttention": lambda f: f(2, 1)(torch.zeros(1, 1, 2)),
}


def _run(prop, fn, name):
    """Run a hypothesis property; a stub says "not implemented yet" before any input is drawn."""
    kit.run(prop, fn, name, _PROBES[name])


def _err(a, b):
    """Largest |a - b| in float64; NaN or inf anywhere counts as inf."""
    d = (a.double() - b.double()).abs()
    if not d.numel():
        return 0.0
    return math.inf if not torch.isfinite(d).all() else d.max().item()


def _tol(*tensors, terms=1):
    """float32-level rounding allowed for sums of `terms` products of these tensors' values."""
    scale = max([t.detach().abs().max().item() for t in tensors if t.numel()] + [1.0])
    return 1e-5 + 16 * terms * kit.EPS32 * scale


# -----------------------------------------------------------------------------
# strategies: small random inputs

_FLOAT_DTYPES = (torch.float32, torch.float64)


def _floats(shape, dtype, bound):
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    width = 32 if dtype == torch.float32 else 64
    elements = st.floats(-bound, bound, width=width, allow_nan=False, allow_infinity=False,
                         allow_subnormal=False)
    return hnp.arrays(np_dtype, shape, elements=elements).map(lambda a: torch.from_numpy(a.copy()))


def _from_seed(shape, dtype, bound):
    """A tensor of `shape` with values in [-bound, bound] (multiples of 1/8), made from a drawn
    seed: when a call needs many tensors, hypothesis then shrinks a failing input quickly (to
    small shapes and seed 0) instead of value by value."""

    def make(seed):
        gen = torch.Generator().manual_seed(seed)
        grid = torch.randint(-8, 9, shape, generator=gen).double() * (bound / 8)
        return grid.to(dtype) + 0.0  # + 0.0: no -0.0 in the shown input

    return st.integers(0, 2**31 - 1).map(make)


@st.composite
def _qkv(draw, bound=3.0, with_mask=False):
    """(q, k, v, mask): batch dims of rank 0 to 2, Lq and Lk, d_k and d_v drawn independently.

    With with_mask, mask has the scores' full shape [..., Lq, Lk] (otherwise None)."""
    dtype = draw(st.sampled_from(_FLOAT_DTYPES))
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    lq, lk, dk, dv = (draw(st.integers(1, 5)) for _ in range(4))
    q = draw(_floats(batch + (lq, dk), dtype, bound))
    k = draw(_floats(batch + (lk, dk), dtype, bound))
    v = draw(_floats(batch + (lk, dv), dtype, bound))
    mask = None
    if with_mask:
        mask = torch.from_numpy(draw(hnp.arrays(np.bool_, batch + (lq, lk))).copy())
    return q, k, v, mask


def _mha_args(draw, dtype, lq, lk, d_in, d, d_out, batch=(), bound=1.0, biases=True):
    """(x_q, x_kv, W_q, W_k, W_v, W_o, {biases})."""
    x_q = draw(_from_seed(batch + (lq, d_in), dtype, bound))
    x_kv = draw(_from_seed(batch + (lk, d_in), dtype, bound))
    weights = [draw(_from_seed((d_in, d), dtype, bound)) for _ in range(3)] + [draw(_from_seed((d, d_out), dtype, bound))]
    b = {}
    if biases:
        for name, size in (("b_q", d), ("b_k", d), ("b_v", d), ("b_o", d_out)):
            if draw(st.booleans()):
                b[name] = draw(_from_seed((size,), dtype, bound))
    return x_q, x_kv, weights, b


@st.composite
def _mha_case(draw, same_length=False):
    """A multi-head attention call: H >= 1 heads of d_head features, optional biases."""
    dtype = draw(st.sampled_from(_FLOAT_DTYPES))
    batch = tuple(draw(st.lists(st.integers(1, 2), max_size=1)))
    n_heads, d_head = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    lq = draw(st.integers(1, 5))
    lk = lq if same_length else draw(st.integers(1, 5))
    d_in, d_out = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    x_q, x_kv, weights, b = _mha_args(draw, dtype, lq, lk, d_in, n_heads * d_head, d_out, batch)
    return x_q, x_kv, weights, n_heads, b


# -----------------------------------------------------------------------------
# scaled_dot_product_attention

_Q = [[1.0, 0.0, 1.0, 0.0]]
_K = [[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, -1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
_V = [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]


@_check("scaled_dot_product_attention")
def attention_worked_examples(scaled_dot_product_attention):
    """matches the worked examples in the notebook"""
    f = scaled_dot_product_attention
    q, k, v = torch.tensor(_Q), torch.tensor(_K), torch.tensor(_V)
    e = math.e
    # scores q k^T / sqrt(4) = [2, 0, 0] / 2 = [1, 0, 0]
    cases = [
        (None, [[e / (e + 2), 1 / (e + 2), 1 / (e + 2)]], [[e / (e + 2), 1 / (e + 2)]],
         "weights = softmax(q @ k.T / sqrt(d_k)) over the keys, here softmax([1, 0, 0]) "
         "(d_k = 4: divide by 2)"),
        (torch.tensor([[True, False, True]]), [[e / (e + 1), 0.0, 1 / (e + 1)]], [[e / (e + 1), 0.0]],
         "the masked key (False) gets weight exactly 0, the others share 1: softmax([1, 0]) on keys 0 and 2"),
        (torch.tensor([[False, False, False]]), [[0.0, 0.0, 0.0]], [[0.0, 0.0]],
         "a query with every key masked gets all-zero weights and an all-zero output, not NaN"),
    ]
    for mask, weights, out, why in cases:
        got_out, got_w, call = _attend(f, q, k, v, mask)
        expected_w, expected_out = torch.tensor(weights), torch.tensor(out)
        if not (_err(got_w, expected_w) <= 1e-5 and _err(got_out, expected_out) <= 1e-5):
            kit.fail(call, f"wrong values: {why}", expected_weights=expected_w, got_weights=got_w,
                  expected_out=expected_out, got_out=got_out)


@_check("scaled_dot_product_attention")
def attention_shapes_and_dtype(scaled_dot_product_attention):
    """returns (out [..., Lq, d_v], weights [..., Lq, Lk]) in q's dtype"""

    @_SETTINGS
    @given(_qkv())
    def prop(qkvm):
        q, k, v, _ = qkvm
        out, weights, call = _attend(scaled_dot_product_attention, q, k, v)
        if out.dtype != q.dtype or weights.dtype != q.dtype:
            kit.fail(call, f"returned dtypes ({out.dtype}, {weights.dtype}), expected q's dtype {q.dtype}")

    _run(prop, scaled_dot_product_attention, "scaled_dot_product_attention")


@_check("scaled_dot_product_attention")
def weights_are_distributions(scaled_dot_product_attention):
    """without a mask, each query's weights are >= 0 and sum to 1, and out = weights @ v"""

    @_SETTINGS
    @given(_qkv())
    def prop(qkvm):
        q, k, v, _ = qkvm
        out, weights, call = _attend(scaled_dot_product_attention, q, k, v)
        if not (torch.isfinite(weights).all() and (weights >= 0).all()):
            kit.fail(call, "weights must be finite and >= 0", weights=weights)
        err = _err(weights.sum(dim=-1), torch.ones(()))
        if not err <= 1e-5 + 8 * k.shape[-2] * kit.EPS32:
            kit.fail(call, f"each query's weights must sum to 1 over the keys (the last dimension), off by "
                        f"{err:.3g}", weights=weights)
        mixed = torch.matmul(weights.double(), v.double())
        err = _err(out, mixed)
        if not err <= _tol(v, terms=k.shape[-2]):
            kit.fail(call, f"out must be weights @ v, each output row a weighted average of the value rows "
                        f"(off by {err:.3g})", out=out, weights_times_v=mixed.to(out.dtype))

    _run(prop, scaled_dot_product_attention, "scaled_dot_product_attention")


@_check("scaled_dot_product_attention")
def masked_keys_get_zero_weight(scaled_dot_product_attention):
    """with a mask, hidden keys get weight exactly 0, kept ones sum to 1, fully masked rows are all 0"""

    @_SETTINGS
    @given(_qkv(with_mask=True))
    def prop(qkvm):
        q, k, v, mask = qkvm
        out, weights, call = _attend(scaled_dot_product_attention, q, k, v, mask)
        if not torch.isfinite(weights).all() or not torch.isfinite(out).all():
            kit.fail(call, "non-finite values (a fully masked row must give zeros, not NaN)", weights=weights,
                  out=out)
        if (weights.masked_select(~mask) != 0).any():
            kit.fail(call, "a key the mask hides (False) must get weight exactly 0", weights=weights)
        if (weights < 0).any():
            kit.fail(call, "weights must be >= 0", weights=weights)
        kept = mask.any(dim=-1)  # [..., Lq]: queries that may attend to some key
        sums = weights.double().sum(dim=-1)
        expected = kept.double()
        err = _err(sums, expected)
        if not err <= 1e-5 + 8 * k.shape[-2] * kit.EPS32:
            kit.fail(call, "each query's weights must sum to 1 over its kept keys (the mask is applied before "
                        "the softmax), and to 0 when every key is masked", weight_sums=sums.to(q.dtype),
                  expected_sums=expected.to(q.dtype))
        mixed = torch.matmul(weights.double(), v.double())
        err = _err(out, mixed)
        if not err <= _tol(v, terms=k.shape[-2]):
            kit.fail(call, f"out must be weights @ v (off by {err:.3g})", out=out, weights_times_v=mixed.to(out.dtype))

    _run(prop, scaled_dot_product_attention, "scaled_dot_product_attention")


@st.composite
def _large_qkv(draw):
    """Integer-valued q and k up to 50 (d_k in {1, 4, 16}): scores up to 1e4, exact in float32."""
    dtype = draw(st.sampled_from(_FLOAT_DTYPES))
    lq, lk, dv = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    dk = draw(st.sampled_from([1, 4, 16]))
    ints = lambda shape: hnp.arrays(np.int64, shape, elements=st.integers(-50, 50)).map(
        lambda a: torch.from_numpy(a.copy()).to(dtype))
    return draw(ints((lq, dk))), draw(ints((lk, dk))), draw(_floats((lk, dv), dtype, 3.0))


@_check("scaled_dot_product_attention")
def large_scores_stay_finite(scaled_dot_product_attention):
    """stays finite for scores up to 1e4: weights still sum to 1 and out = weights @ v"""

    @_SETTINGS
    @given(_large_qkv())
    def prop(qkv):
        q, k, v = qkv
        out, weights, call = _attend(scaled_dot_product_attention, q, k, v)
        if not (torch.isfinite(weights).all() and torch.isfinite(out).all()):
            kit.fail(call, "non-finite values: exp overflows to inf above ~88 in float32 (and underflows to 0 "
                        "below ~-103, giving 0/0); subtract each row's maximum score before exp",
                  weights=weights, out=out)
        err = _err(weights.sum(dim=-1), torch.ones(()))
        if not err <= 1e-5 + 8 * k.shape[-2] * kit.EPS32:
            kit.fail(call, f"each query's weights must sum to 1 (off by {err:.3g})", weights=weights)
        err = _err(out, torch.matmul(weights.double(), v.double()))
        if not err <= _tol(v, terms=k.shape[-2]):
            kit.fail(call, f"out must be weights @ v (off by {err:.3g})", out=out)

    _run(prop, scaled_dot_product_attention, "scaled_dot_product_attention")


@_check("scaled_dot_product_attention")
def scaled_by_sqrt_d_k(scaled_dot_product_attention):
    """duplicating every feature of q and k acts like multiplying q by sqrt(2): the 1/sqrt(d_k) scaling"""

    # [q, q] . [k, k] = 2 q.k, and d_k doubles: 2 q.k / sqrt(2 d_k) = (sqrt(2) q).k / sqrt(d_k)
    @_SETTINGS
    @given(_qkv(bound=2.0))
    def prop(qkvm):
        q, k, v, _ = qkvm
        doubled, weights2, call2 = _attend(scaled_dot_product_attention, torch.cat([q, q], -1), torch.cat([k, k], -1), v)
        scaled, weights1, call1 = _attend(scaled_dot_product_attention, q * math.sqrt(2.0), k, v)
        err = _err(weights2, weights1)
        if not err <= _tol(q, k, terms=4 * q.shape[-1]):
            raise AssertionError(
                f"attention with every feature of q and k duplicated should equal attention with q "
                f"multiplied by sqrt(2) (the scores are divided by sqrt(d_k), and d_k doubled), but the "
                f"weights differ by {err:.3g}:\n  {call2}\n    weights = {kit.show(weights2)}\n"
                f"  {call1}\n    weights = {kit.show(weights1)}")

    _run(prop, scaled_dot_product_attention, "scaled_dot_product_attention")


@_check("scaled_dot_product_attention")
def permuting_keys_and_values_changes_nothing(scaled_dot_product_attention):
    """reordering the keys and values together (and the mask's columns) leaves the output unchanged"""

    @_SETTINGS
    @given(_qkv(with_mask=True), st.randoms(use_true_random=False))
    def prop(qkvm, rng):
        q, k, v, mask = qkvm
        order = list(range(k.shape[-2]))
        rng.shuffle(order)
        perm = torch.tensor(order)
        out, weights, call = _attend(scaled_dot_product_attention, q, k, v, mask)
        out_p, weights_p, call_p = _attend(scaled_dot_product_attention, q, k[..., perm, :], v[..., perm, :],
                                           mask[..., perm])
        err = _err(out_p, out)
        if not err <= _tol(v, terms=k.shape[-2]):
            raise AssertionError(
                f"attention has no notion of order: permuting the keys and values (and the mask's "
                f"columns) together must leave the output unchanged, but it changed by {err:.3g}:\n"
                f"  {call}\n    out = {kit.show(out)}\n  {call_p}\n    out = {kit.show(out_p)}")
        if not _err(weights_p, weights[..., perm]) <= 1e-5:
            raise AssertionError(f"permuting the keys must permute the weights' columns the same way:\n"
                                 f"  {call}\n    weights = {kit.show(weights)}\n  {call_p}\n"
                                 f"    weights = {kit.show(weights_p)}")

    _run(prop, scaled_dot_product_attention, "scaled_dot_product_attention")


@_check("scaled_dot_product_attention")
def attention_leaves_inputs_unchanged(scaled_dot_product_attention):
    """does not modify q, k, v or the mask"""
    q, k, v = torch.tensor(_Q), torch.tensor(_K), torch.tensor(_V)
    mask = torch.tensor([[True, False, True]])
    before = [t.clone() for t in (q, k, v, mask)]
    _, _, call = _attend(scaled_dot_product_attention, q, k, v, mask, clone=False)
    for name, t, b in zip("q k v mask".split(), (q, k, v, mask), before):
        if not torch.equal(t, b):
            raise AssertionError(f"{call} modified `{name}` in place:\n  before = {kit.show(b)}\n"
                                 f"  after  = {kit.show(t)}\n(use out-of-place ops: q / s, not q /= s)")


@_check("scaled_dot_product_attention")
def attention_rejects_invalid_arguments(scaled_dot_product_attention):
    """raises ValueError for the invalid arguments its docstring lists (shapes, dtypes, a mask that is not bool or does not fit)"""
    q, k, v = torch.zeros(2, 3), torch.zeros(4, 3), torch.zeros(4, 5)
    kit.expect_value_error(scaled_dot_product_attention, "scaled_dot_product_attention", [
        ((q, torch.zeros(4, 2), v), {}, "q has d_k=3 but k has d_k=2"),
        ((q, k, torch.zeros(5, 5)), {}, "k has 4 keys but v has 5 values"),
        ((torch.zeros(3), k, v), {}, "q must have at least 2 dimensions"),
        ((q.long(), k.long(), v.long()), {}, "q, k and v must be floating-point tensors"),
        ((q, k.double(), v), {}, "q, k and v must have the same dtype"),
        ((q, k, v, torch.ones(2, 4)), {}, "mask must be a torch.bool tensor (this one is float)"),
        ((q, k, v, torch.ones(3, 4, dtype=torch.bool)), {}, "mask [3, 4] does not broadcast to the scores [2, 4]"),
        ((q, k, v, torch.ones(5, 2, 4, dtype=torch.bool)), {}, "mask [5, 2, 4] would enlarge the scores [2, 4]"),
    ])


# -----------------------------------------------------------------------------
# split_heads and merge_heads


@_check("split_heads")
def split_heads_worked_example(split_heads):
    """matches the worked example in the notebook"""
    x = torch.arange(12.0).reshape(2, 6)  # T = 2 positions, D = 6 features
    expected = torch.tensor([[[0.0, 1.0], [6.0, 7.0]],
                             [[2.0, 3.0], [8.0, 9.0]],
                             [[4.0, 5.0], [10.0, 11.0]]])
    out, call = kit.call(split_heads, "split_heads", x, 3, shape=(3, 2, 2))
    if not torch.equal(out, expected):
        kit.fail(call, "head h must hold features 2h and 2h+1 of every position (a reshape to [T, H, D/H] "
                    "followed by a transpose to [H, T, D/H])", expected=expected, got=out)


@st.composite
def _heads_input(draw):
    dtype = draw(st.sampled_from(_FLOAT_DTYPES))
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    n_heads, d_head, t = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    x = draw(_floats(batch + (t, n_heads * d_head), dtype, 10.0))
    return x, n_heads


@_check("split_heads")
def head_h_holds_block_h(split_heads):
    """[..., T, D] -> [..., H, T, D/H], where head h holds features h*D/H ... (h+1)*D/H - 1"""

    @_SETTINGS
    @given(_heads_input())
    def prop(x_h):
        x, n_heads = x_h
        *batch, t, d = x.shape
        d_head = d // n_heads
        out, call = kit.call(split_heads, "split_heads", x, n_heads, shape=(*batch, n_heads, t, d_head))
        for h in range(n_heads):
            if not torch.equal(out[..., h, :, :], x[..., :, h * d_head:(h + 1) * d_head]):
                kit.fail(call, f"head {h} must be x[..., :, {h * d_head}:{(h + 1) * d_head}] (features "
                            f"{h * d_head} to {(h + 1) * d_head - 1} of every position)", got=out)

    _run(prop, split_heads, "split_heads")


@_check("split_heads")
def split_heads_rejects_invalid_arguments(split_heads):
    """raises ValueError when D is not divisible by n_heads"""
    kit.expect_value_error(split_heads, "split_heads", [
        ((torch.zeros(2, 6), 4), {}, "D=6 is not divisible by n_heads=4"),
        ((torch.zeros(3, 5), 2), {}, "D=5 is not divisible by n_heads=2"),
        ((torch.zeros(3, 4), 0), {}, "n_heads must be >= 1"),
    ])


@_check("merge_heads")
def merge_heads_worked_example(merge_heads):
    """matches the worked example in the notebook"""
    x = torch.tensor([[[0.0, 1.0], [6.0, 7.0]],
                      [[2.0, 3.0], [8.0, 9.0]],
                      [[4.0, 5.0], [10.0, 11.0]]])  # H = 3 heads, T = 2 positions, d = 2
    expected = torch.arange(12.0).reshape(2, 6)
    out, call = kit.call(merge_heads, "merge_heads", x, shape=(2, 6))
    if not torch.equal(out, expected):
        kit.fail(call, "position t must be the concatenation of the heads' rows t (transpose to "
                    "[T, H, d], then reshape to [T, H*d])", expected=expected, got=out)


@_check("merge_heads")
def merge_heads_rejects_invalid_arguments(merge_heads):
    """raises ValueError when x has fewer than 3 dimensions [..., H, T, d]"""
    kit.expect_value_error(merge_heads, "merge_heads", [
        ((torch.zeros(2, 6),), {}, "x must have at least 3 dimensions [..., H, T, d]"),
        ((torch.zeros(4),), {}, "x must have at least 3 dimensions [..., H, T, d]"),
    ])


@_check("merge_heads")
def merge_heads_concatenates_the_heads(merge_heads):
    """[..., H, T, d] -> [..., T, H*d]: position t is the concatenation of every head's row t"""
    # merge_heads alone is tested (y is built by slicing x, not by your split_heads), so a bug
    # in split_heads fails split_heads' checks, not this one: the grader judges them apart too

    @_SETTINGS
    @given(_heads_input())
    def prop(x_h):
        x, n_heads = x_h
        d_head = x.shape[-1] // n_heads
        y = torch.stack([x[..., :, h * d_head:(h + 1) * d_head] for h in range(n_heads)], dim=-3)
        merged, call = kit.call(merge_heads, "merge_heads", y, shape=x.shape)
        if not torch.equal(merged, x):
            kit.fail(call, "features h*d ... (h+1)*d - 1 of position t must be head h's row t",
                     expected=x, got=merged)

    _run(prop, merge_heads, "merge_heads")


# -----------------------------------------------------------------------------
# multi_head_attention


def _mha(f, x_q, x_kv, weights, n_heads, mask=None, clone=True, **biases):
    args = (x_q, x_kv, *weights, n_heads) + (() if mask is None else (mask,))
    batch = torch.broadcast_shapes(x_q.shape[:-2], x_kv.shape[:-2])
    return kit.call(f, "multi_head_attention", *args, shape=batch + (x_q.shape[-2], weights[3].shape[-1]),
                 clone=clone, **biases)


@_check("multi_head_attention")
def mha_shape_and_dtype(multi_head_attention):
    """returns [..., Lq, D_out] in x_q's dtype, also for cross-attention (Lk != Lq)"""

    @_SETTINGS
    @given(_mha_case())
    def prop(case):
        x_q, x_kv, weights, n_heads, b = case
        out, call = _mha(multi_head_attention, x_q, x_kv, weights, n_heads, **b)
        if out.dtype != x_q.dtype:
            kit.fail(call, f"returned dtype {out.dtype}, expected {x_q.dtype}")

    _run(prop, multi_head_attention, "multi_head_attention")


@_check("multi_head_attention")
def mha_is_a_sum_of_single_heads(multi_head_attention):
    """H heads = the sum of H one-head attentions, each with its own block of the weights"""

    # Head h uses columns h*d ... (h+1)*d - 1 of W_q, W_k, W_v (and of the biases) and rows
    # h*d ... (h+1)*d - 1 of W_o: merge_heads(heads) @ W_o is the sum over h of head_h @ W_o[rows of h].
    @_SETTINGS
    @given(_mha_case())
    def prop(case):
        x_q, x_kv, weights, n_heads, b = case
        W_q, W_k, W_v, W_o = weights
        d = W_q.shape[1] // n_heads
        out, call = _mha(multi_head_attention, x_q, x_kv, weights, n_heads, **b)
        total = 0
        for h in range(n_heads):
            cols = slice(h * d, (h + 1) * d)
            one = {name: b[name][cols] for name in ("b_q", "b_k", "b_v") if name in b}
            head, _ = _mha(multi_head_attention, x_q, x_kv, [W_q[:, cols], W_k[:, cols], W_v[:, cols], W_o[cols]],
                           1, **one)
            total = total + head.double()
        if "b_o" in b:
            total = total + b["b_o"].double()
        err = _err(out, total)
        scale = [x_q, x_kv, *weights, *b.values()]
        if not err <= _tol(*scale, terms=64):
            kit.fail(call, f"with {n_heads} heads of {d} features, the output must equal the sum of {n_heads} "
                        f"one-head attentions, head h using features {d}h ... {d}h+{d - 1} (columns of W_q, W_k, "
                        f"W_v, rows of W_o); it differs by {err:.3g}. Check split_heads/merge_heads (a reshape "
                        f"needs a transpose) and the scaling (1/sqrt(d_head), not 1/sqrt(D))",
                  expected=total.to(out.dtype), got=out)

    _run(prop, multi_head_attention, "multi_head_attention")


@_check("multi_head_attention")
def zero_queries_average_the_values(multi_head_attention):
    """with W_q = 0 every query attends uniformly: out = mean over x_kv's rows of (x_kv W_v + b_v), then W_o"""

    @_SETTINGS
    @given(_mha_case())
    def prop(case):
        x_q, x_kv, weights, n_heads, b = case
        W_q, W_k, W_v, W_o = weights
        b.pop("b_q", None)
        out, call = _mha(multi_head_attention, x_q, x_kv, [torch.zeros_like(W_q), W_k, W_v, W_o], n_heads, **b)
        values = x_kv.double() @ W_v.double() + (b["b_v"].double() if "b_v" in b else 0.0)
        expected = values.mean(dim=-2, keepdim=True) @ W_o.double() + (b["b_o"].double() if "b_o" in b else 0.0)
        expected = expected.expand(out.shape)
        err = _err(out, expected)
        if not err <= _tol(x_q, x_kv, *weights, *b.values(), terms=64):
            kit.fail(call, "with all-zero queries every score is 0, so each query averages all the values: the "
                        "keys and values must come from x_kv (not x_q)", expected=expected.to(out.dtype), got=out)

    _run(prop, multi_head_attention, "multi_head_attention")


@_check("multi_head_attention")
def causal_mask_hides_the_future(multi_head_attention):
    """with a causal mask, changing the input at a later position never changes an earlier output"""

    @_SETTINGS
    @given(_mha_case(same_length=True), st.data())
    def prop(case, data):
        x, _, weights, n_heads, b = case
        t_len = x.shape[-2]
        mask = torch.ones(t_len, t_len, dtype=torch.bool).tril()  # query i sees keys j <= i
        t = data.draw(st.integers(0, t_len - 1), label="t")
        changed = x.clone()
        changed[..., t:, :] = data.draw(_from_seed(x[..., t:, :].shape, x.dtype, 1.0), label="new later inputs")
        out, call = _mha(multi_head_attention, x, x, weights, n_heads, mask, **b)
        out2, call2 = _mha(multi_head_attention, changed, changed, weights, n_heads, mask, **b)
        err = _err(out[..., :t, :], out2[..., :t, :])
        if not err <= _tol(x, *weights, terms=16):
            raise AssertionError(
                f"positions 0..{t - 1} must not see positions >= {t} through a causal mask, but their "
                f"outputs changed by {err:.3g} when only the inputs at positions >= {t} changed:\n"
                f"  {call}\n    out = {kit.show(out)}\n  {call2}\n    out = {kit.show(out2)}")

    _run(prop, multi_head_attention, "multi_head_attention")


@_check("multi_head_attention")
def permuting_x_kv_changes_nothing(multi_head_attention):
    """reordering the rows of x_kv (and the mask's columns) leaves the output unchanged"""

    @_SETTINGS
    @given(_mha_case(), st.randoms(use_true_random=False), st.data())
    def prop(case, rng, data):
        x_q, x_kv, weights, n_heads, b = case
        lq, lk = x_q.shape[-2], x_kv.shape[-2]
        mask = torch.from_numpy(data.draw(hnp.arrays(np.bool_, (lq, lk)), label="mask").copy())
        order = list(range(lk))
        rng.shuffle(order)
        perm = torch.tensor(order)
        out, call = _mha(multi_head_attention, x_q, x_kv, weights, n_heads, mask, **b)
        out_p, call_p = _mha(multi_head_attention, x_q, x_kv[..., perm, :], weights, n_heads, mask[..., perm], **b)
        err = _err(out, out_p)
        if not err <= _tol(x_q, x_kv, *weights, *b.values(), terms=64):
            raise AssertionError(
                f"without positional information, reordering the keys/values (rows of x_kv, and the "
                f"mask's columns) must leave the output unchanged, but it changed by {err:.3g}:\n"
                f"  {call}\n    out = {kit.show(out)}\n  {call_p}\n    out = {kit.show(out_p)}")

    _run(prop, multi_head_attention, "multi_head_attention")


@_check("multi_head_attention")
def mha_leaves_inputs_unchanged(multi_head_attention):
    """does not modify any of its inputs"""
    g = torch.Generator().manual_seed(0)
    x_q, x_kv = torch.randn(3, 4, generator=g), torch.randn(2, 4, generator=g)
    weights = [torch.randn(4, 4, generator=g) for _ in range(4)]
    b = {name: torch.randn(4, generator=g) for name in ("b_q", "b_k", "b_v", "b_o")}
    mask = torch.tensor([[True, False], [True, True], [False, False]])
    inputs = {"x_q": x_q, "x_kv": x_kv, "W_q": weights[0], "W_k": weights[1], "W_v": weights[2],
              "W_o": weights[3], "mask": mask, **b}
    before = {name: t.clone() for name, t in inputs.items()}
    _, call = _mha(multi_head_attention, x_q, x_kv, weights, 2, mask, clone=False, **b)
    for name, t in inputs.items():
        if not torch.equal(t, before[name]):
            raise AssertionError(f"{call} modified `{name}` in place:\n  before = {kit.show(before[name])}\n"
                                 f"  after  = {kit.show(t)}")


@_check("multi_head_attention")
def mha_rejects_invalid_arguments(multi_head_attention):
    """raises ValueError for the invalid arguments its docstring lists (heads, weight and bias shapes, the mask)"""
    x, w, w_o = torch.zeros(2, 3), torch.zeros(3, 6), torch.zeros(6, 3)
    kit.expect_value_error(multi_head_attention, "multi_head_attention", [
        ((x, x, w, w, w, w_o, 4), {}, "D=6 is not divisible by n_heads=4"),
        ((x, x, w, w, w, w_o, 0), {}, "n_heads must be an int >= 1"),
        ((x, x, w, torch.zeros(3, 4), w, w_o, 2), {}, "W_k must have shape (D_in, D) = (3, 6)"),
        ((x, x, w, w, w, w_o, 2), {"b_q": torch.zeros(5)}, "b_q must have shape (D,) = (6,)"),
        ((x, x, w, w, w, w_o, 2), {"b_o": torch.zeros(6)}, "b_o must have shape (D_out,) = (3,)"),
        ((x, x, w, w, w, w_o, 2), {"mask": torch.ones(2, 2)}, "mask must be a torch.bool tensor"),
    ])


# -----------------------------------------------------------------------------
# MultiHeadSelfAttention


@st.composite
def _module_case(draw):
    """(d_model, n_heads, x) with H >= 1 heads, x float32 [B, T, D]."""
    n_heads, d_head = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    b, t = draw(st.integers(1, 2)), draw(st.integers(1, 5))
    d = n_heads * d_head
    return d, n_heads, draw(_from_seed((b, t, d), torch.float32, 2.0))


@_check("MultiHeadSelfAttention")
def module_has_the_four_projections(MultiHeadSelfAttention):
    """has exactly the parameters q_proj, k_proj, v_proj, o_proj (nn.Linear(D, D)), with and without bias"""
    for bias in (True, False):
        module, call = _build(MultiHeadSelfAttention, 6, 2, bias=bias)
        shapes = {name: tuple(t.shape) for name, t in module.state_dict().items()}
        expected = {f"{p}_proj.weight": (6, 6) for p in "qkvo"}
        if bias:
            expected.update({f"{p}_proj.bias": (6,) for p in "qkvo"})
        if shapes != expected:
            missing, extra = sorted(set(expected) - set(shapes)), sorted(set(shapes) - set(expected))
            wrong = sorted(k for k in set(shapes) & set(expected) if shapes[k] != expected[k])
            raise AssertionError(
                f"{call}.state_dict() must have exactly the keys {sorted(expected)} (the grader loads its "
                f"weights into your module with load_state_dict(strict=True)); missing: {missing}, "
                f"unexpected: {extra}, wrong shapes: {[(k, shapes[k]) for k in wrong]}")


@_check("MultiHeadSelfAttention")
def module_output_shape(MultiHeadSelfAttention):
    """maps x [B, T, D] to [B, T, D], causal or not, with or without a key_padding_mask"""

    @_SETTINGS
    @given(_module_case(), st.booleans(), st.booleans())
    def prop(case, causal, padded):
        d, n_heads, x = case
        module, built = _build(MultiHeadSelfAttention, d, n_heads, causal=causal)
        mask = torch.ones(x.shape[:-1], dtype=torch.bool) if padded else None
        out, call = _forward(module, built, x, mask)
        if out.dtype != x.dtype:
            kit.fail(call, f"returned dtype {out.dtype}, expected {x.dtype}")

    _run(prop, MultiHeadSelfAttention, "MultiHeadSelfAttention")


@_check("MultiHeadSelfAttention")
def causal_module_hides_the_future(MultiHeadSelfAttention):
    """causal: changing a later token never changes an earlier output, and position 0 sees only itself"""

    @_SETTINGS
    @given(_module_case(), st.data())
    def prop(case, data):
        d, n_heads, x = case
        torch.manual_seed(0)
        module, built = _build(MultiHeadSelfAttention, d, n_heads)  # causal=True is the default
        t_len = x.shape[-2]
        t = data.draw(st.integers(0, t_len - 1), label="t")
        changed = x.clone()
        changed[:, t:] = data.draw(_from_seed(x[:, t:].shape, x.dtype, 2.0), label="new later tokens")
        out, call = _forward(module, built, x)
        out2, call2 = _forward(module, built, changed)
        err = _err(out[:, :t], out2[:, :t])
        if not err <= _tol(x, terms=16):
            raise AssertionError(
                f"{built} is causal: positions 0..{t - 1} must not see positions >= {t}, but their outputs "
                f"changed by {err:.3g} when only the tokens at positions >= {t} changed:\n"
                f"  {call}\n    out = {kit.show(out)}\n  {call2}\n    out = {kit.show(out2)}")
        projections = [getattr(module, name, None) for name in ("v_proj", "o_proj")]
        if not all(isinstance(p, torch.nn.Linear) for p in projections):
            raise AssertionError(f"{built} must have nn.Linear submodules named v_proj and o_proj")
        with torch.no_grad():  # the first position's only key is itself: weight 1 on its own value
            first = projections[1](projections[0](x[:, :1]))
        err = _err(out[:, :1], first)
        if not err <= _tol(x, terms=16):
            kit.fail(call, "position 0 may attend only to itself (j <= i includes j == i), so its output must be "
                        "o_proj(v_proj(x[:, 0]))", expected=first, got=out[:, :1])

    _run(prop, MultiHeadSelfAttention, "MultiHeadSelfAttention")


@_check("MultiHeadSelfAttention")
def bidirectional_module_is_permutation_equivariant(MultiHeadSelfAttention):
    """causal=False: reordering the tokens reorders the outputs the same way"""

    @_SETTINGS
    @given(_module_case(), st.randoms(use_true_random=False))
    def prop(case, rng):
        d, n_heads, x = case
        torch.manual_seed(0)
        module, built = _build(MultiHeadSelfAttention, d, n_heads, causal=False)
        order = list(range(x.shape[-2]))
        rng.shuffle(order)
        perm = torch.tensor(order)
        out, call = _forward(module, built, x)
        out_p, call_p = _forward(module, built, x[:, perm])
        err = _err(out_p, out[:, perm])
        if not err <= _tol(x, terms=16):
            raise AssertionError(
                f"without a causal mask (and without positional encodings) self-attention has no notion of "
                f"order: permuting the tokens must permute the outputs the same way (off by {err:.3g}):\n"
                f"  {call}\n    out = {kit.show(out)}\n  {call_p}\n    out = {kit.show(out_p)}")

    _run(prop, MultiHeadSelfAttention, "MultiHeadSelfAttention")


@_check("MultiHeadSelfAttention")
def padding_is_invisible(MultiHeadSelfAttention):
    """with a key_padding_mask, changing the padding tokens never changes a real token's output"""

    @_SETTINGS
    @given(_module_case(), st.booleans(), st.data())
    def prop(case, causal, data):
        d, n_heads, x = case
        torch.manual_seed(0)
        module, built = _build(MultiHeadSelfAttention, d, n_heads, causal=causal)
        b, t_len = x.shape[:2]
        lengths = torch.tensor(data.draw(st.lists(st.integers(0, t_len), min_size=b, max_size=b), label="lengths"))
        real = torch.arange(t_len) < lengths[:, None]  # [B, T], True = real token
        changed = torch.where(real[..., None], x, data.draw(_from_seed(x.shape, x.dtype, 2.0), label="new padding"))
        out, call = _forward(module, built, x, real)
        out2, call2 = _forward(module, built, changed, real)
        err = _err(out[real], out2[real])
        if not err <= _tol(x, terms=16):
            raise AssertionError(
                f"no query may attend to a padding token (key_padding_mask False), so changing the padding "
                f"must not change the real tokens' outputs, but they changed by {err:.3g}:\n"
                f"  {call}\n    out = {kit.show(out)}\n  {call2}\n    out = {kit.show(out2)}")
        if not torch.isfinite(out).all():
            kit.fail(call, "non-finite output: a query with no key left must get a zero attention output, not NaN",
                  got=out)

    _run(prop, MultiHeadSelfAttention, "MultiHeadSelfAttention")


@_check("MultiHeadSelfAttention")
def module_rejects_invalid_arguments(MultiHeadSelfAttention):
    """raises ValueError when d_model is not divisible by n_heads, and for a key_padding_mask that is not bool [B, T]"""
    kit.expect_value_error(MultiHeadSelfAttention, "MultiHeadSelfAttention", [
        ((6, 4), {}, "d_model=6 is not divisible by n_heads=4"),
        ((6, 5), {}, "d_model=6 is not divisible by n_heads=5"),
        ((6, 0), {}, "n_heads must be an int >= 1"),
    ])
    module, built = _build(MultiHeadSelfAttention, 4, 2)
    x = torch.zeros(2, 3, 4)
    kit.expect_value_error(module, f"{built}.forward", [
        ((x,), {"key_padding_mask": torch.ones(2, 4, dtype=torch.bool)}, "key_padding_mask must have shape x.shape[:-1] = (2, 3)"),
        ((x,), {"key_padding_mask": torch.ones(3, dtype=torch.bool)}, "key_padding_mask must have shape x.shape[:-1] = (2, 3)"),
        ((x,), {"key_padding_mask": torch.ones(2, 3)}, "key_padding_mask must be a torch.bool tensor"),
        ((torch.zeros(2, 3, 5),), {}, "x must have d_model = 4 features"),
    ])
