"""What is specific to the positional unit (tests/test_units.py grades its reference, stub and
corpus like every unit's): the shape of its questions, the angle tolerance of the sinusoids,
and the feedback naming each classic bug.
"""

from __future__ import annotations

import math

import pytest
import torch

from autograder import units

UNIT = "positional"


def failed_messages(report, question: str) -> str:
    return "\n".join(c.message for q in report.questions if q.name == question for c in q.checks if not c.passed)


# --------------------------------------------------------------------------- the unit itself


def test_each_question_grades_its_function_with_several_checks(unit):
    for question in unit.questions:
        assert question.functions == (question.name,) and question.public
        assert 2 <= question.points <= 4 and len(question.checks) >= 2  # a bug on extreme inputs keeps some points


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


# --------------------------------------------------------------------------- feedback


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
def test_feedback_names_the_bug(grader, spec, question, words):
    message = failed_messages(grader.cached(spec), question)
    assert "Smallest failing input" in message or "not implemented" in message
    assert words in message, message


def test_hints_describe_what_the_student_returned(grader):
    """A float32 result for float64 queries is a dtype problem: no rotation hint may claim otherwise."""
    message = failed_messages(grader.cached("wrong/rope_float32_output"), "rotary_embedding")
    assert "dtype torch.float32, expected torch.float64" in message
    assert "Hint:" not in message, message
