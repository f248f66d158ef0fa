"""The sampling unit graded end to end: reference, stub, and the corpora of tests/corpus/sampling/.

* wrong/*     one classic bug each: points lost on exactly the one question its LOSES names, whose
              first hint contains its HINT words (a sampler bug is caught by the distribution
              check; a bug in sampling_probs costs the sampler nothing: follow-through);
* correct/*   torch.multinomial, inverse-CDF and Gumbel-max samplers: full marks;
* hostile/*   a base submission plus hostile cells: exactly the base's scores.
"""

from __future__ import annotations

import json

import pytest

from conftest import UnitFiles

FILES = UnitFiles("sampling")
WRONG, CORRECT, HOSTILE = FILES.corpus_names("wrong"), FILES.corpus_names("correct"), FILES.corpus_names("hostile")


@pytest.fixture(scope="module")
def grader(grader_for):
    return grader_for("sampling")


@pytest.fixture(scope="module")
def unit(grader):
    return grader.unit


def full_marks(unit) -> dict[str, float]:
    return {q.name: q.points for q in unit.questions}


def feedback(report) -> str:
    return json.dumps(report.to_gradescope(), indent=1) + "\n" + "\n".join(report.notes)


def test_corpus_covers_every_question():
    assert len(WRONG) >= 9 and len(CORRECT) >= 3 and len(HOSTILE) >= 2
    assert set().union(*(FILES.load_entry("wrong", n).loses for n in WRONG)) == set(FILES.questions)


def test_reference_scores_full_marks(grader, unit):
    report = grader.cached("reference")
    assert report.status == "ok", report.notes
    assert report.scores() == full_marks(unit), feedback(report)


def test_untouched_stub_scores_zero_with_a_message_per_question(grader, unit):
    report = grader.cached("stub")
    assert report.score == 0 and report.max_score == unit.points
    for question in report.questions:
        for check in question.checks:
            assert "not implemented" in check.message, (question.name, check.message)


@pytest.mark.parametrize("name", WRONG)
def test_wrong_submission_loses_points_only_where_declared(grader, unit, name):
    entry = FILES.load_entry("wrong", name)
    report = grader.cached(entry.id)
    assert report.status == "ok", report.notes
    assert not FILES.lost_and_hint(entry, report, full_marks(unit)), feedback(report)


@pytest.mark.parametrize("name", CORRECT)
def test_correct_sampler_scores_full_marks(grader, unit, name):
    report = grader.cached(f"correct/{name}")
    assert report.status == "ok", report.notes
    assert report.scores() == full_marks(unit), feedback(report)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_submission_gains_nothing(grader, unit, name):
    entry = FILES.load_entry("hostile", name)
    report = grader.cached(entry.id)
    base = grader.cached(entry.base)
    assert report.scores() == base.scores(), feedback(report)


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

from autograder import units  # noqa: E402
from autograder.units import sampling_public as public  # noqa: E402

PUBLIC = [(q, c) for q, checks in public.CHECKS.items() for c in checks]


@pytest.mark.parametrize("question,check", PUBLIC, ids=lambda v: getattr(v, "__name__", v))
def test_public_check_passes_on_the_reference(question, check):
    check(**{question: getattr(units.reference("sampling"), question)})


@pytest.mark.parametrize("question,check", PUBLIC, ids=lambda v: getattr(v, "__name__", v))
def test_public_check_fails_on_the_stub_with_a_message(question, check):
    def stub(*args, **kwargs):
        raise NotImplementedError(question)

    with pytest.raises(AssertionError, match="not implemented yet"):
        check(**{question: stub})


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
