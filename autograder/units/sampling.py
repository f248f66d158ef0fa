"""Unit `sampling`: from logits to a sampled token (temperature, top-k, top-p, the sampler).

The deterministic pieces (temperature, the two filters, the sampling distribution) are
compared with solutions/sampling.py on hypothesis-drawn logits; filtered logits must be -inf
exactly where the reference's are. The sampler is graded by a distribution check
(autograder/distribution.py): one call per case draws SAMPLES tokens per row, in the sandbox,
with a seeded generator; their counts must pass an exact test against the reference's
probabilities, which fails a correct sampler with probability at most 1e-6 per check. A
second call with the generator seeded differently must give other samples (a sampler that
ignores `generator=` fails).
"""

import functools

import numpy as np
import torch
from hypothesis import strategies as st

from ..compare import Close, Exact
from ..distribution import ALPHA, Follow, distribution_check, matches
from ..spec import Call, Check, Example, Hint, Model, Question, Unit, refusals
from . import public_checks

public = public_checks("sampling")  # assignments/sampling/sampling_public.py

# Samples per row group in one call of `sample`; with ALPHA this fixes each check's power
# (docs/units/sampling.md states it, tests/test_distribution.py measures it).
SAMPLES = 20000
# The power of the sampler's check, computed exactly by distribution.check_power (and measured by
# tests/test_distribution.py): a sampler whose probability of any one token is off by this much
# or more, in any case, fails with probability >= 0.99.
SAMPLE_DETECTS = 0.03


# ----------------------------------------------------------------------------- inputs


def _values(shape, seed, dtype, bound, step):
    """Fixed pseudo-random logits in [-bound, bound] on a grid of `step` (ties when coarse)."""
    g = torch.Generator().manual_seed(seed)
    values = ((torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) * bound / step).round() * step
    return (values + 0.0).to(dtype)


@st.composite
def logits_calls(draw, coarse=False):
    """logits [..., V]: 0-2 batch dims, V in 1..8, float32 or float64; coarse: integer logits in
    [-3, 3], so that rows have ties."""
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    shape = tuple(draw(st.lists(st.integers(1, 3), max_size=2))) + (draw(st.integers(1, 8)),)
    step, bound = (1.0, 3.0) if coarse else (0.125, 6.0)
    return _values(shape, draw(st.integers(0, 2**32 - 1)), dtype, bound, step)


@st.composite
def temperature_calls(draw):
    return Call((draw(logits_calls()), draw(st.sampled_from([0.5, 1.0, 2.0, 0.7, 1.5]))),
                names=("logits", "temperature"))


@st.composite
def top_k_calls(draw):
    x = draw(logits_calls(coarse=draw(st.booleans())))
    return Call((x, draw(st.integers(1, x.shape[-1] + 1))), names=("logits", "k"))


def _clear_of(logits, p, margin=1e-4):
    """Whether no running sum of a row's sorted probabilities is within `margin` of p (where
    float rounding of a correct implementation could decide the other way)."""
    probs = torch.softmax(logits.double(), -1).sort(-1, descending=True).values
    return bool(((probs.cumsum(-1) - p).abs() > margin).all())


@st.composite
def top_p_calls(draw):
    x = draw(logits_calls(coarse=draw(st.booleans())))
    p = draw(st.sampled_from([0.5, 0.9, 0.3, 0.75, 0.95, 1.0]))
    if p < 1.0 and not _clear_of(x, p):
        p = draw(st.sampled_from([0.42, 0.61, 0.83]))
        if not _clear_of(x, p):
            p = 1.0
    return Call((x, p), names=("logits", "p"))


@st.composite
def probs_calls(draw):
    x = draw(logits_calls(coarse=draw(st.booleans())))
    kwargs = {"temperature": draw(st.sampled_from([0.5, 1.0, 2.0]))}
    if draw(st.booleans()):
        kwargs["top_k"] = draw(st.integers(1, x.shape[-1]))
    if draw(st.booleans()):
        p = draw(st.sampled_from([0.5, 0.9, 0.8]))
        from .. import units
        ref = units.reference("sampling")
        filtered = ref.apply_temperature(x, kwargs["temperature"])
        if "top_k" in kwargs:
            filtered = ref.top_k_filter(filtered, kwargs["top_k"])
        if _clear_of(filtered, p):
            kwargs["top_p"] = p
    return Call((x,), kwargs, names=("logits",))


# ----------------------------------------------------------------------------- explicit examples

