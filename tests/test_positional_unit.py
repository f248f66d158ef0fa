"""The positional unit graded end to end: reference, stub, and the corpora of tests/corpus/positional/.

Every corpus submission is the stub notebook (assignments/positional/positional.ipynb) with
code put into it, by conftest's UnitFiles (see tests/corpus/README.md):

* wrong/*     one classic bug each: points lost on exactly the one question its LOSES names, whose
              first hint contains its HINT words;
* correct/*   correct code written differently from the reference: full marks;
* hostile/*   a base submission plus hostile cells: exactly the base's scores, nothing left behind.

Each corpus entry is graded once per session (conftest's Grader.cached, shared by xdist workers).
"""

from __future__ import annotations

import ast
import json
import math

import nbformat
import pytest
import torch

from autograder import units

from conftest import UnitFiles

UNIT = "positional"
FILES = UnitFiles(UNIT)
QUESTIONS = ("sinusoidal_encoding", "rotary_embedding", "alibi_slopes", "alibi_bias")
POINTS = {"sinusoidal_encoding": 4.0, "rotary_embedding": 3.5, "alibi_slopes": 2.5, "alibi_bias": 3.0}
WRONG, CORRECT, HOSTILE = (FILES.corpus_names(kind) for kind in ("wrong", "correct", "hostile"))


@pytest.fixture(scope="session")
def pos_unit(host):
    return units.load(UNIT)


@pytest.fixture(scope="session")
def pos_grader(grader_for):
    return grader_for(UNIT)


def feedback(report) -> str:
    return json.dumps(report.to_gradescope(), indent=1) + "\n" + "\n".join(report.notes)


def secret_lines() -> list[str]:
    """Distinctive code lines of the reference (not its docstrings, which the stub shows)."""
    stub, source = FILES.stub.read_text(), FILES.reference.read_text()
    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef):
            for stmt in node.body[1:] if ast.get_docstring(node) else node.body:
                for line in ast.get_source_segment(source, stmt).splitlines():
                    line = line.strip()
                    if len(line) >= 25 and not line.startswith(("#", "raise ValueError", "f\"")) \
                            and json.dumps(line)[1:-1] not in stub:
                        lines.add(line)
    assert len(lines) >= 10
    return sorted(lines)


def assert_no_secrets(text: str) -> None:
    leaked = [line for line in secret_lines() if line in text]
    assert not leaked, f"hidden source reached the student: {leaked[:3]}"


def failed_messages(report, question: str) -> str:
    return "\n".join(c.message for q in report.questions if q.name == question for c in q.checks if not c.passed)


# --------------------------------------------------------------------------- the unit itself


def test_spec_points_and_questions(pos_unit):
    assert [q.name for q in pos_unit.questions] == list(QUESTIONS)
    assert {q.name: q.points for q in pos_unit.questions} == POINTS
    for question in pos_unit.questions:
        assert question.functions == (question.name,) and question.public
        assert 2 <= question.points <= 4 and len(question.checks) >= 2  # a bug on extreme inputs keeps some points


