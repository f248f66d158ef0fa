"""A unit's spec is checked against its reference and its public checks when it is loaded
(`units.load` -> `spec.validate`): a spec that would build and grade the wrong thing fails at
once, with a message naming the spec, the question and the name at fault."""

from __future__ import annotations

import dataclasses

import pytest

from autograder import units
from autograder.spec import Question, SpecError, Unit, validate

UNIT = "softmax"
FILE = f"autograder/units/{UNIT}.py"


@pytest.fixture(scope="module")
def loaded():
    return units.load(UNIT), units.reference(UNIT), units.public_checks(UNIT).CHECKS


def with_question(unit, index: int, **changes):
    questions = list(unit.questions)
    questions[index] = dataclasses.replace(questions[index], **changes)
    return dataclasses.replace(unit, questions=tuple(questions))


def test_every_unit_loads_and_each_question_has_its_public_checks():
    for name in units.names():
        unit = units.load(name)
        assert all(q.public for q in unit.questions), name
        assert unit.public_module == f"{name}_public"


def test_a_valid_spec_passes(loaded):
    validate(*loaded, FILE)


@pytest.mark.parametrize("change, words", [
    (dict(functions=("sofmax",)), "Question.functions names 'sofmax', which the reference solutions/softmax.py "
                                  "does not define"),
    (dict(functions=()), "Question.functions is empty"),
    (dict(depends=("sofmax",)), "Question.depends names 'sofmax', which no question grades"),
    (dict(checks=()), "no hidden checks"),
])
def test_a_broken_question_is_refused_by_name(loaded, change, words):
    unit, reference, registered = loaded
    with pytest.raises(SpecError, match="^" + FILE) as refused:
        validate(with_question(unit, 0, **change), reference, registered, FILE)
    assert "question 'softmax'" in str(refused.value) and words in str(refused.value)


def test_a_check_of_another_questions_function_is_refused(loaded):
    unit, reference, registered = loaded
    check = dataclasses.replace(unit.questions[0].checks[0], function="log_softmax")
    broken = with_question(unit, 0, checks=(check,))
    with pytest.raises(SpecError, match="Check.function 'log_softmax' is not one of the question's functions"):
        validate(broken, reference, registered, FILE)


def test_points_must_add_up_to_something(loaded):
    unit, reference, registered = loaded
    free = tuple(dataclasses.replace(c, points=0) for c in unit.questions[0].checks)
    with pytest.raises(SpecError, match="worth 0 points"):
        validate(with_question(unit, 0, checks=free), reference, registered, FILE)


def test_public_checks_under_no_question_are_refused(loaded):
    unit, reference, registered = loaded
    with pytest.raises(SpecError, match="registered under 'sofmax', which is no question"):
        validate(unit, reference, {**registered, "sofmax": [len]}, FILE)


def test_two_questions_of_one_name_are_refused(loaded):
    unit, reference, registered = loaded
    twice = dataclasses.replace(unit, questions=(*unit.questions, unit.questions[0]))
    with pytest.raises(SpecError, match="two questions are named 'softmax'"):
        validate(twice, reference, registered, FILE)


def test_questions_take_the_checks_registered_under_their_names_unless_given():
    """Question.public None (the default): the public module's checks registered under the
    question's name, in their order; given explicitly in the spec: kept as given."""
    def a(): ...
    def b(): ...

    declared = Unit("u", (Question("q", ("f",), ()), Question("r", ("g",), (), public=(b,))))
    unit = units.with_public_checks(declared, {"q": [a, b], "r": [a]})
    assert [q.public for q in unit.questions] == [(a, b), (b,)]
    assert units.with_public_checks(declared, {}).questions[0].public == ()
