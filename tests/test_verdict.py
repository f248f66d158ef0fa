"""The typed verdict: each outcome is made in one place, and statuses and hints read its kind.

Cheap (no sandbox, no notebook): the reply reading, the sandbox's loss kinds, the judged
check's budget hint and the overall status are each driven with hand-made inputs.
"""

from __future__ import annotations

import json
import signal
import types

import pytest
import torch

from autograder import grade as grading
from autograder import worker as wire
from autograder.report import CheckResult, QuestionResult, Report, overall_status
from autograder.sandbox import Limits, Worker, WorkerLost
from autograder.spec import Call, Check, Example
from autograder.verdict import Kind, Verdict

CHECK = Check("a check", "f", None, module="F", config_class="FConfig")


def ok_reply(value, blobs: list[bytes]) -> dict:
    return {"status": "ok", "value": wire.encode(value, blobs), "args_after": wire.encode((), blobs),
            "kwargs_after": wire.encode({}, blobs)}


REPLIES = {  # reply -> the kind read_reply gives it
    "missing": ({"status": "missing"}, Kind.MISSING),
    "banned": ({"status": "banned", "banned_used": ["torch.softmax", "torch.softmax"]}, Kind.BANNED),
    "side_effect": ({"status": "side_effect", "effects": ["grad_mode"]}, Kind.SIDE_EFFECT),
    "not_implemented": ({"status": "error", "error": "NotImplementedError", "traceback": "tb"}, Kind.NOT_IMPLEMENTED),
    "raised": ({"status": "error", "error": "IndexError", "traceback": "line 1\nline 2"}, Kind.RAISED),
    "unknown_status": ({"status": "nonsense"}, Kind.UNDECODABLE),
    "undecodable": ({"status": "ok", "value": {"$tensor": 7}, "args_after": {"$tuple": []},
                     "kwargs_after": {"$dict": {}}}, Kind.UNDECODABLE),
}


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_each_reply_that_is_no_answer_has_its_kind(name):
    reply, kind = REPLIES[name]
    verdict = grading.read_reply(CHECK, reply, [])
    assert isinstance(verdict, Verdict) and verdict.kind is kind and verdict.message


def test_reply_messages_are_written_once():
    assert grading.read_reply(CHECK, REPLIES["missing"][0], []).message == \
        "the notebook does not define `f` or `F` or `FConfig` (after running every cell)"
    banned = grading.read_reply(CHECK, REPLIES["banned"][0], []).message
    assert banned == ("`f` called torch.softmax, which this question does not allow; "
                      "write it yourself with basic operations")
    assert Verdict.banned("f", ["b", "a"], through="g").message.startswith("`f` called a, b (through your `g`)")
    raised = grading.read_reply(CHECK, REPLIES["raised"][0], []).message
    assert raised == "`f` raised IndexError:\n    line 1\n    line 2"
    effect = grading.read_reply(CHECK, REPLIES["side_effect"][0], []).message
    assert "left gradient tracking switched on or off" in effect


def test_an_answer_is_decoded_with_its_arguments_when_asked():
    torch.manual_seed(0)
    value, blobs = torch.randn(3), []
    reply = ok_reply(value, blobs)
    answer = grading.read_reply(CHECK, reply, blobs)
    assert not isinstance(answer, Verdict) and torch.equal(answer.value, value) and answer.after == ((), {})
    assert grading.read_reply(CHECK, reply, blobs, args_after=False).after is None


def test_kinds_say_whether_a_failure_shrinks_and_whether_a_budget_hint_applies():
    assert {k for k in Kind if k.shrinks} == {Kind.WRONG, Kind.RAISED, Kind.SIDE_EFFECT}
    assert {k for k in Kind if k.out_of_compute} == {Kind.TIMED_OUT, Kind.OVER_CPU, Kind.KILLED}
    assert Verdict.wrong("x").hinted("h").message == "x\nHint: h" and Verdict.wrong("x").hinted("").message == "x"


def _lost_worker(returncode: int | None, budget: float | None = None) -> Worker:
    """A Worker whose process just ended with `returncode` (nothing real to kill)."""
    worker = object.__new__(Worker)
    worker._process = types.SimpleNamespace(returncode=returncode)
    worker._kill_only = lambda: None
    worker._call_cpu_budget, worker.limits = budget, Limits()
    return worker


@pytest.mark.parametrize("returncode, timed_out, budget, kind", [
    (None, True, None, Kind.TIMED_OUT),
    (-signal.SIGXCPU, False, 5.0, Kind.OVER_CPU),
    (-signal.SIGXCPU, False, None, Kind.OVER_CPU),
    (-signal.SIGKILL, False, None, Kind.KILLED),
    (-signal.SIGSEGV, False, None, Kind.CRASHED),
    (-signal.SIGABRT, False, None, Kind.CRASHED),
    (3, False, None, Kind.CRASHED),
    (0, False, None, Kind.CRASHED),
])
def test_each_way_of_losing_the_worker_has_its_kind(returncode, timed_out, budget, kind):
    lost = _lost_worker(returncode, budget)._lost("answering a graded call", timed_out=timed_out)
    assert lost.kind is kind
    verdict = Verdict.lost(lost.kind, lost.reason)
    assert verdict.kind is kind and verdict.message == f"your code {lost.reason}"
    assert WorkerLost("anything").kind is Kind.CRASHED


