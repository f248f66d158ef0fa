"""Distribution checks (autograder/distribution.py): their false-failure rate and their power,
measured in the trusted process (no sandbox) against what the specs state.

* false failures: correct samplers (torch.multinomial, inverse CDF, Gumbel-max) drawn over many
  seeds never fail at the stated alpha, and at looser levels fail no more often than the level
  says (the test is calibrated, so "at most 1e-6" is not a guess);
* power: a sampler whose token probability is off by the stated shift fails with probability
  >= 0.99 (measured on simulated counts), and the classic biased samplers fail on every seed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from autograder import distribution as dist
from autograder.units import gpt as gpt_spec
from autograder.units import sampling as spec

torch.set_num_threads(1)  # tiny tensors: threads only add overhead on a loaded machine

CHECK = spec.sample_q.checks[0]
CASES = [ex.call for ex in CHECK.examples]
CELLS = sum(dist.tested_cells(CHECK.distribution(call)) for call in CASES)
N = spec.SAMPLES

# every distribution check of the specs, with its samples per case and its stated power
GENERATE_CHECK = next(c for c in gpt_spec.generate_q.checks if isinstance(c, dist.DistributionCheck))
STATED = {
    "sampling/sample": (CHECK, spec.SAMPLES, spec.SAMPLE_DETECTS),
    "gpt/generate": (GENERATE_CHECK, gpt_spec.GENERATE_SAMPLES, gpt_spec.GENERATE_DETECTS),
}


def multinomial(probs, g):
    return torch.multinomial(probs, 1, generator=g)


def inverse_cdf(probs, g):
    cdf = probs.double().cumsum(-1)
    u = torch.rand(probs.shape[0], 1, generator=g, dtype=torch.float64) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).clamp_max(probs.shape[-1] - 1)


def gumbel_max(probs, g):
    u = torch.rand(probs.shape, generator=g, dtype=torch.float64).clamp(1e-300, 1 - 1e-16)
    return (probs.double().log() - torch.log(-torch.log(u))).argmax(-1, keepdim=True)


SAMPLERS = {"multinomial": multinomial, "inverse_cdf": inverse_cdf, "gumbel_max": gumbel_max}


def _probs(call):
    return torch.from_numpy(CHECK.distribution(call)).float().expand(N, -1)


def _p_values(sampler, seeds):
    """The check's p-value (all its cases, Bonferroni over all their cells) per seed."""
    out = []
    for seed in seeds:
        g = torch.Generator().manual_seed(seed)
        smallest = 1.0
        for call in CASES:
            probs = CHECK.distribution(call)
            tokens = sampler(_probs(call), g).reshape(1, -1).numpy()
            counts = dist.counts_of(tokens, probs.shape[-1])
            smallest = min(smallest, float(dist.cell_p_values(counts, probs, N).min()))
        out.append(min(1.0, smallest * CELLS))
    return np.array(out)


@pytest.mark.parametrize("name", SAMPLERS)
def test_correct_samplers_never_fail_and_the_test_is_calibrated(name):
    torch.manual_seed(0)
    seeds = range(30)
    p = _p_values(SAMPLERS[name], seeds)
    assert (p > CHECK.alpha).all(), f"{name} failed at seeds {np.nonzero(p <= CHECK.alpha)[0]}"
    # Bonferroni over exact tests: P(p <= a) <= a for every a; 30 seeds at a = 0.2: <= 6 expected,
    # 13 is beyond 3 standard deviations
    assert (p <= 0.2).sum() <= 13


@pytest.mark.parametrize("name", STATED)
def test_false_failure_rate_is_at_most_its_level_on_simulated_counts(name):
    """50000 multinomial count vectors of each case: the exact test's rate of p <= a is at most
    a (within sampling noise) at a = 1e-2 and 1e-3; at the check's alpha none fails."""
    check, N, _ = STATED[name]
    rng = np.random.default_rng(0)
    for ex in check.examples:
        probs = check.distribution(ex.call)
        counts = rng.multinomial(N, probs[0], size=50_000)
        cells = dist.tested_cells(probs)
        p = np.ones(len(counts))
        for c in np.nonzero((probs[0] > 0) & (probs[0] < 1))[0]:
            lower, upper = dist._tails(N, float(probs[0, c]))
            p = np.minimum(p, np.minimum(1.0, 2 * np.minimum(lower[counts[:, c]], upper[counts[:, c]])))
        adjusted = np.minimum(1.0, p * cells)
        for level in (1e-2, 1e-3):
            rate = (adjusted <= level).mean()
            assert rate <= level + 4 * math.sqrt(level / len(counts)), (level, rate)
        assert (adjusted > check.alpha).all()


def _cells(check):
    return sum(dist.tested_cells(check.distribution(ex.call)) for ex in check.examples)


@pytest.mark.parametrize("name", STATED)
def test_the_stated_power_is_the_computed_one(name):
    check, N, stated = STATED[name]
    cells = _cells(check)
    shifts = [dist.check_power(check.distribution(ex.call), N, check.alpha, cells) for ex in check.examples]
    assert max(shifts) <= stated <= 1.25 * max(shifts), shifts


@pytest.mark.parametrize("name", STATED)
def test_a_shift_of_the_stated_size_is_detected_with_probability_099(name):
    """Move the stated shift of probability from each case's most uncertain category to another
    one: simulated counts from that biased sampler fail the check at least 99% of the time."""
    check, N, stated = STATED[name]
    cells = _cells(check)
    rng = np.random.default_rng(1)
    for ex in check.examples:
        call, probs = ex.call, check.distribution(ex.call)
        p = probs[0].copy()
        worst = int(np.argmin(np.abs(p - 0.5)))
        other = int(np.argmax(np.where(np.arange(len(p)) == worst, -1, p)))
        for sign in (1, -1):
            biased = p.copy()
            biased[worst] += sign * stated
            biased[other] -= sign * stated
            counts = rng.multinomial(N, biased, size=400)
            failed = sum(not dist.judge_counts(c[None], probs, N, check.alpha, cells).passed for c in counts)
            assert failed / 400 >= 0.97, (call, sign, failed)


