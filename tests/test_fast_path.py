"""The fast path grades exactly as the hypothesis property it stands in for.

A grading process draws each check's inputs once (with the reference's answers) and asks a
submission for all its answers in one request; only when one is wrong does the property run,
one call per input, to find and shrink the failure (autograder/grade.py). Each submission
below is graded both ways; every check's score and message, the notes and the status must be
the same. The entries are chosen for where the fast path hands over: a failure on a drawn
input (not an explicit example), failures on explicit examples, a banned call (stops at once),
a call that never returns (the worker is lost mid-request), garbage on the reply pipe, the
untouched stub, and one wrong submission of every other unit.
"""

from __future__ import annotations

import pytest

from autograder import grade as grading
from autograder import units

SOFTMAX_ENTRIES = [
    "reference",
    "stub",
    "wrong/wrong_keepdim",  # its first wrong answer is the 10th input, a drawn one
    "wrong/mask_after_softmax",  # three checks fail, at different inputs
    "wrong/banned_tensor_method",
    "wrong/softmax_sets_default_dtype",  # a side effect, reported by the worker
    "hostile/sleep_forever_when_graded",
    "hostile/pipe_garbage",
]
OTHER_UNITS = {  # a wrong entry each (gpt's graded checks are judged: no fast path to compare)
    "attention": "wrong/no_scaling",
    "positional": "wrong/rope_clockwise",
    "backprop": "wrong/adamw_l2_penalty",
    "interp": "wrong/patterns_layers_first",  # find_induction_heads follows through (model arguments)
    "tokenizer": "wrong/tie_first_seen",  # lists, tuples and bytes; its judged check graded alike
}


def outcome(report) -> tuple:
    return (report.status, report.notes,
            [(q.name, [(c.name, c.score, c.message) for c in q.checks]) for q in report.questions])


def slow(grader, spec: str, monkeypatch):
    monkeypatch.setattr(grading, "FAST_PATH", False)
    if spec == "reference":
        return grader.notebook(grader.files.reference_notebook())
    if spec == "stub":
        return grader.file(grader.files.stub)
    return grader.entry(grader.files.load_entry(*spec.split("/")))


@pytest.mark.parametrize("spec", SOFTMAX_ENTRIES)
def test_softmax_graded_as_by_the_property(grader, spec, monkeypatch):
    fast = grader.cached(spec)
    assert outcome(slow(grader, spec, monkeypatch)) == outcome(fast)


@pytest.mark.parametrize("name", sorted(OTHER_UNITS))
def test_other_units_graded_as_by_the_property(grader_for, name, monkeypatch):
    grader = grader_for(name)
    fast = grader.cached(OTHER_UNITS[name])
    assert fast.score < units.load(name).points
    assert outcome(slow(grader, OTHER_UNITS[name], monkeypatch)) == outcome(fast)


def test_every_unit_is_covered():
    assert set(OTHER_UNITS) | {"softmax", "gpt"} == set(units.names())


def test_inputs_are_drawn_once_per_process(grader, monkeypatch):
    """The second submission draws nothing: its checks reuse the first one's inputs."""
    grader.cached("reference")
    grader.notebook(grader.files.reference_notebook())  # plans exist in this process now
    drawn = []
    monkeypatch.setattr(grading, "_prepare", lambda *args: drawn.append(args))
    report = grader.notebook(grader.files.reference_notebook())
    assert report.score == grader.unit.points and drawn == []


# --------------------------------------------------------------------------- plans from the build


def _planned(unit, reference) -> dict:
    return {(q.name, c.name): grading._PLANS[(id(c), id(reference))][2]
            for q in unit.questions for c in q.checks if c.judge is None}


def test_saved_plans_load_as_drawn_and_refuse_another_reference(tmp_path):
    """The build ships each unit's plans (`save_plans`); on Gradescope `load_plans` reads them.
    What it loads is what `_plan` draws: the same inputs, the same reference answers. Plans
    drawn for another reference are refused (the grader then draws its own)."""
    import torch

    unit, reference = units.load("softmax"), units.reference("softmax")
    path = tmp_path / "softmax.pkl"
    grading.save_plans(unit, reference, path)
    drawn = _planned(unit, reference)
    other = units.reference("softmax")  # a fresh copy of the module: not the plans' key
    assert grading.load_plans(unit, other, path)
    loaded = _planned(unit, other)
    assert drawn.keys() == loaded.keys() and all(p is not None for p in drawn.values())

    def same(a, b) -> bool:
        if isinstance(a, torch.Tensor):
            return (a.dtype, a.shape, a.stride()) == (b.dtype, b.shape, b.stride()) and torch.equal(a, b)
        if isinstance(a, (list, tuple)):
            return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if hasattr(a, "__dataclass_fields__"):
            return all(same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
        if isinstance(a, Exception):
            return type(a) is type(b) and a.args == b.args
        return a == b

    assert all(same(drawn[key], loaded[key]) for key in drawn)
    grading.save_plans(unit, reference, tmp_path / "again.pkl")
    assert (tmp_path / "again.pkl").read_bytes() == path.read_bytes()  # builds stay byte-identical

    changed = tmp_path / "solutions" / "softmax.py"  # the reference edited after the build
    changed.parent.mkdir()
    changed.write_text(reference.__spec__.loader.get_source(reference.__name__) + "\n# edited\n")
    import importlib.util

    spec = importlib.util.spec_from_file_location("_edited_softmax", changed)
    edited = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(edited)
    assert not grading.load_plans(unit, edited, path)
    assert not grading.load_plans(unit, reference, tmp_path / "missing.pkl")