def _report(*kinds: Kind, cells_lost=(), status: str = "ok") -> Report:
    checks = [CheckResult(f"c{i}", k is Kind.PASSED, float(k is Kind.PASSED), 1.0, "", k) for i, k in enumerate(kinds)]
    return Report("unit", "s.ipynb", [QuestionResult("q", checks)], status=status, cells_lost=list(cells_lost))


def test_the_status_is_read_from_kinds_never_from_wording():
    assert overall_status(_report(Kind.PASSED, Kind.TIMED_OUT)) == "timeout"
    assert overall_status(_report(Kind.PASSED, cells_lost=[Kind.TIMED_OUT])) == "timeout"
    assert overall_status(_report(Kind.PASSED, cells_lost=[Kind.CRASHED])) == "ok"
    # a function past its own time budget ends only that function's checks
    assert overall_status(_report(Kind.TIME_SPENT, Kind.OVER_CPU, Kind.KILLED, Kind.CRASHED)) == "ok"
    # the student's own text saying "timed out while" changes nothing
    worded = _report(Kind.RAISED)
    worded.questions[0].checks[0].message = "`f` raised RuntimeError: timed out while waiting"
    worded.notes.append("the notebook timed out while running cell 1")
    assert overall_status(worded) == "ok"
    assert overall_status(_report(Kind.TIMED_OUT, status="crash")) == "crash"


def test_a_report_read_back_from_json_keeps_its_kinds():
    report = _report(Kind.PASSED, Kind.BANNED, Kind.TIMED_OUT, cells_lost=[Kind.KILLED])
    again = Report.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again == report
    assert [c.kind for c in again.questions[0].checks] == [Kind.PASSED, Kind.BANNED, Kind.TIMED_OUT]
    assert again.cells_lost == [Kind.KILLED] and overall_status(again) == "timeout"
    assert CheckResult("c", True, 1, 1).kind is Kind.PASSED and CheckResult("c", False, 0, 1).kind is Kind.WRONG


class _Session:
    """What run_judged_check asks of a session: one graded call that ends as `ending`."""

    def __init__(self, ending, cpu_used: float = 0.0):
        self.ending, self.dead, self.judged_calls = ending, None, {}
        self.submission = types.SimpleNamespace(cells=[])
        times = iter([0.0, cpu_used])  # the worker's CPU time before and after the call
        self.worker = types.SimpleNamespace(cpu_time=lambda: next(times))

    def call(self, header, blobs, cpu_seconds=None):
        if isinstance(self.ending, Verdict):
            raise grading.Stop(self.ending)
        return self.ending if isinstance(self.ending, tuple) else (self.ending, [])


JUDGED = Check("trains", "train", None, examples=(Example(Call(), "do less"),), judge=lambda call, got: (1.0, ""),
               cpu_seconds=1.0)


@pytest.mark.parametrize("ending, kind, hinted", [
    (Verdict.lost(Kind.TIMED_OUT, "timed out"), Kind.TIMED_OUT, True),
    (Verdict.lost(Kind.OVER_CPU, "used more than its budget"), Kind.OVER_CPU, True),
    (Verdict.lost(Kind.KILLED, "was killed"), Kind.KILLED, True),
    (Verdict.lost(Kind.CRASHED, "crashed"), Kind.CRASHED, False),
    (Verdict.stopped(Kind.OUT_OF_TIME, "grading stopped"), Kind.OUT_OF_TIME, False),
    ({"status": "missing"}, Kind.MISSING, False),
    ({"status": "banned", "banned_used": ["torch.optim.AdamW"]}, Kind.BANNED, False),
    ({"status": "error", "error": "NotImplementedError", "traceback": ""}, Kind.NOT_IMPLEMENTED, False),
])
def test_a_judged_check_reads_the_same_verdicts_and_hints_only_when_out_of_compute(ending, kind, hinted):
    question = types.SimpleNamespace(name="q")
    unit = types.SimpleNamespace(banned_for=lambda q: ())
    result = grading.run_judged_check(_Session(ending), unit, question, JUDGED)
    assert result.kind is kind and result.score == 0 and not result.passed
    assert result.message.endswith("\nHint: do less") == hinted, result.message


@pytest.mark.parametrize("cpu_used, kind", [(0.5, Kind.PASSED), (3.0, Kind.OVER_CPU)])
def test_a_judged_answer_counts_only_within_its_cpu_budget(cpu_used, kind):
    """The budget is also measured around the call: a call that escaped its RLIMIT_CPU fails."""
    blobs: list[bytes] = []
    reply = ok_reply(torch.zeros(2), blobs)
    result = grading.run_judged_check(_Session((reply, blobs), cpu_used), types.SimpleNamespace(banned_for=lambda q: ()),
                                      types.SimpleNamespace(name="q"), JUDGED)
    assert result.kind is kind and result.passed == (kind is Kind.PASSED)
    if kind is Kind.OVER_CPU:
        assert result.message == "`train` used 3 s of CPU time, more than its budget of 1 s\nHint: do less"