BIASED = {
    # softmax(logits) / temperature renormalised by the sampler is the temperature ignored
    "temperature ignored": lambda call: spec._buggy(temperature_ignored=True)(call),
    "logits as weights": lambda call: spec._buggy(from_logits=True)(call),
}


@pytest.mark.parametrize("bug", ["temperature ignored", "logits as weights"])
def test_classic_biased_samplers_fail_on_every_seed(bug):
    caught = 0
    for seed in range(5):
        g = torch.Generator().manual_seed(seed)
        for call in CASES:
            probs, buggy = CHECK.distribution(call), BIASED[bug](call)
            if np.allclose(probs, buggy):
                continue
            tokens = torch.multinomial(torch.from_numpy(buggy).float().expand(N, -1), 1, generator=g)
            counts = dist.counts_of(tokens.reshape(1, -1).numpy(), probs.shape[-1])
            assert not dist.judge_counts(counts, probs, N, CHECK.alpha, CELLS).passed, (bug, seed, call)
            caught += 1
    assert caught >= 5


def test_generate_ignoring_the_temperature_fails_on_every_seed():
    cells = _cells(GENERATE_CHECK)
    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        for ex in GENERATE_CHECK.examples:
            probs = GENERATE_CHECK.distribution(ex.call)
            buggy = gpt_spec.generated_distribution(ex.call, temperature=1.0)
            pairs = torch.multinomial(torch.from_numpy(buggy[0]), gpt_spec.GENERATE_SAMPLES, replacement=True,
                                      generator=g)
            counts = dist.counts_of(pairs[None].numpy(), probs.shape[-1])
            assert not dist.judge_counts(counts, probs, gpt_spec.GENERATE_SAMPLES, GENERATE_CHECK.alpha,
                                         cells).passed


def test_a_filtered_token_drawn_once_fails_and_a_certain_one_must_be_drawn_always():
    probs = np.array([[0.5, 0.5, 0.0]])
    assert not dist.judge_counts(np.array([[500, 499, 1]]), probs, 1000, 1e-6, 2).passed
    assert dist.judge_counts(np.array([[500, 500, 0]]), probs, 1000, 1e-6, 2).passed
    assert dist.cell_p_values(np.array([[999, 1]]), np.array([[1.0, 0.0]]), 1000).min() == 0.0


def test_exact_tails_match_a_direct_sum():
    lower, upper = dist._tails(30, 0.2)
    pmf = [math.comb(30, k) * 0.2**k * 0.8 ** (30 - k) for k in range(31)]
    assert lower[7] == pytest.approx(sum(pmf[:8]), rel=1e-12)
    assert upper[7] == pytest.approx(sum(pmf[7:]), rel=1e-12)


# --------------------------------------------------------------------------- rows per call
# gpt's generate is asked GENERATE_ROWS_PER_CALL rows of its 20000 at a time (the model's
# activations for all of them were ~100 MB in the worker); the worker joins the answers.


def _first_tokens(idx, max_new_tokens, generator=None):
    """A toy sampler: max_new_tokens uniform tokens in [0, 5) appended to idx, from `generator`."""
    new = torch.randint(5, (idx.shape[0], max_new_tokens), generator=generator)
    return torch.cat([idx, new], dim=1)


def test_rows_per_call_joins_the_answers_and_reads_one_generator_on():
    from autograder import worker

    idx = torch.zeros(10, 2, dtype=torch.int64)
    asked = []

    def sampler(x, n, generator=None):
        asked.append(x.shape[0])
        return _first_tokens(x, n, generator=generator)

    got = worker._by_rows(sampler, (idx, 3), {"generator": torch.Generator().manual_seed(5)}, 4)
    assert asked == [4, 4, 2]
    g = torch.Generator().manual_seed(5)
    expected = torch.cat([_first_tokens(idx[i:i + 4], 3, generator=g) for i in (0, 4, 8)])
    assert got.shape == (10, 5) and torch.equal(got, expected)
    assert not torch.equal(got[:4, 2:], got[4:8, 2:])  # each call draws on, none starts over


def test_rows_per_call_keeps_what_is_not_a_joinable_answer():
    from autograder import worker

    idx = torch.zeros(6, 2, dtype=torch.int64)
    assert worker._by_rows(lambda x, n: "no tensor", (idx, 1), {}, 4) == "no tensor"
    squeezed = worker._by_rows(lambda x, n: torch.tensor(1), (idx, 1), {}, 4)  # 0-dim: cannot be joined
    assert squeezed.dim() == 0


def test_rows_per_call_hands_out_views_so_an_in_place_change_shows():
    from autograder import worker

    idx = torch.zeros(6, 2, dtype=torch.int64)

    def scribbles(x, n):
        x.fill_(1)
        return x

    worker._by_rows(scribbles, (idx, 1), {}, 4)
    assert bool((idx == 1).all())  # the grader's comparison of args_after sees the change


def test_gpt_generate_is_asked_in_calls_of_the_stated_rows():
    assert GENERATE_CHECK.rows_per_call == gpt_spec.GENERATE_ROWS_PER_CALL
    assert 0 < gpt_spec.GENERATE_ROWS_PER_CALL < gpt_spec.GENERATE_SAMPLES
