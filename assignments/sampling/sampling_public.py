"""Public checks for the `sampling` unit: what `grader.check("<question>")` runs.

You may read this file: it contains no reference solution. Every check tests a property that
any correct implementation has (filtered logits are -inf, rows of probabilities sum to 1, a
sampler's frequencies approach its probabilities) or a worked example whose answer is printed
in the notebook. The grader also compares your functions with a reference on many more inputs,
and tests your sampler's distribution on many more samples.

Each check is a plain function that takes your function(s) as keyword arguments, named like
the functions in the notebook, and raises AssertionError with the failing input when the
property does not hold. Random inputs are drawn by hypothesis with a fixed seed. The first line
of each docstring is the check's display name.

This module needs only torch, numpy, hypothesis and the provided sampling_model.py.
"""

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

import _public_kit as kit  # assignments/_public_kit.py, shipped beside this module

CHECKS, _check = kit.registry()
_SETTINGS = kit.hypothesis_settings(max_examples=25)
INF = float("inf")

_PROBES = {
    "apply_temperature": lambda f: f(torch.zeros(1, 2), 1.0),
    "top_k_filter": lambda f: f(torch.zeros(1, 2), 1),
    "top_p_filter": lambda f: f(torch.zeros(1, 2), 0.5),
    "sampling_probs": lambda f: f(torch.zeros(1, 2)),
    "sample": lambda f: f(torch.zeros(1, 2)),
}


def _run(prop, fn, name):
    kit.run(prop, fn, name, _PROBES[name])


@st.composite
def _logits(draw, integers=False):
    """[B, V] float32 logits, B in 1..3, V in 1..6 (integers: small integers, with ties)."""
    b, v = draw(st.integers(1, 3)), draw(st.integers(1, 6))
    element = st.integers(-3, 3).map(float) if integers else st.floats(-5, 5, width=32)
    return torch.tensor(draw(st.lists(st.lists(element, min_size=v, max_size=v), min_size=b, max_size=b)))


# ----------------------------------------------------------------------------- temperature


@_check("apply_temperature")
def temperature_worked_examples(apply_temperature):
    """matches the worked examples, and leaves its input unchanged"""
    x = torch.tensor([[2.0, -1.0, 0.5]])
    out, call = kit.call(apply_temperature, "apply_temperature", x, 0.5, shape=x.shape)
    if kit.max_diff(out, torch.tensor([[4.0, -2.0, 1.0]])) > 1e-6:
        kit.fail(call, "is not logits / temperature", got=out, expected=torch.tensor([[4.0, -2.0, 1.0]]))
    kit.leaves_unchanged(apply_temperature, "apply_temperature", [x.clone(), 2.0], {}, "divide out of place")
    kit.expect_value_error(apply_temperature, "apply_temperature", [((x, 0.0), {}, "temperature must be > 0")])


# ----------------------------------------------------------------------------- top-k


@_check("top_k_filter")
def top_k_keeps_k(top_k_filter):
    """keeps exactly min(k, V) logits per row unchanged, the others -inf, the kept ones the largest"""

    @_SETTINGS
    @given(_logits(integers=True), st.integers(1, 7))
    def prop(x, k):
        out, call = kit.call(top_k_filter, "top_k_filter", x, k, shape=x.shape)
        kept = out != -INF
        if not (kept.sum(-1) == min(k, x.shape[-1])).all():
            kit.fail(call, f"must keep exactly min(k, V) = {min(k, x.shape[-1])} logits per row (ties: the lower "
                     "index first)", got=out)
        if not torch.equal(out[kept], x[kept]):
            kit.fail(call, "kept logits must be unchanged", got=out)
        dropped_max = x.masked_fill(kept, -INF).amax(-1)
        kept_min = x.masked_fill(~kept, INF).amin(-1)
        if (dropped_max > kept_min).any():
            kit.fail(call, "a dropped logit is larger than a kept one", got=out)

    _run(prop, top_k_filter, "top_k_filter")


@_check("top_k_filter")
def top_k_worked_example(top_k_filter):
    """the worked example with ties: top_k_filter([[1, 3, 1, 3, 0, 1]], 3) keeps 3, 3 and the FIRST 1"""
    x = torch.tensor([[1.0, 3.0, 1.0, 3.0, 0.0, 1.0]])
    out, call = kit.call(top_k_filter, "top_k_filter", x, 3, shape=x.shape)
    expected = torch.tensor([[1.0, 3.0, -INF, 3.0, -INF, -INF]])
    if not torch.equal(out, expected):
        kit.fail(call, "does not match the worked example", got=out, expected=expected)
    kit.leaves_unchanged(top_k_filter, "top_k_filter", [x.clone(), 2], {}, "use masked_fill, not masked_fill_")


# ----------------------------------------------------------------------------- top-p