def test_stub_notebook_is_generated_from_the_reference():
    """assignments/positional/positional.ipynb is what make_notebook.py writes (regenerate it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_notebook", FILES.stub.parent / "make_notebook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert nbformat.writes(module.build()) == nbformat.writes(FILES.stub_notebook())


def test_corpus_is_big_enough():
    assert len(WRONG) >= 12 and len(CORRECT) >= 3 and len(HOSTILE) >= 3
    every_question = set().union(*(FILES.load_entry("wrong", n).loses for n in WRONG))
    assert every_question == set(QUESTIONS), "some question has no wrong submission"


def test_angle_tolerance_accepts_float32_textbook_tables_and_rejects_bugs():
    """AngleClose: float32 sinusoids computed with exp(-log(base)·2i/d) pass up to 4096 positions
    (their error grows like p · eps32); a wrong exponent or an ignored base fails."""
    from autograder.units.positional import AngleClose

    reference = units.reference(UNIT)

    def textbook(T, d, base, exponent=2):
        pos = torch.arange(T, dtype=torch.float32)[:, None]
        div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (exponent / 2) * (-math.log(base) / d))
        pe = torch.zeros(T, d)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)[:, : d // 2]
        return pe

    compare = AngleClose()
    for T, d, base in [(2048, 64, 1e4), (4096, 128, 1e4), (2048, 7, 100.0), (512, 16, 1e6)]:
        expected = reference.sinusoidal_encoding(T, d, base)
        assert compare(expected, textbook(T, d, base), 0.0) is None, (T, d, base)
        assert compare(expected, textbook(T, d, base, exponent=1), 0.0) is not None, (T, d, base)
        if base != 1e4:
            assert compare(expected, textbook(T, d, 1e4), 0.0) is not None, (T, d, base)
    # an error of 1e-3 at an early position is a bug, not rounding
    expected = reference.sinusoidal_encoding(64, 8)
    assert compare(expected, expected + 1e-3 * (torch.arange(8) == 3), 0.0) is not None


# --------------------------------------------------------------------------- reference and stub


def test_reference_scores_full_marks(pos_grader):
    report = pos_grader.cached("reference")
    assert report.status == "ok", report.notes
    assert report.scores() == POINTS, feedback(report)
    assert report.score == report.max_score == 13


def test_untouched_stub_scores_zero_with_a_message_per_question(pos_grader):
    report = pos_grader.cached("stub")
    assert report.score == 0 and report.max_score == 13
    assert [q.name for q in report.questions] == list(QUESTIONS)
    for question in report.questions:
        for check in question.checks:
            assert "not implemented" in check.message, (question.name, check.message)
            assert f"`{question.name}`" in check.message


# --------------------------------------------------------------------------- wrong and correct


@pytest.mark.parametrize("name", WRONG)
def test_wrong_submission_loses_points_only_where_declared(pos_grader, name):
    entry = FILES.load_entry("wrong", name)
    report = pos_grader.cached(entry.id)
    assert report.status == "ok", report.notes
    assert not FILES.lost_and_hint(entry, report, POINTS), feedback(report)
    for question in report.questions:
        for check in question.checks:
            assert check.passed or check.message.strip(), (question.name, check.name)
            assert len(check.message) < 4000, (question.name, check.name)
    assert_no_secrets(feedback(report))


@pytest.mark.parametrize("name", CORRECT)
def test_correct_variant_scores_full_marks(pos_grader, name):
    report = pos_grader.cached(f"correct/{name}")
    assert report.status == "ok", report.notes
    assert report.scores() == POINTS, feedback(report)


@pytest.mark.parametrize("spec, question, words", [
    ("wrong/sin_cos_concatenated", "sinusoidal_encoding", "interleaved"),
    ("wrong/sin_exponent_pair_index", "sinusoidal_encoding", "not the pair index"),
    ("wrong/sin_base_ignored", "sinusoidal_encoding", "use the `base` argument"),
    ("wrong/rope_clockwise", "rotary_embedding", "clockwise"),
    ("wrong/rope_half_split", "rotary_embedding", "GPT-NeoX"),
    ("wrong/rope_positions_ignored", "rotary_embedding", "positions[t]"),
    ("wrong/rope_inplace", "rotary_embedding", "modified its input in place"),
    ("wrong/rope_odd_d_no_value_error", "rotary_embedding", "raise ValueError"),
    ("wrong/slopes_power_of_two_rule_for_all", "alibi_slopes", "power of two n only"),
    ("wrong/bias_top_left", "alibi_bias", "bottom-right"),
    ("wrong/bias_sign_flipped", "alibi_bias", "sign is flipped"),
])
def test_feedback_names_the_bug(pos_grader, spec, question, words):
    message = failed_messages(pos_grader.cached(spec), question)
    assert "Smallest failing input" in message or "not implemented" in message
    assert words in message, message


def test_hints_describe_what_the_student_returned(pos_grader):
    """A float32 result for float64 queries is a dtype problem: no rotation hint may claim otherwise."""
    message = failed_messages(pos_grader.cached("wrong/rope_float32_output"), "rotary_embedding")
    assert "dtype torch.float32, expected torch.float64" in message
    assert "Hint:" not in message, message


def test_grading_twice_gives_identical_results(pos_grader):
    entry = FILES.load_entry("wrong", "rope_positions_ignored")
    first, second = pos_grader.cached(entry.id), pos_grader.entry(entry)
    assert json.dumps(first.to_gradescope()) == json.dumps(second.to_gradescope())
    assert first.notes == second.notes


# --------------------------------------------------------------------------- hostile


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_submission_gains_nothing(pos_grader, name, leftovers):
    entry = FILES.load_entry("hostile", name)
    report = pos_grader.entry(entry)
    assert not leftovers, "processes survived grading"
    base = pos_grader.cached(entry.base)
    assert report.scores() == base.scores(), feedback(report)
    assert_no_secrets(feedback(report))
    assert "found the expected values" not in report.printed
