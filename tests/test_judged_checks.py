"""Engine pieces added for units that train a model (first used by the gpt unit), tested alone:

* a per-call CPU-time budget (`Worker.call(..., cpu_seconds=)`, `Check.cpu_seconds`), which
  ends a call that runs past it with a message naming the budget;
* results that are nn.Modules coming back as their state_dict, tensors only (`state_dicts`);
* judged checks (`Check.judge`): partial credit from a function of the student's result;
* cells tagged `otter_ignore` (Otter's own convention) are not run when grading.
"""

from __future__ import annotations

import json
import types

import pytest
import torch
from hypothesis import strategies as st

from autograder import notebook, worker as wire
from autograder.grade import grade_submission
from autograder.sandbox import Limits, Worker, WorkerLost
from autograder.spec import Call, Check, Example, Question, Unit
from autograder.verdict import Kind

LIMITS = Limits(cell_seconds=30, call_seconds=10)


@pytest.fixture
def make_worker(host, leftovers):
    made = []

    def make() -> Worker:
        w = Worker({"x.ipynb": b"{}"}, LIMITS)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()
    assert not leftovers


def _header(target):
    blobs: list[bytes] = []
    return {"target": target, "args": wire.encode((), blobs), "kwargs": wire.encode({}, blobs)}, blobs


def test_a_call_past_its_cpu_budget_is_stopped_and_named(make_worker):
    w = make_worker()
    assert w.exec_cell(0, "def spin():\n    while True:\n        pass\n")["ok"]
    header, blobs = _header("spin")
    with pytest.raises(WorkerLost, match="budget of 1 s of CPU time") as lost:
        w.call(header, blobs, timeout=60, cpu_seconds=1)
    assert lost.value.kind is Kind.OVER_CPU


def test_the_budget_is_lifted_after_the_call(make_worker):
    w = make_worker()
    assert w.exec_cell(0, "import resource\ndef soft():\n    return resource.getrlimit(resource.RLIMIT_CPU)[0]\n")["ok"]
    header, blobs = _header("soft")
    reply, out = w.call(header, blobs, cpu_seconds=5)
    during = wire.decode(reply["value"], out)
    reply, out = w.call(*_header("soft"))
    assert during <= w.cpu_time() + 6 and wire.decode(reply["value"], out) == LIMITS.cpu_seconds


def test_modules_come_back_as_their_state_dict(make_worker):
    w = make_worker()
    assert w.exec_cell(0, "import torch\ndef make():\n    torch.manual_seed(0)\n"
                          "    return torch.nn.Linear(2, 3), [1.5]\n")["ok"]
    header, blobs = _header("make")
    reply, out = w.call(dict(header, state_dicts=True), blobs)
    state, losses = wire.decode(reply["value"], out)
    torch.manual_seed(0)
    expected = torch.nn.Linear(2, 3).state_dict()
    assert set(state) == {"weight", "bias"} and losses == [1.5]
    assert all(torch.equal(state[k], expected[k]) for k in expected)


def _notebook(*cells, tags=None) -> bytes:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {"otter": {"assignment_name": "judged"}},
                       "cells": [{"cell_type": "code", "source": c, "metadata": {"tags": tags[i]} if tags and tags[i]
                                  else {}, "outputs": [], "execution_count": None} for i, c in enumerate(cells)]}).encode()


def test_otter_ignore_cells_are_not_run():
    data = _notebook("x = 1", "train_forever()", "y = 2", tags=[None, ["otter_ignore"], None])
    assert [c.strip() for c in notebook.parse("n.ipynb", data, "judged").cells] == ["x = 1", "", "y = 2"]


def _judged_unit(judge, cpu_seconds=None):
    check = Check("judged", "result", st.just(Call()), points=4, judge=judge, cpu_seconds=cpu_seconds,
                  examples=(Example(Call(), "hint: do less"),))
    return Unit("judged", (Question("result", ("result",), (check,)),), limits=LIMITS)


def test_a_judged_check_gives_partial_credit_and_its_message(host):
    source = "import torch\ndef result():\n    return torch.nn.Linear(1, 1), [0.25]\n"
    unit = _judged_unit(lambda call, got: (0.5, f"half: {sorted(got[0])} {got[1]}"))
    report = grade_submission(unit, types.ModuleType("ref"), notebook.parse("n.ipynb", _notebook(source), "judged"), "n")
    check = report.questions[0].checks[0]
    assert (check.score, check.max_score, check.passed) == (2.0, 4, False)
    assert check.message == "half: ['bias', 'weight'] [0.25]"


def test_a_judged_check_over_budget_scores_zero_with_the_hint(host):
    source = "def result():\n    while True:\n        pass\n"
    unit = _judged_unit(lambda call, got: (1.0, ""), cpu_seconds=1)
    report = grade_submission(unit, types.ModuleType("ref"), notebook.parse("n.ipynb", _notebook(source), "judged"), "n")
    check = report.questions[0].checks[0]
    assert check.score == 0 and "budget of 1 s of CPU time" in check.message and "hint: do less" in check.message