@_check("top_p_filter")
def top_p_worked_example(top_p_filter):
    """the worked example: probabilities [0.5, 0.3, 0.15, 0.05], p = 0.7 keeps the first two"""
    x = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    out, call = kit.call(top_p_filter, "top_p_filter", x, 0.7, shape=x.shape)
    expected = torch.cat([x[:, :2], torch.full((1, 2), -INF)], dim=1)
    if not torch.equal(out, expected):
        kit.fail(call, "the token whose probability crosses p is kept, the rest dropped", got=out, expected=expected)
    kit.leaves_unchanged(top_p_filter, "top_p_filter", [x.clone(), 0.5], {}, "use masked_fill, not masked_fill_")


@_check("top_p_filter")
def top_p_nucleus_mass(top_p_filter):
    """the kept tokens hold at least p of the probability, and the most probable token is kept"""

    @_SETTINGS
    @given(_logits(), st.sampled_from([0.3, 0.5, 0.9, 1.0]))
    def prop(x, p):
        out, call = kit.call(top_p_filter, "top_p_filter", x, p, shape=x.shape)
        kept = out != -INF
        mass = (torch.softmax(x.double(), -1) * kept).sum(-1)
        if (mass < p - 1e-4).any():
            kit.fail(call, f"the kept tokens hold less than p = {p} of the probability", got=out)
        top = x.argmax(-1, keepdim=True)
        if not kept.gather(-1, top).all():
            kit.fail(call, "the most probable token must be kept", got=out)

    _run(prop, top_p_filter, "top_p_filter")


# ----------------------------------------------------------------------------- the distribution


@_check("sampling_probs")
def probs_sum_to_one(sampling_probs):
    """with top_k, top_p or both, rows sum to 1 after filtering (renormalised), filtered tokens get exactly 0"""

    @_SETTINGS
    @given(_logits(), st.none() | st.integers(1, 4), st.none() | st.sampled_from([0.3, 0.5, 0.9]),
           st.sampled_from([0.5, 1.0, 2.0]))
    def prop(x, k, p, t):
        out, call = kit.call(sampling_probs, "sampling_probs", x, temperature=t, top_k=k, top_p=p, shape=x.shape)
        if (out.sum(-1) - 1).abs().max() > 1e-5:
            kit.fail(call, "each row must sum to 1 (softmax over the kept tokens, after top-k and top-p "
                     "filtering: not the probabilities of all tokens with the dropped ones set to 0)", got=out)
        if k is not None and ((out > 0).sum(-1) > k).any():
            kit.fail(call, f"more than top_k = {k} tokens have a nonzero probability", got=out)

    _run(prop, sampling_probs, "sampling_probs")


@_check("sampling_probs")
def probs_top_p_example(sampling_probs):
    """the worked example: probabilities [0.5, 0.3, 0.15, 0.05] with top_p = 0.7 give [0.625, 0.375, 0, 0]"""
    x = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    out, call = kit.call(sampling_probs, "sampling_probs", x, top_p=0.7, shape=x.shape)
    expected = torch.tensor([[0.625, 0.375, 0.0, 0.0]])
    if kit.max_diff(out, expected) > 1e-5:
        kit.fail(call, "the two kept tokens are renormalised to sum to 1, the dropped ones get 0", got=out,
                 expected=expected)


@_check("sampling_probs")
def probs_temperature_example(sampling_probs):
    """the worked example: logits [0, log 2] at temperature 0.5 give [0.2, 0.8]"""
    x = torch.tensor([[0.0, math.log(2.0)]])
    out, call = kit.call(sampling_probs, "sampling_probs", x, temperature=0.5, shape=x.shape)
    if kit.max_diff(out, torch.tensor([[0.2, 0.8]])) > 1e-5:
        kit.fail(call, "is not softmax(logits / temperature)", got=out, expected=torch.tensor([[0.2, 0.8]]))


# ----------------------------------------------------------------------------- the sampler


@_check("sample")
def sample_frequencies(sample):
    """returns [B, 1] int64 tokens; 4000 draws of probabilities [0.2, 0.8] land near 20% / 80%;
    a filtered token is never drawn; the same generator seed gives the same tokens"""
    x = torch.tensor([[0.0, math.log(4.0), -INF]]).expand(4000, 3).clone()
    out, call = kit.call(sample, "sample", x, generator=torch.Generator().manual_seed(0), shape=(4000, 1))
    if out.dtype != torch.int64:
        kit.fail(call, f"must return int64 tokens, got {out.dtype}")
    if ((out < 0) | (out > 2)).any() or (out == 2).any():
        kit.fail(call, "drew a token outside the vocabulary or one of probability 0 (logit -inf)")
    share = (out == 1).double().mean().item()
    if abs(share - 0.8) > 0.04:  # about 6 standard deviations
        raise AssertionError(f"{call}: token 1 has probability 0.8 but was drawn {share:.1%} of the time")
    again, _ = kit.call(sample, "sample", x, generator=torch.Generator().manual_seed(0))
    if not torch.equal(out, again):
        raise AssertionError(f"{call}: the same generator seed gave different tokens: draw every random "
                             "number from `generator`")


