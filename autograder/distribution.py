"""Graded randomness: a *distribution check* tests a student's sampler by the samples it draws.

A sampler is right when its samples follow the reference's distribution, whichever way it
draws them (inverse CDF, torch.multinomial, Gumbel-max): comparing tokens one for one would
fail every correct sampler but the reference's own. So a `DistributionCheck` asks the student's
function, in the sandbox, for many samples in ONE batched call (each case repeats the same
logits or prompt along the batch), counts them per category, and tests the counts against the
exact probabilities, which the trusted process computes from the reference. A check whose
function runs a model (gpt's `generate`) sets `rows_per_call`: the worker then asks for that
many rows of the batch at a time, with the same arguments and the same seeded generator read
on from call to call, and joins the answers. For a correct sampler the samples are as
independent as in one call, so the test and its false-failure bound below are unchanged; the
model's activations are held for a few thousand samples at a time instead of all of them.

The test, and why its false-failure rate is what the spec states
------------------------------------------------------------------
Each category (a token of a row group) with reference probability 0 < p < 1 gets an exact
two-sided binomial test: with n samples and k of them in the category, its p-value is
2 * min(P[X <= k], P[X >= k]) for X ~ Binomial(n, p), computed exactly (log-space pmf, no
normal or chi-square approximation, so no rule of thumb about small expected counts). Over
the m such categories of a check (all its cases), the check fails when the smallest p-value is
at most alpha / m (Bonferroni). For a correct sampler each category's test rejects with
probability at most alpha / m whatever the others do, so the check fails with probability at
most `alpha` (1e-6 by default): the bound is exact, not asymptotic, and holds for dependent
categories. A sample in a category of probability 0 (a filtered token) fails at once: a correct
sampler never draws one. The grading seed is fixed (the generator passed in each case, and the
worker's global seed), so a submission's grade never changes between runs; the false-failure
rate is the chance that a correct sampler is unlucky on those fixed seeds.

Power (`detectable_shift`): for each category the exact binomial rejection region is known, so
the smallest change d of its probability that the check detects with probability >= 0.99 is
computed exactly; the spec's docs state the worst d over a check's categories. A distribution at
total-variation distance TV from the reference moves some category of a group of K categories
by at least 2 TV / K, so any TV >= K d / 2 is detected with probability >= 0.99.

Whether the sampler uses the `generator` it is given: the same case is asked again with the
generator seeded differently; identical samples mean the generator was ignored (the worker
reseeds torch's global generator before every call). For a correct sampler the chance of
identical samples is prod over rows of sum_v p_v^2, which is checked to be below 1e-12 before
this is asked (a case whose distribution is nearly deterministic skips it).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from hypothesis import strategies as st

from .spec import Call, Check, Example, Unit
from .verdict import Kind, Verdict

ALPHA = 1e-6  # the default false-failure rate of one check
POWER = 0.99  # the detection probability the documented shifts are computed for
_SAME_SAMPLES_BOUND = 1e-12  # the largest chance of identical samples under two seeds we accept


# --------------------------------------------------------------------------- the statistics


@functools.lru_cache(maxsize=8)
def _log_choose(n: int) -> np.ndarray:
    """log C(n, k) for k = 0..n."""
    k = torch.arange(n + 1, dtype=torch.float64)
    return (math.lgamma(n + 1) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1)).numpy()


def _pmf(n: int, p: float) -> np.ndarray:
    k = np.arange(n + 1, dtype=np.float64)
    return np.exp(_log_choose(n) + k * math.log(p) + (n - k) * math.log1p(-p))


@functools.lru_cache(maxsize=512)
def _tails(n: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    """(P[X <= k], P[X >= k]) for k = 0..n, X ~ Binomial(n, p), 0 < p < 1, exact in float64."""
    pmf = _pmf(n, p)
    lower = np.cumsum(pmf)
    upper = np.cumsum(pmf[::-1])[::-1]
    return np.minimum(lower, 1.0), np.minimum(upper, 1.0)


def cell_p_values(counts: np.ndarray, probs: np.ndarray, n: int) -> np.ndarray:
    """Exact two-sided binomial p-values of `counts` [..., C] against `probs` [..., C] (n
    samples per group). A category of probability 0 gets 0 if it was drawn, 1 if not; one of
    probability 1 gets 1 if every sample is in it, else 0."""
    counts, probs = np.asarray(counts), np.asarray(probs, dtype=np.float64)
    out = np.ones(np.broadcast_shapes(counts.shape, probs.shape))
    counts, probs = np.broadcast_to(counts, out.shape), np.broadcast_to(probs, out.shape)
    for index in np.ndindex(probs.shape):
        p, k = float(probs[index]), int(counts[index])
        if p <= 0.0:
            out[index] = 0.0 if k > 0 else 1.0
        elif p >= 1.0:
            out[index] = 1.0 if k == n else 0.0
        else:
            lower, upper = _tails(n, p)
            out[index] = min(1.0, 2.0 * min(lower[k], upper[k]))
    return out


def tested_cells(probs: np.ndarray) -> int:
    """How many categories get a binomial test (0 < p < 1): the Bonferroni factor."""
    probs = np.asarray(probs)
    return int(((probs > 0) & (probs < 1)).sum())


def adjusted_p_value(counts: np.ndarray, probs: np.ndarray, n: int, cells: int | None = None) -> float:
    """The check's p-value: the smallest cell p-value times the number of tested cells
    (`cells`, when the check has more cases than these counts), at most 1."""
    cells = tested_cells(probs) if cells is None else cells
    smallest = float(cell_p_values(counts, probs, n).min())
    return min(1.0, smallest * max(cells, 1))


def detectable_shift(p: float, n: int, level: float, power: float = POWER) -> float:
    """The smallest d such that a category of probability `p`, truly of probability p + d or
    p - d (whichever is possible), is rejected at `level` (a cell's share of alpha) with
    probability >= `power`, n samples. Exact: the rejection region of p's test is known."""
    lower, upper = _tails(n, p)
    reject = 2.0 * np.minimum(lower, upper) <= level  # the counts k that fail the check

    def detected(q: float) -> bool:
        if q <= 0.0 or q >= 1.0:
            return True  # any sample in (or missing from) a certain category is caught
        return float(_pmf(n, q)[reject].sum()) >= power

    worst = 0.0
    for sign in (1.0, -1.0):
        lo, hi = 0.0, (1.0 - p) if sign > 0 else p
        for _ in range(24):  # bisection on the shift (to 1e-7 of the range)
            mid = (lo + hi) / 2
            if detected(p + sign * mid):
                hi = mid
            else:
                lo = mid
        worst = max(worst, hi)
    return worst


def check_power(probs: np.ndarray, n: int, alpha: float = ALPHA, cells: int | None = None,
                power: float = POWER) -> float:
    """The largest, over the tested categories of `probs` [G, C], of the smallest shift of that
    category's probability that the check detects with probability >= `power`."""
    probs = np.asarray(probs, dtype=np.float64)
    level = alpha / max(tested_cells(probs) if cells is None else cells, 1)
    shifts = [detectable_shift(round(float(p), 12), n, level, power)
              for p in probs.reshape(-1) if 0.0 < p < 1.0]
    return max(shifts, default=0.0)


@dataclass
class CountsTest:
    """What the exact tests found in the counts of one case."""

    passed: bool
    p_value: float
    impossible: list  # (group, category, count) drawn with probability 0
    off: list  # (group, category, expected share, observed share), most significant first


def judge_counts(counts: np.ndarray, probs: np.ndarray, n: int, level: float, cells: int) -> CountsTest:
    """Whether counts [G, C] pass at `level` (alpha of the check), Bonferroni over `cells`."""
    cell_p = cell_p_values(counts, probs, n)
    p_value = min(1.0, float(cell_p.min()) * max(cells, 1))
    impossible = [(int(g), int(c), int(counts[g, c])) for g, c in zip(*np.nonzero((probs <= 0) & (counts > 0)))]
    order = np.argsort(cell_p, axis=None, kind="stable")[:3]
    off = [(int(g), int(c), float(probs[g, c]), float(counts[g, c]) / n)
           for g, c in (np.unravel_index(i, cell_p.shape) for i in order)]
    return CountsTest(p_value > level and not impossible, p_value, impossible, off)


def counts_of(categories: np.ndarray, size: int) -> np.ndarray:
    """[G, n] category indices -> [G, size] counts."""
    return np.stack([np.bincount(row, minlength=size) for row in np.asarray(categories)])


# --------------------------------------------------------------------------- the check kind


@dataclass(frozen=True)
class Follow:
    """Follow-through for a distribution check: when the question of `function` lost points,
    a failing sampler is judged again against the probabilities the student's OWN `function`
    gives (asked in the worker on `call(case)`, turned into [G, C] by `probabilities`)."""

    function: str
    call: Callable[[Call], Call]
    probabilities: Callable[[Call, Any], np.ndarray]
    config_class: str = ""  # for a module `function` (e.g. "GPT"): its config class
    weights: Callable[[Any], None] | None = None  # as Check.weights, for that module


@dataclass(frozen=True)
class DistributionCheck(Check):
    """A hidden check of a sampler (see the module docstring). Each of `examples` is one case:
    one call of `function` that returns n samples per row group; `outcomes(call, got)` gives
    their categories [G, n] (or a message saying why `got` is malformed), `distribution(call)`
    the exact probabilities [G, C] from the reference. The check fails with probability at most
    `alpha` for a correct sampler."""

    distribution: Callable[[Call], np.ndarray] | None = None
    outcomes: Callable[[Call, Any], np.ndarray | str] | None = None
    alpha: float = ALPHA
    generator: str = "generator"  # the keyword argument reseeded to see that it is used; "" none
    follow: Follow | None = None
    # > 0: the worker asks the function for this many rows of the case's first argument at a
    # time, with the same keyword arguments (one seeded generator read on): the same
    # distribution as one call, without holding a model's activations for every sample at once
    rows_per_call: int = 0
    labels: Callable[[int, int], str] = lambda group, category: f"token {category}" + (
        f" of row group {group}" if group else "")


def distribution_check(name: str, function: str, cases: tuple[Example, ...], distribution, outcomes,
                       **fields: Any) -> DistributionCheck:
    return DistributionCheck(name, function, st.sampled_from([c.call for c in cases]), examples=cases,
                             max_examples=1, distribution=distribution, outcomes=outcomes, **fields)


# --------------------------------------------------------------------------- running it


def run(session, unit: Unit, question, check: DistributionCheck, reference):
    """The check's result for one submission (called by grade.run_check)."""
    from . import grade
    from .report import CheckResult

    cases = check.examples
    tested = [(ex, check.distribution(ex.call)) for ex in cases]
    cells = sum(tested_cells(probs) for _, probs in tested)
    message = ""
    for ex, probs in tested:
        got = _ask(session, unit, question, check, reference, ex.call)
        if isinstance(got, Verdict):
            return grade.failed(check, got)
        categories = _categories(check, ex.call, got, probs)
        if isinstance(categories, str):
            return grade.failed(check, _with_input(ex.call, Verdict.wrong(categories), ex.hint))
        n = categories.shape[-1]
        counts = counts_of(categories, probs.shape[-1])
        test = judge_counts(counts, probs, n, check.alpha, cells)
        if not test.passed:
            carried = _follow_through(session, unit, question, check, reference, ex.call, counts, n, cells)
            if carried is None:
                return grade.failed(check, _explain(check, ex, test, n, probs, counts))
            message = carried  # right, given the student's own (wrong) dependency
        if check.generator and check.generator in ex.call.kwargs and _same_samples_chance(probs, n) < _SAME_SAMPLES_BOUND:
            again = _ask(session, unit, question, check, reference, _reseeded(ex.call, check.generator))
            if isinstance(again, Verdict):
                return grade.failed(check, again)
            other = _categories(check, ex.call, again, probs)
            if not isinstance(other, str) and np.array_equal(other, categories):
                return grade.failed(check, _with_input(ex.call, Verdict.wrong(
                    f"`{check.function}` drew exactly the same samples with `{check.generator}` seeded "
                    "differently: it ignores the generator it is given"),
                    f"draw every random number from `{check.generator}` (e.g. torch.multinomial(probs, 1, "
                    f"generator={check.generator}) or torch.rand(..., generator={check.generator})), never from "
                    "torch's global generator"))
        if message:
            break
    return CheckResult(check.name, True, check.points, check.points, message, Kind.PASSED)


def _categories(check: DistributionCheck, call: Call, got: Any, probs: np.ndarray) -> np.ndarray | str:
    try:
        categories = check.outcomes(call, got)
    except Exception as exc:  # what the student returned cannot be read as samples
        return f"`{check.function}` returned something that is not samples ({type(exc).__name__}: {exc})"
    if isinstance(categories, str):
        return categories
    categories = np.asarray(categories)
    if categories.ndim != 2 or categories.shape[0] != probs.shape[0]:
        return f"`{check.function}` returned samples of the wrong shape"
    if categories.size and (categories.min() < 0 or categories.max() >= probs.shape[-1]):
        return f"`{check.function}` returned a token outside [0, {probs.shape[-1]})"
    return categories.astype(np.int64)


def _same_samples_chance(probs: np.ndarray, n: int) -> float:
    """The chance that a correct sampler draws the same n samples per group under two seeds."""
    log = float(np.sum(n * np.log(np.maximum((np.asarray(probs) ** 2).sum(-1), 1e-300))))
    return math.exp(max(log, -700.0))


def _reseeded(call: Call, name: str) -> Call:
    seed = call.kwargs[name].initial_seed()
    kwargs = dict(call.kwargs, **{name: torch.Generator().manual_seed((seed + 0x9E3779B9) % 2**63)})
    return dataclasses.replace(call, kwargs=kwargs)


def _ask(session, unit: Unit, question, check: Check, reference, call: Call):
    """The student's answer to `call` (decoded), or the `Verdict` on a reply that is none,
    read as every other check reads it (grade.read_reply)."""
    from . import grade
    from .compare import unchanged

    planned = grade.prepare(unit, check, reference, call, evaluate=False)  # judged by its distribution
    base = grade.request_base(unit, question, check)
    if getattr(check, "rows_per_call", 0):
        base["rows"] = check.rows_per_call
    blobs: list[bytes] = []
    header = grade.planned_request(base, planned, blobs)
    try:
        reply, out = session.call(header, blobs)
    except grade.Stop as stop:
        return stop.verdict
    answer = grade.read_reply(check, reply, out)
    if isinstance(answer, Verdict):
        return _with_input(call, answer, "") if answer.kind is Kind.RAISED else answer
    after = answer.after
    if not unchanged((tuple(call.args), dict(call.kwargs)), (tuple(after[0]), after[1])):
        return _with_input(call, Verdict.changed_input(check.function), "")
    return answer.value


def _follow_through(session, unit: Unit, question, check: DistributionCheck, reference, call: Call,
                    counts: np.ndarray, n: int, cells: int) -> str | None:
    """The carried-forward message if the samples follow the student's own (wrong) dependency;
    None if there is no such dependency or they do not follow it either."""
    from . import followthrough, grade

    follow = check.follow
    if follow is None or not question.follow_through:
        return None
    owner = grade.question_of(unit, follow.function)
    result = session.results.get(owner.name)
    # the dependency is wrong: it lost points, or kept them only by following a wrong one of its own
    # (a GPT right given a wrong layer_norm)
    if result is None or (result.score >= result.max_score and not session.carried.get(owner.name)):
        return None
    helper = Check(check.name, follow.function, st.nothing(), config_class=follow.config_class,
                   weights=follow.weights)
    got = _ask(session, unit, question, helper, reference, follow.call(call))
    if isinstance(got, Verdict):
        return None
    try:
        probs = np.asarray(follow.probabilities(call, got), dtype=np.float64)
        if probs.shape != counts.shape or not np.isfinite(probs).all() or (probs < 0).any():
            return None
        probs = probs / probs.sum(-1, keepdims=True)
    except Exception:
        return None
    if judge_counts(counts, probs, n, check.alpha, cells).passed:
        return followthrough.carried_message(unit, grade.wrong_roots(session, unit, [follow.function]))
    return None


def _with_input(call: Call, verdict: Verdict, hint: str) -> Verdict:
    """The verdict shown after the case it was found on (a case is not shrunk: "On the input")."""
    from .feedback import describe_call, indent

    return dataclasses.replace(verdict, message=f"On the input:\n{indent(describe_call(call))}\n{verdict.message}"
                                                + (f"\nHint: {hint}" if hint else ""))


def _explain(check: DistributionCheck, ex: Example, verdict: CountsTest, n: int, probs, counts) -> Verdict:
    per = " per row group" if probs.shape[0] > 1 else ""
    drawn = (f"drawn {check.rows_per_call} rows per call, the generator seeded once" if check.rows_per_call
             else "drawn in one call with the generator seeded")
    lines = [f"The samples do not follow the expected distribution ({n} samples{per}, {drawn})."]
    for g, c, k in verdict.impossible[:3]:
        lines.append(f"{check.labels(g, c)}: drawn {k} times, but its probability is 0 (it is filtered out)")
    for g, c, expected, observed in verdict.off:
        if probs[g, c] > 0:
            lines.append(f"{check.labels(g, c)}: expected {expected:.2%} of the samples "
                         f"(~{expected * n:.0f}), observed {observed:.2%} ({int(counts[g, c])})")
    lines.append(f"p-value {verdict.p_value:.2g} (Bonferroni-adjusted exact binomial tests): a correct sampler fails this check with probability at most "
                 f"{check.alpha:g}")
    hint = next((h.text for h in check.hints if _applies(h, ex.call, probs, counts)), "") or ex.hint
    return _with_input(ex.call, Verdict.wrong("\n".join(lines)), hint)


def _applies(hint, call, probs, counts) -> bool:
    try:
        return bool(hint.applies(call, probs, counts))
    except Exception:
        return False


def matches(distribution: Callable[[Call], np.ndarray], alpha: float = 1e-3):
    """A Hint's `applies` for a distribution check: the observed counts pass the same exact test
    against a buggy distribution (e.g. the temperature ignored), so the hint names that bug."""
    def applies(call, probs, counts):
        buggy = np.asarray(distribution(call), dtype=np.float64)
        if np.allclose(buggy, probs, atol=1e-9):
            return False
        n = int(counts[0].sum())
        return judge_counts(counts, buggy, n, alpha, tested_cells(buggy)).passed
    return applies