ROW = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, 1.0]])
TIES = torch.tensor([[1.0, 3.0, 1.0, 3.0, 0.0, 1.0]])
TEMPERATURE_HALF = Call((ROW, 0.5), names=("logits", "temperature"))
TOP_K_TIES = Call((TIES, 3), names=("logits", "k"))  # the 3rd place is a tie of three 1.0s
TOP_K_TIE_AT_K = Call((TIES, 2), names=("logits", "k"))
TOP_K_PLAIN = Call((torch.tensor([[0.5, 2.0, -1.0, 1.5, 0.0]]), 2), names=("logits", "k"))
# softmax of log([0.5, 0.3, 0.15, 0.05]): the running sum crosses 0.7 at the second token
NUCLEUS = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
TOP_P_CROSSING = Call((NUCLEUS, 0.7), names=("logits", "p"))
TOP_P_FIRST = Call((NUCLEUS, 0.4), names=("logits", "p"))
PROBS_ALL = Call((ROW,), {"temperature": 0.5, "top_k": 4, "top_p": 0.9}, names=("logits",))
PROBS_TOP_P = Call((NUCLEUS,), {"top_p": 0.7}, names=("logits",))
PROBS_TEMPERATURE = Call((ROW,), {"temperature": 2.0}, names=("logits",))


# ----------------------------------------------------------------------------- the sampler


def _repeated(row, n=SAMPLES):
    return row.expand(n, row.shape[-1]).clone()


def _sample_case(row, seed, **kwargs):
    return Call((_repeated(torch.tensor([row])),), dict(kwargs, generator=torch.Generator().manual_seed(seed)),
                names=("logits",))


SAMPLE_PLAIN = _sample_case([2.0, 1.0, 0.5, 0.0, -1.0, 1.0], 11)
SAMPLE_TEMPERATURE = _sample_case([2.0, 1.0, 0.5, 0.0, -1.0, 1.0], 12, temperature=2.0)
SAMPLE_FILTERED = _sample_case([2.0, 1.0, 0.5, 0.0, -1.0, 1.0], 13, temperature=0.7, top_k=4, top_p=0.9)


@functools.lru_cache(maxsize=None)
def _reference():
    from . import reference

    return reference("sampling")


def _first_row(call):
    return call.args[0][:1].double()


def _settings(call):
    return {k: v for k, v in call.kwargs.items() if k != "generator"}


def sample_distribution(call):
    """[1, V]: the reference's sampling_probs of the case's row, in float64."""
    return _reference().sampling_probs(_first_row(call), **_settings(call)).numpy()


def sample_outcomes(call, got):
    """[1, n] tokens from sample's [n, 1] answer, or why it is not that."""
    n = call.args[0].shape[0]
    if not isinstance(got, torch.Tensor) or got.dtype != torch.int64 or tuple(got.shape) != (n, 1):
        kind = f"{tuple(got.shape)} {got.dtype}" if isinstance(got, torch.Tensor) else type(got).__name__
        return f"`sample` must return an int64 tensor of shape [B, 1] = [{n}, 1], got {kind}"
    return got.reshape(1, n).numpy()


def _buggy(**bug):
    """The distribution of a classic sampler bug, for a diagnosis."""
    def distribution(call):
        x, settings = _first_row(call), _settings(call)
        t = settings.get("temperature", 1.0)
        if bug.get("temperature_ignored"):
            settings["temperature"] = 1.0
        if bug.get("from_logits"):  # the filtered logits used as weights (negatives clipped)
            ref = _reference()
            x = ref.apply_temperature(x, t)
            weights = torch.nan_to_num(x, neginf=0.0).clamp_min(0)
            return (weights / weights.sum()).numpy()
        return _reference().sampling_probs(x, **settings).numpy()
    return distribution


def _hints():
    from ..spec import Hint

    return (
        Hint(matches(_buggy(temperature_ignored=True)), "your samples follow softmax(logits) without the "
             "temperature: divide the LOGITS by the temperature before the softmax"),
        Hint(matches(_buggy(from_logits=True)), "your samples follow the logits used as weights: sample from "
             "the probabilities, softmax(filtered logits / temperature)"),
    )


# ----------------------------------------------------------------------------- the key/value cache

MODEL_MODULE = "sampling_model"
CACHE_NAMES = ("model", "idx", "cache")


def _built(model: Model):
    """The provided GPT of a `Model`, built as the grader builds it (seeded, eval mode)."""
    from . import provided_module

    with torch.random.fork_rng():
        torch.manual_seed(model.seed)
        return getattr(provided_module("sampling", model.module), model.factory)(**dict(model.kwargs)).eval()


