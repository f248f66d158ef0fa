"""The sampling unit: what is specific to it.

Its reference, stub and corpus are graded by tests/test_units.py, like every unit's; here: the
distribution check's feedback (frequencies, p-value, hint), follow-through from a wrong
`sampling_probs` to the sampler, a sampler graded twice alike, and the public checks (every
correct sampler passes them; they catch the classic bugs).
"""

from __future__ import annotations

import pytest

from autograder import units

from conftest import UnitFiles

UNIT = "sampling"  # the unit of conftest's fixtures (unit, reference, grader)
FILES = UnitFiles(UNIT)
CORRECT = FILES.corpus_names("correct")



def test_distribution_feedback_shows_frequencies_p_value_and_hint(grader):
    report = grader.cached("wrong/sample_ignores_temperature")
    sample = next(q for q in report.questions if q.name == "sample")
    message = sample.checks[0].message
    assert "expected" in message and "observed" in message and "p-value" in message, message
    assert "Hint: your samples follow softmax(logits) without the temperature" in message, message


def test_a_wrong_sampling_probs_is_followed_through_by_the_sampler(grader):
    report = grader.cached("wrong/temperature_after_softmax")
    sample = next(q for q in report.questions if q.name == "sample")
    assert sample.checks[0].passed and "Correct given your `sampling_probs`" in sample.checks[0].message


# --------------------------------------------------------------------------- public checks

public = units.public_checks("sampling")

PUBLIC = [(q, c) for q, checks in public.CHECKS.items() for c in checks]


def _namespace(*entries) -> dict:
    """The functions of `entries`, later ones replacing earlier ones (a wrong entry over plain)."""
    namespace: dict = {}
    for entry in entries:
        exec(compile(entry.preamble + "\n\n" + "\n\n".join(entry.functions.values()), entry.id, "exec"), namespace)
    return namespace


@pytest.mark.parametrize("name", CORRECT)
def test_public_checks_pass_on_every_correct_entry(name):
    namespace = _namespace(FILES.load_entry("correct", name))
    for question, check in PUBLIC:
        check(**{question: namespace[question]})


@pytest.mark.parametrize("name, question", [("top_k_keeps_ties", "top_k_filter"),
                                            ("top_p_excludes_crossing", "top_p_filter"),
                                            ("top_p_not_renormalised", "sampling_probs"),
                                            ("sample_ignores_generator", "sample"),
                                            ("sample_ignores_temperature", "sample"),
                                            ("positions_restarted", "forward_cached"),
                                            ("cache_extended_in_place", "forward_cached")])
def test_public_checks_catch_classic_bugs(name, question):
    # over the plain correct submission: a sampler calls the notebook's own sampling_probs
    namespace = _namespace(FILES.load_entry("correct", "plain"), FILES.load_entry("wrong", name))
    failed = []
    for check in public.CHECKS[question]:
        try:
            check(**{question: namespace[question]})
        except AssertionError:
            failed.append(check.__name__)
    assert failed, f"no public check of {question} catches {name}"


def test_grading_a_sampler_twice_gives_identical_results(grader):
    """Seeded generators and the worker's fixed global seed: the same counts, p-value and score."""
    cached = grader.cached("wrong/sample_ignores_temperature")
    again = grader.entry(FILES.load_entry("wrong", "sample_ignores_temperature"))
    assert [(q.name, [(c.score, c.message) for c in q.checks]) for q in again.questions] == \
        [(q.name, [(c.score, c.message) for c in q.checks]) for q in cached.questions]
