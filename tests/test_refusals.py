"""Every "raises ValueError" check (spec.refusals) is sound: the reference refuses each of its
examples with ValueError, and each example names its documented case in a hint. Trusted side
only (no worker): a few hundred milliseconds."""

from __future__ import annotations

import pytest

from autograder import units
from autograder.grade import prepare
from autograder.spec import REFUSALS

CASES = [(name, question.name, check) for name in units.names() for question in units.load(name).questions
         for check in question.checks if check.name == REFUSALS]


def test_the_units_grade_their_documented_value_errors():
    assert {name for name, _, _ in CASES} >= {"softmax", "positional", "gpt", "interp"}


@pytest.mark.parametrize("unit_name, question, check", CASES, ids=[f"{u}/{q}" for u, q, _ in CASES])
def test_the_reference_refuses_every_example(unit_name, question, check):
    unit, reference = units.load(unit_name), units.reference(unit_name)
    assert check.points <= 0.5 and len(check.examples) >= 1
    for example in check.examples:
        assert example.hint, example.call
        planned = prepare(unit, check, reference, example.call)
        assert isinstance(planned.expected, ValueError), (example.hint, planned.expected)