def _cache_call(model: Model, tokens: torch.Tensor, past: int) -> Call:
    """forward_cached(model, tokens[:, past:], cache of tokens[:, :past]) (cache None if past = 0)."""
    cache = None
    if past:
        with torch.no_grad():
            cache = _reference().forward_cached(_built(model), tokens[:, :past])[1]
    return Call((model, tokens[:, past:], cache), names=CACHE_NAMES)


@st.composite
def cache_calls(draw, cached=True):
    """A provided GPT (1-3 layers, 1-3 heads) with seeded weights, T_past cached tokens (0 when
    not `cached`) and 1.. new ones, T_past + T_new <= n_ctx."""
    n_heads = draw(st.sampled_from([2, 1, 3]))
    sizes = dict(vocab_size=draw(st.integers(2, 9)), n_ctx=draw(st.integers(2, 8)),
                 d_model=n_heads * draw(st.integers(1, 3)), n_heads=n_heads, n_layers=draw(st.integers(1, 3)))
    model = Model(MODEL_MODULE, "GPT", tuple(sizes.items()), seed=draw(st.integers(1, 2**16)))
    past = draw(st.integers(1, sizes["n_ctx"] - 1)) if cached else 0
    total = past + draw(st.integers(1, sizes["n_ctx"] - past))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    tokens = torch.randint(sizes["vocab_size"], (draw(st.integers(1, 2)), total), generator=g)
    return _cache_call(model, tokens, past)


def _logits_with_positions_from_zero(call):
    """The new tokens' logits when their positions restart at 0 (a classic cache bug): the
    reference on a model whose positional table reads row i at position T_past + i."""
    model, idx, cache = call.args
    built = _built(model)
    past, new = cache[0][0].shape[2], idx.shape[1]
    with torch.no_grad():
        built.pos_emb.weight[past:past + new] = built.pos_emb.weight[:new].clone()
        return _reference().forward_cached(built, idx, cache)[0]


def _positions_restarted(call, expected, got):
    if not (isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[0], torch.Tensor)):
        return False
    if call.args[2] is None:
        return False
    buggy = _logits_with_positions_from_zero(call)
    return got[0].shape == buggy.shape and bool(torch.allclose(got[0].double(), buggy.double(), atol=1e-4, rtol=1e-4))


MODEL_SMALL = Model(MODEL_MODULE, "GPT", (("vocab_size", 7), ("n_ctx", 8), ("d_model", 6), ("n_heads", 3),
                                          ("n_layers", 2)), seed=5)
TOKENS = torch.tensor([[1, 4, 2, 6, 0, 3], [5, 5, 1, 0, 2, 4]])
CACHE_PREFILL = _cache_call(MODEL_SMALL, TOKENS[:, :4], 0)
CACHE_STEP = _cache_call(MODEL_SMALL, TOKENS[:, :5], 4)
CACHE_TWO_NEW = _cache_call(MODEL_SMALL, TOKENS, 4)
CACHE_HINTS = (Hint(_positions_restarted, "your logits match the new tokens at positions 0, 1, ...: they sit "
                    "after the cached ones, at positions T_past ... T_past + T_new - 1 (pos_emb(torch.arange("
                    "T_past, T_past + T_new)))"),)


# ----------------------------------------------------------------------------- questions

temperature_q = Question(
    "apply_temperature", functions=("apply_temperature",),
    checks=(
        Check("matches the reference: logits / temperature", "apply_temperature", temperature_calls(),
              points=1, max_examples=10, examples=(Example(TEMPERATURE_HALF, "divide the logits by the "
                                                            "temperature; never change them in place"),)),
        refusals("apply_temperature",
                 Example(Call((ROW, 0.0), names=("logits", "temperature")), "temperature 0 raises ValueError"),
                 Example(Call((ROW, -1.0), names=("logits", "temperature")), "a negative temperature raises ValueError")),
    ))

top_k_q = Question(
    "top_k_filter", functions=("top_k_filter",),
    checks=(
        Check("keeps exactly the k largest logits (ties: lower index first), the rest -inf", "top_k_filter",
              top_k_calls(), points=2, max_examples=25, compare=Exact(),
              examples=(Example(TOP_K_PLAIN, "keep the k largest logits and set the others to -inf"),
                        Example(TOP_K_TIES, "exactly k tokens are kept: among equal logits the LOWER index wins "
                                "(a stable sort in descending order); `logits < kth_value` keeps every tie"),
                        Example(TOP_K_TIE_AT_K, "the k-th largest logit itself is kept: drop only the tokens "
                                "ranked after it"))),
        refusals("top_k_filter", Example(Call((ROW, 0), names=("logits", "k")), "k = 0 raises ValueError")),
    ))