@_check("sample")
def sample_passes_its_settings_on(sample):
    """the settings reach the distribution: at temperature 0.5, logits [0, log 2] are drawn about
    20% / 80% (the worked example of sampling_probs); with top_k=1 or top_p=0.5 only the most
    probable token is drawn"""
    x = torch.tensor([[0.0, math.log(2.0), -INF]]).expand(4000, 3).clone()
    out, call = kit.call(sample, "sample", x, temperature=0.5, generator=torch.Generator().manual_seed(1),
                         shape=(4000, 1))
    share = (out == 1).double().mean().item()
    if abs(share - 0.8) > 0.04:  # about 6 standard deviations; at temperature 1 it would be 2/3
        raise AssertionError(f"{call}: at temperature 0.5 token 1 has probability 0.8 but was drawn {share:.1%} "
                             "of the time: pass temperature (and top_k, top_p) on to sampling_probs")
    y = torch.tensor([[0.0, math.log(4.0), math.log(2.0)]]).expand(200, 3).clone()
    for setting in ({"top_k": 1}, {"top_p": 0.5}):
        out, call = kit.call(sample, "sample", y, generator=torch.Generator().manual_seed(2), shape=(200, 1),
                             **setting)
        if not (out == 1).all():
            kit.fail(call, "only token 1 (probability 4/7) is kept, but another token was drawn: pass "
                     f"{', '.join(setting)} on to sampling_probs", got=out.flatten().unique())


# ----------------------------------------------------------------------------- the key/value cache


def _model_module():
    return kit.provided_module("sampling_model", __file__)


def _small_model(seed=0):
    torch.manual_seed(seed)
    return _model_module().GPT(vocab_size=7, n_ctx=8, d_model=6, n_heads=3, n_layers=2).eval()


@_check("forward_cached")
def cached_logits_equal_the_full_forward(forward_cached):
    """token by token with the cache, the logits equal model(whole sequence), and the cache grows
    along the time axis, [B, n_heads, T, d_head]"""
    kit.require(forward_cached, "forward_cached")
    model = _small_model()
    idx = torch.tensor([[1, 4, 2, 6, 0, 3], [5, 5, 1, 0, 2, 4]])
    with torch.no_grad():
        full = model(idx)
        cache, steps = None, []
        for t in range(idx.shape[1]):
            out, call = kit.call(forward_cached, "forward_cached", model, idx[:, t:t + 1], cache, clone=False)
            if not (isinstance(out, tuple) and len(out) == 2):
                kit.fail(call, "must return a tuple (logits, new_cache)")
            logits, cache = out
            kit.expect_tensor(logits, call, (2, 1, 7), what="returned logits of")
            shape = tuple(cache[0][0].shape) if cache and isinstance(cache[0][0], torch.Tensor) else None
            if shape != (2, 3, t + 1, 2):
                raise AssertionError(f"{call}: after {t + 1} tokens the keys of block 0 must have shape "
                                     f"[B, n_heads, T, d_head] = (2, 3, {t + 1}, 2), got {shape}")
            steps.append(logits)
    err = kit.max_diff(torch.cat(steps, dim=1), full)
    if err > 1e-4:
        raise AssertionError(f"feeding the 6 tokens one at a time with the cache gives logits that differ from "
                             f"model(idx) by {err:.3g}: positions continue after the cached tokens, and keys "
                             "and values are appended along dim 2")


@_check("forward_cached")
def cache_passed_in_is_unchanged(forward_cached):
    """the cache passed in is left as it was (same length, same tensors, same values) and a new list is returned"""
    kit.require(forward_cached, "forward_cached")
    model = _small_model()
    idx = torch.tensor([[1, 4, 2, 6], [5, 5, 1, 0]])
    with torch.no_grad():
        out, call = kit.call(forward_cached, "forward_cached", model, idx[:, :3], None, clone=False)
        if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], list) and out[1]):
            kit.fail(call, "must return a tuple (logits, new_cache), new_cache a list of (k, v) per block")
        cache = out[1]
        kept = list(cache)
        before = [(k.clone(), v.clone()) for k, v in cache]
        out, call = kit.call(forward_cached, "forward_cached", model, idx[:, 3:], cache, clone=False)
    if not (isinstance(out, tuple) and len(out) == 2):
        kit.fail(call, "must return a tuple (logits, new_cache)")
    unchanged = len(cache) == len(kept) and all(a is b for a, b in zip(cache, kept)) and all(
        torch.equal(k, k0) and torch.equal(v, v0) for (k, v), (k0, v0) in zip(cache, before))
    if not unchanged or out[1] is cache:
        raise AssertionError(f"forward_cached(model, idx[:, 3:], cache) changed the cache it was given (a caller "
                             "may keep it, e.g. to try several next tokens from the same prefix): build and "
                             "return a new list, and torch.cat the old keys and values with the new ones")