top_p_q = Question(
    "top_p_filter", functions=("top_p_filter",),
    checks=(
        Check("keeps the smallest nucleus of mass >= p (the crossing token kept), the rest -inf", "top_p_filter",
              top_p_calls(), points=2, max_examples=25, compare=Exact(),
              examples=(Example(TOP_P_CROSSING, "keep the token whose probability makes the running sum reach "
                                "or cross p: drop a token only if the tokens ranked before it already sum to p"),
                        Example(TOP_P_FIRST, "the most probable token is always kept"))),
        refusals("top_p_filter", Example(Call((ROW, 0.0), names=("logits", "p")), "p = 0 raises ValueError"),
                 Example(Call((ROW, 1.5), names=("logits", "p")), "p > 1 raises ValueError")),
    ))

probs_q = Question(
    "sampling_probs", functions=("sampling_probs",),
    checks=(
        Check("matches the reference: temperature, top-k, top-p, then softmax (rows sum to 1)", "sampling_probs",
              probs_calls(), points=2, max_examples=20, compare=Close(rtol=1e-5, atol=1e-6),
              examples=(Example(PROBS_TEMPERATURE, "divide the logits by the temperature BEFORE the softmax"),
                        Example(PROBS_TOP_P, "renormalise: softmax over the kept tokens, so each row sums to 1"),
                        Example(PROBS_ALL, "temperature first, then top_k_filter, then top_p_filter on the "
                                "result, then the softmax"))),
    ))

sample_q = Question(
    "sample", functions=("sample",),
    checks=(
        distribution_check(
            f"{SAMPLES} samples per case follow the reference's distribution (exact test, a correct sampler "
            f"fails with probability <= {ALPHA:g}); another generator seed gives other samples", "sample",
            (Example(SAMPLE_PLAIN, "sample from softmax(logits): torch.multinomial(probs, 1, generator=generator)"),
             Example(SAMPLE_TEMPERATURE, "divide the LOGITS by the temperature before the softmax"),
             Example(SAMPLE_FILTERED, "sample from sampling_probs(logits, temperature, top_k, top_p): filtered "
                     "tokens must never be drawn")),
            sample_distribution, sample_outcomes, points=3, hints=_hints(),
            follow=Follow("sampling_probs", lambda call: Call((_first_row(call),), _settings(call),
                                                              names=("logits",)),
                          lambda call, got: got.double().numpy())),
    ))

CACHE_COMPARE = Close(rtol=1e-4, atol=1e-5)
cache_q = Question(
    "forward_cached", functions=("forward_cached",),
    checks=(
        Check("no cache: the logits equal model(idx), and the cache holds every position's keys and values",
              "forward_cached", cache_calls(cached=False), points=1, max_examples=6, compare=CACHE_COMPARE,
              examples=(Example(CACHE_PREFILL, "with cache=None run the whole idx; return the keys and values "
                                "of every block as [(k, v), ...], each [B, n_heads, T, d_head]"),)),
        Check("with a cache: the new tokens' logits equal model(whole sequence)[:, -T_new:], the cache grows "
              "along the time axis", "forward_cached", cache_calls(), points=2, max_examples=8,
              compare=CACHE_COMPARE, hints=CACHE_HINTS,
              examples=(Example(CACHE_STEP, "append the new keys and values after the cached ones along the "
                                "time axis (torch.cat(..., dim=2)); the new tokens' positions continue after "
                                "the cached ones"),
                        Example(CACHE_TWO_NEW, "two new tokens: the first must not attend to the second"))),
        refusals("forward_cached",
                 Example(_cache_call(MODEL_SMALL, torch.zeros(1, 9, dtype=torch.int64), 0),
                         "9 new tokens exceed n_ctx = 8: raise ValueError"),
                 Example(_cache_call(MODEL_SMALL, torch.zeros(1, 9, dtype=torch.int64), 5),
                         "5 cached + 4 new tokens exceed n_ctx = 8: raise ValueError")),
    ))

UNIT = Unit(
    name="sampling",
    questions=(temperature_q, top_k_q, top_p_q, probs_q, sample_q, cache_q),
    provided=("sampling_model.py",),
    banned=(),
    mutation_floor=0.95,  # make audit: 100% (29 killed, 0 survived, 1 probably equivalent)
)
