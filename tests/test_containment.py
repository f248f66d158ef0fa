"""Containment: nothing one submission sends, writes or returns raises in the grader, and its
grading is bounded in time.

* the reply decoder (frames, headers, fields, values), the notebook reader and the comparators,
  each on the inputs that once aborted a class run, then fuzzed with hypothesis;
* the per-submission deadline, the total time of graded calls, and a function that timed out
  not being called again (small LIMITS, so these tests take seconds);
* the class run: a submission on which grading raises gets `crash` and the others are graded.

The hostile corpus entries (tests/corpus/softmax/hostile/deep_reply_frame.py, …) run the same
attacks through a whole notebook.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder import grade_class, notebook, pool, replies, sandbox, units
from autograder import worker as wire
from autograder.compare import Close, Exact, Mismatch, unchanged
from autograder.feedback import describe_value
from autograder.report import Report
from conftest import EXPECTED_SANDBOX_UID, SOFTMAX

FUZZ = settings(max_examples=60, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck))


# --------------------------------------------------------------------------- the reply decoder


def _reader(frames: list[bytes]) -> sandbox.Worker:
    """A Worker whose reply pipe holds `frames` (no process: nothing is killed)."""
    read, write = os.pipe()
    fcntl.fcntl(write, 1031, 1 << 20)  # F_SETPIPE_SZ: the whole message fits
    for frame in frames:
        os.write(write, struct.pack(">Q", len(frame)) + frame)
    os.close(write)
    worker = sandbox.Worker.__new__(sandbox.Worker)
    worker._rep, worker._process, worker._call_cpu_budget = read, None, None
    worker.limits, worker.deadline, worker._calls_left = sandbox.Limits(), math.inf, math.inf
    worker._calls_end = None
    return worker


def receive(frames: list[bytes], op: str = "call"):
    """What the grader makes of these reply frames: (header, blobs), or the WorkerLost reason."""
    worker = _reader(frames)
    try:
        return worker._receive(5.0, "answering a graded call", op)
    except sandbox.WorkerLost as lost:
        return lost.reason
    finally:
        os.close(worker._rep)


def _header(**fields) -> bytes:
    return json.dumps({"blobs": 0, **fields}).encode()


OK_CALL = dict(status="ok", value=1.5, args_after={"$tuple": []}, kwargs_after={"$dict": {}})


def test_a_reply_nested_too_deeply_is_unreadable():
    reason = receive([b"[" * 100_000 + b"]" * 100_000])
    assert isinstance(reason, str) and "unreadable" in reason and "nested too deeply" in reason


@pytest.mark.parametrize("reply,words", [
    (dict(OK_CALL, args_after=5), "'args_after' is not a tuple"),
    (dict(OK_CALL, kwargs_after=[1]), "'kwargs_after' is not a dict"),
    ({k: v for k, v in OK_CALL.items() if k != "value"}, "lacks value"),
    (dict(OK_CALL, surprise=1), "unexpected field(s) surprise"),
    (dict(status="done"), "unknown status"),
    (dict(status="banned", banned_used="torch.softmax"), "not a list of names"),
    (dict(status="error", banned_used=[], error=3, traceback=""), "'error' is not text"),
    (dict(OK_CALL, value={"$tensor": 0}), "refers to a missing array"),
    (dict(OK_CALL, value={"$tensor": -1}), "refers to a missing array"),
    (dict(OK_CALL, value=json.loads("[" * 80 + "]" * 80)), "nested more than 64 levels"),
    (dict(ok=True), "unknown status"),  # an answer to another kind of request
])
def test_a_malformed_call_reply_is_a_clear_failure_of_that_call(reply, words):
    reason = receive([_header(**reply)])
    assert isinstance(reason, str) and words in reason, reason


@pytest.mark.parametrize("op,reply,words", [
    ("exec", dict(status="ok"), "no true/false 'ok'"),
    ("exec", dict(ok=True, error="x"), "unexpected field(s) error"),
    ("exec", dict(ok=False, traceback=["x"]), "'traceback' is not text"),
    ("ping", dict(ok=False), "no true/false 'ok'"),
])
def test_a_malformed_cell_reply_is_a_clear_failure(op, reply, words):
    reason = receive([_header(**reply)], op)
    assert isinstance(reason, str) and words in reason, reason


def test_well_formed_replies_pass_as_they_are():
    header, blobs = receive([_header(**OK_CALL)])
    assert header["value"] == 1.5 and blobs == []
    assert receive([_header(status="missing")])[0]["status"] == "missing"
    assert receive([_header(ok=False, error="ValueError", traceback="...")], "exec")[0]["ok"] is False


def test_an_oversized_reply_is_refused_unread():
    read, write = os.pipe()
    os.write(write, struct.pack(">Q", wire.MAX_MESSAGE_BYTES + 1))
    os.close(write)
    worker = _reader([])
    os.close(worker._rep)
    worker._rep = read
    try:
        reason = worker._receive(5.0, "answering a graded call", "call")
    except sandbox.WorkerLost as lost:
        reason = lost.reason
    finally:
        os.close(read)
    assert "unreadable" in reason and "message larger than" in reason


def test_a_reply_before_any_request_fails_the_request():
    worker = _reader([_header(**OK_CALL)])
    worker._req = os.open(os.devnull, os.O_WRONLY)
    worker._process, worker._kill_only = object(), lambda: None  # as if it were running
    try:
        with pytest.raises(sandbox.WorkerLost, match="reply before it was asked"):
            worker._send({"op": "call"}, [], "answering a graded call")
    finally:
        os.close(worker._req)
        os.close(worker._rep)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["$tensor", "$array", "$tuple", "$dict", "$float", "$dtype", "$numpy", "$model",
                         "$other", "repr", "scalar", "dtype", "x"]), inner, max_size=3),
    max_leaves=20)
_npy = st.builds(lambda a: _npy_bytes(a), hnp.arrays(st.sampled_from(["<f4", ">f8", "i1", "?", "c8", "u2", "f2"]),
                                                  hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)))


def _npy_bytes(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(["status", "value", "args_after", "kwargs_after", "banned_used",
                                               "error", "traceback", "ok", "blobs"]), json_values, max_size=6),
       status=st.sampled_from(["ok", "error", "banned", "missing", None]),
       blobs=st.lists(_npy | st.binary(max_size=40), max_size=3),
       depth=st.integers(0, 3000))
def test_fuzz_reply_decoder_raises_nothing_but_a_lost_call(fields, status, blobs, depth):
    """Any header, any blobs, any nesting: the reply reaches the grader well-formed, or the call
    is lost with a reason; decoding and judging a well-formed one never raises."""
    if status is not None:
        fields["status"] = status
    frame = json.dumps(dict(fields, blobs=len(blobs))).encode()
    if depth:  # spliced in as text: json itself cannot build or write it
        fields.pop("value", None)
        frame = json.dumps(dict(fields, blobs=len(blobs))).encode()[:-1] + b', "value": ' + (
            b"[" * depth + b"]" * depth + b"}")
    result = receive([frame, *blobs])
    if isinstance(result, str):
        return
    reply, out = result
    if reply["status"] != "ok":
        return
    try:
        got = wire.decode(reply["value"], out)
        after = wire.decode(reply["args_after"], out), wire.decode(reply["kwargs_after"], out)
    except Exception:  # caught by the grader: "a value the grader cannot read"
        return
    assert isinstance(after[0], tuple) and isinstance(after[1], dict)
    _judge_everything(got)


# --------------------------------------------------------------------------- the comparators


def _judge_everything(got) -> None:
    """Every comparator and every helper that looks at a student's value, on `got`: never raises."""
    expected_values = [torch.zeros(2, 3), torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.bool),
                       1.5, (torch.zeros(1), 2.0), {"w": torch.zeros(1)}, np.zeros(2), 3]
    for expected in expected_values:
        for comparator in (Close(), Exact()):
            mismatch = comparator(expected, got, 1.0)
            assert mismatch is None or isinstance(mismatch, Mismatch)
            if mismatch is not None and mismatch.expected is not None:
                describe_value(mismatch.expected)
                describe_value(mismatch.got)
        unchanged(expected, got)
    describe_value(got)


def test_a_python_int_beyond_float_range_is_a_wrong_answer():
    mismatch = Close()(1.5, 10**400, 1.0)
    assert mismatch is not None and "inf" in mismatch.summary
    assert Close()(torch.zeros(2), 10**400, 1.0).summary.startswith("expected a torch.Tensor")


_dtypes = st.sampled_from([torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int64, torch.uint8,
                           torch.bool, torch.complex64])
_tensors = st.builds(lambda shape, dtype, fill: torch.full(shape, fill).to(dtype),
                     st.lists(st.integers(0, 3), max_size=3).map(tuple), _dtypes,
                     st.sampled_from([0.0, -1.0, 1e30, float("nan"), float("inf")]))
_arrays = hnp.arrays(st.sampled_from(["<f4", ">f8", "<f8", "i1", "?", "c8", "u2", "f2"]),
                     hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))
_numbers = (st.integers(-10**500, 10**500) | st.floats() | st.booleans()
            | st.builds(np.float16, st.floats(width=16)) | st.builds(np.int64, st.integers(-2**63, 2**63 - 1)))
student_values = st.recursive(
    _numbers | st.none() | st.text(max_size=5) | _tensors | _arrays | st.just(wire.Opaque("object", "<x>")),
    lambda inner: st.lists(inner, max_size=3) | st.lists(inner, max_size=3).map(tuple)
    | st.dictionaries(st.sampled_from(["w", "b", "x"]), inner, max_size=3),
    max_leaves=8)


@FUZZ
@given(got=student_values)
def test_fuzz_comparators_raise_nothing(got):
    _judge_everything(got)


# --------------------------------------------------------------------------- the notebook reader


def _notebook(*sources: str, **extra) -> bytes:
    cells = [{"cell_type": "code", "source": s, "metadata": {}, "outputs": [], "execution_count": None}
             for s in sources]
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells, **extra}).encode()


def test_a_cell_too_deep_for_the_parser_is_left_to_the_worker():
    deep = "x = 1" + " + 1" * 200_000
    submission = notebook.parse("n.ipynb", _notebook(deep, "y = 2"), "softmax")
    assert [c.strip() for c in submission.cells] == [deep, "y = 2"]


def test_a_notebook_too_deep_for_json_is_malformed():
    with pytest.raises(notebook.SubmissionError, match="not valid JSON"):
        notebook.parse("n.ipynb", b'{"cells": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "softmax")


def test_many_shell_escapes_are_converted_one_by_one():
    cell = "\n".join(f"!echo {i}" for i in range(2000)) + "\nfor i in range(2):\n    %time x = 1\n"
    converted = notebook.parse("n.ipynb", _notebook(cell), "softmax").cells[0]
    assert converted.count("get_ipython().system(") == 2000
    assert "    get_ipython().run_line_magic('time', 'x = 1')" in converted


def test_converting_a_notebook_stops_at_its_time_bound(monkeypatch):
    """A cell IPython converts slowly (here: any, with a bound of zero) is sent as written, with
    a note, and the cells after it too."""
    monkeypatch.setattr(notebook, "TRANSFORM_SECONDS", 1e-6)
    cells = ["x = 1\n%time y = 2", "!ls"]
    submission = notebook.parse("n.ipynb", _notebook(*cells), "softmax")
    assert submission.cells == cells
    assert any("took longer than" in note for note in submission.notes)


@FUZZ
@given(data=st.binary(max_size=200) | st.builds(lambda v: json.dumps(v).encode(), json_values),
       sources=st.lists(st.text(alphabet="!%?()[]{}\\\"'# \n=+-abcx01:", max_size=60), max_size=4),
       cells=json_values)
def test_fuzz_notebook_reader_raises_only_submission_errors(data, sources, cells):
    for raw in (data, _notebook(*sources), json.dumps({"nbformat": 4, "cells": cells, "metadata": cells}).encode()):
        try:
            submission = notebook.parse("n.ipynb", raw, "softmax")
        except notebook.SubmissionError:
            continue
        assert all(isinstance(c, str) for c in submission.cells)


# --------------------------------------------------------------------------- the class run


def test_a_submission_grading_raises_on_is_a_crash_and_the_run_goes_on(monkeypatch, tmp_path):
    """Whatever escapes `grade` (here: forced), the submission gets `crash` with the reason,
    the others are graded, and a resumed run does not grade it again."""
    from autograder import grade

    real = grade.grade_submission

    def raising(unit, reference, submission, label):
        if label == "bad.ipynb":
            raise RecursionError("maximum recursion depth exceeded")
        return real(unit, reference, submission, label)

    monkeypatch.setattr(grade, "grade_submission", raising)
    stub = SOFTMAX.stub.read_bytes()
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("bad", "good"):
        (inputs / f"{name}.ipynb").write_bytes(stub)
    out = tmp_path / "out"
    assert grade_class.grade_command("softmax", [inputs], out, quiet=True, jobs=1) == 0
    rows = (out / "grades.csv").read_text()
    assert f"\nbad,,,bad,0,0,0,0,0,0,{units.load('softmax').points:g},crash\n" in rows and "\ngood,,,good," in rows
    bad = json.loads((out / "bad" / "results.json").read_text())
    assert "RecursionError" in bad["output"] and bad["score"] == 0
    state = json.loads((out / "bad" / grade_class.STATE).read_text())
    assert state["report"]["status"] == "crash"
    good = json.loads((out / "good" / grade_class.STATE).read_text())
    assert good["report"]["status"] == "ok"

    def must_not_grade(*args):
        raise AssertionError("graded again")

    monkeypatch.setattr(pool, "_timed", must_not_grade)
    assert grade_class.grade_command("softmax", [inputs], out, quiet=True, jobs=1) == 0


def test_a_report_of_a_crash_names_what_went_wrong():
    from autograder import units
    from autograder.grade import crash_report

    report = crash_report(units.load("softmax"), "x.ipynb", "grading the notebook", OverflowError("too big"))
    assert isinstance(report, Report) and report.status == "crash" and report.score == 0
    assert "OverflowError: too big" in report.notes[0]


# --------------------------------------------------------------------------- grading time


def _prefixed(source: str, body: str) -> str:
    """`source`'s function with `body` (indented code) run first on every call."""
    lines = source.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("def ")) + 1
    while lines[at - 1].rstrip().endswith(",") or not lines[at - 1].rstrip().endswith(":"):
        at += 1
    lines.insert(at, body)
    return "\n".join(lines)


def _sleepy(functions: dict[str, str], seconds: float) -> dict[str, str]:
    """Each function first sleeps `seconds` when the grader calls it (not from the notebook)."""
    return {name: _prefixed(source, f"    import sys, time\n    if not sys._getframe(1).f_code.co_filename"
                                    f".startswith('<cell'):\n        time.sleep({seconds})")
            for name, source in functions.items()}


def test_sleeping_calls_end_the_submission_at_its_calls_budget(grader):
    """Every graded call sleeps just under the call limit: once all calls together have used
    `calls_seconds`, the submission ends as `timeout`, every remaining check failing at once."""
    plain = SOFTMAX.load_entry("correct", "plain")
    nb = SOFTMAX.submission_notebook(_sleepy(plain.functions, 1.2), plain.preamble)
    report = grader.notebook(nb, limits={"cell_seconds": 6, "call_seconds": 2, "calls_seconds": 3})
    assert report.status == "timeout", report.notes
    assert report.score == 0
    messages = [c.message for q in report.questions for c in q.checks]
    assert "used up the 3 s all graded calls of a submission may take together" in messages[0]
    assert all("3 s all graded calls" in m for m in messages), messages


def test_a_function_past_its_time_is_not_called_again(grader):
    report = grader.cached("hostile/sleep_under_call_limit")
    first, second = next(q for q in report.questions if q.name == "log_softmax").checks[:2]
    assert "used up the 3 s all graded calls of one function may take together" in first.message
    assert "it is not called again" in second.message
    assert report.status == "ok"


def test_the_submission_deadline_stops_a_notebook_of_slow_cells(grader):
    plain = SOFTMAX.load_entry("correct", "plain")
    nb = SOFTMAX.submission_notebook(plain.functions, plain.preamble,
                                     first=["import time\ntime.sleep(2)"] * 4)
    report = grader.notebook(nb, limits={"cell_seconds": 6, "submission_seconds": 5})
    assert report.status == "timeout"
    assert report.score == 0
    assert any("ran past the 5 s a whole submission may take" in n for n in report.notes), report.notes


# --------------------------------------------------------------------------- the training task


def test_the_training_task_is_drawn_from_the_code_within_the_stated_ranges():
    from autograder import units
    from autograder.units import gpt

    gpt_public = units.public_checks("gpt")

    tasks = {tuple(sorted(gpt.draw_task([f"# version {i}", "x = 1"]).kwargs.items())) for i in range(200)}
    assert tasks == {(("digits", d), ("length", n)) for n in gpt_public.SORT_LENGTHS
                     for d in gpt_public.SORT_DIGIT_COUNTS}
    cells = ["import torch", "def train_sorter(): ..."]
    assert gpt.draw_task(cells) is gpt.draw_task(list(cells))  # one Call: the four bars share one run


def test_weights_prepared_for_the_default_task_meet_another_task():
    """The hostile entry gpt/hostile/pretrained_weights is asked for a task its weights are not for."""
    from autograder.corpus import UnitFiles
    from autograder.units import gpt

    files = UnitFiles("gpt")
    nb = files.entry_notebook(files.load_entry("hostile", "pretrained_weights"))
    cells = notebook.parse("gpt.ipynb", json.dumps(nb).encode(), "gpt").cells
    assert dict(gpt.draw_task(cells).kwargs) != {"length": 6, "digits": 10}


@pytest.mark.skipif(os.environ.get("AUTOGRADER_SLOW_TESTS") != "1",
                    reason="starts a grading pool twice (10-20 s): AUTOGRADER_SLOW_TESTS=1")
def test_a_grading_process_that_dies_is_replaced_and_its_submissions_graded_again(tmp_path):
    """A grading process killed mid-run (as a fatal error in it would): the pool is started
    again, what was pending is graded one at a time, and every submission gets its report."""
    import signal
    import threading
    import time

    paths = []
    for i in range(3):
        path = tmp_path / f"s{i}.ipynb"
        path.write_bytes(SOFTMAX.stub.read_bytes())
        paths.append(path)
    with pool.Graders("softmax", 2) as graders:
        first = graders._executor

        def kill_one():
            while not first._processes:
                time.sleep(0.05)
            time.sleep(1.0)
            os.kill(next(iter(first._processes)), signal.SIGKILL)

        killer = threading.Thread(target=kill_one)
        killer.start()
        results = dict(graders.map(paths))
        killer.join()
        assert graders._executor is not first
    assert sorted(results) == [0, 1, 2]
    assert all(data["status"] == "ok" for data, _ in results.values()), [d["notes"] for d, _ in results.values()]


# --------------------------------------------------------------------------- CPU of the group

_SPIN_IN_A_CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
from autograder import worker as wire
from autograder.sandbox import Limits, Worker, WorkerLost

with Worker({}, Limits()) as w:
    assert w.uid is None  # the ordinary user's path: the worker's group is its descendants
    w.exec_cell(0, "import os, time\\ndef train():\\n    if os.fork() == 0:\\n        while True:\\n            pass\\n"
                   "    time.sleep(30)\\n    return 1\\n")
    blobs = []
    header = {"target": "train", "args": wire.encode((), blobs), "kwargs": wire.encode({}, blobs)}
    try:
        w.call(header, blobs, timeout=60, cpu_seconds=1)
        print("not stopped")
    except WorkerLost as lost:
        print(lost.reason)
"""


def _run_as_an_ordinary_user(script: str, tmp_path: Path):
    """`python -c script <copy of the autograder package>` as an ordinary user: the user we run
    as when it is not root, else a sandbox uid claimed for it (its processes killed after)."""
    import subprocess
    import tempfile

    from conftest import PROJECT, PYTHON

    if os.geteuid() != 0:
        root, user = tmp_path, {}
    else:
        uid, lock = sandbox.claim_uid()
        root = Path(tempfile.mkdtemp(prefix="autograder-ta-"))
        user = dict(user=uid, group=uid, extra_groups=[])
    try:
        shutil.copytree(PROJECT / "autograder", root / "project" / "autograder",
                        ignore=shutil.ignore_patterns("__pycache__"))
        if user:
            for path in [root, *root.rglob("*")]:
                os.chown(path, user["user"], user["user"])
        return subprocess.run([str(PYTHON), "-c", script, str(root / "project")], cwd=root,
                              env={"PATH": "/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8"},
                              capture_output=True, text=True, timeout=300, **user)
    finally:
        if user:
            sandbox.kill_uid(user["user"])
            shutil.rmtree(root, ignore_errors=True)
            os.close(lock)


def test_cpu_of_a_forked_child_counts_against_the_budget_as_an_ordinary_user(tmp_path):
    """Without root (no uid of its own), a call that works in a forked child while the worker
    sleeps is stopped at its CPU budget: the worker's descendants are its group. (As root,
    gpt/hostile/train_in_forked_child shows the same for every process of the sandbox uid.)"""
    done = _run_as_an_ordinary_user(_SPIN_IN_A_CHILD, tmp_path)
    assert "more than its budget of 1 s of CPU time" in done.stdout, done.stdout + done.stderr
    assert "counting every process it started" in done.stdout


def test_a_resumed_run_does_not_grade_again_what_stopped_the_last_one(monkeypatch, tmp_path):
    """With one job the grading happens in the CLI's own process: a fatal error there (here:
    the process "dies" while grading bad.ipynb) ends the run. The next run gives that file
    `crash` instead of dying on it again, and grades the others."""
    stub = SOFTMAX.stub.read_bytes()
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("bad", "good"):
        (inputs / f"{name}.ipynb").write_bytes(stub)
    out = tmp_path / "out"

    class Died(BaseException):
        pass

    real = pool._timed

    def dying(unit, reference, path):
        if path.name == "bad.ipynb":
            raise Died()
        return real(unit, reference, path)

    monkeypatch.setattr(pool, "_timed", dying)
    with pytest.raises(Died):
        grade_class.grade_command("softmax", [inputs], out, quiet=True, jobs=1)
    monkeypatch.setattr(pool, "_timed", real)
    assert grade_class.grade_command("softmax", [inputs], out, quiet=True, jobs=1) == 0
    rows = (out / "grades.csv").read_text()
    assert f"\nbad,,,bad,0,0,0,0,0,0,{units.load('softmax').points:g},crash\n" in rows and "\ngood,,,good," in rows
    assert "stopped while grading this submission in an earlier run" in (out / "bad" / "results.json").read_text()
    assert not (out / "bad" / grade_class.STARTED).exists()


# --------------------------------------------------------------------------- neighbours under --jobs 2

# The CLI runs of these tests claim sandbox uids here: a block of their own per pytest worker.
NEIGHBOURS_UID = EXPECTED_SANDBOX_UID + 800
_COMPUTE_ONCE = ("    import sys, time\n"
                 "    if not sys._getframe(1).f_code.co_filename.startswith('<cell') and not globals().get('_done'):\n"
                 "        globals()['_done'] = True\n"
                 "        _end = time.process_time() + {seconds}\n"
                 "        while time.process_time() < _end:\n"
                 "            pass")


def _computing_neighbour(cpu_seconds: float):
    """An honest softmax submission (correct/plain) whose first graded `softmax` call first
    computes for `cpu_seconds` of CPU (slow code, as students write it): it fits in its 20 s
    call limit only if it gets its CPU."""
    plain = SOFTMAX.load_entry("correct", "plain")
    slow = _prefixed(plain.functions["softmax"], _COMPUTE_ONCE.format(seconds=cpu_seconds))
    return SOFTMAX.submission_notebook(dict(plain.functions, softmax=slow), plain.preamble)


def _cpu_by_uid(uids: range) -> dict[int, tuple[int, float]]:
    """uid -> (live processes, CPU seconds they have used), for the uids of `uids` that have any."""
    found: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{entry}").st_uid
            if uid not in uids:
                continue
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            count, cpu = found.get(uid, (0, 0.0))
            found[uid] = (count + 1, cpu + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return found


def _grade_side_by_side(paths: list[Path], out: Path, first_uid: int, watch=None, unit: str = "softmax"):
    """`python -m autograder grade <unit> … --jobs 2`, sampling `watch(uid_block)` meanwhile;
    returns (the finished process, the samples: [(time, {uid: …})], processes left behind)."""
    import subprocess
    import threading
    import time

    from conftest import PROJECT, PYTHON, leftover_processes

    uids = range(first_uid, first_uid + 20)
    samples: list = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            samples.append((time.monotonic(), watch(uids)))
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    if watch is not None:
        sampler.start()
    try:
        done = subprocess.run([str(PYTHON), "-m", "autograder", "grade", unit, *map(str, paths),
                               "--out", str(out), "--jobs", "2"], cwd=PROJECT,
                              env=dict(os.environ, AUTOGRADER_SANDBOX_UID=str(first_uid)),
                              capture_output=True, text=True, timeout=600)
    finally:
        stop.set()
        if watch is not None:
            sampler.join()
        left = leftover_processes(set(uids))
        for uid in uids:
            sandbox.kill_uid(uid)
    return done, samples, left


def _scores(results: Path) -> dict[str, float]:
    return {t["name"]: t["score"] for t in json.loads(results.read_text())["tests"]}


@pytest.mark.skipif(not sandbox.IS_ROOT, reason="a worker is a resource group only as root (cgroups); "
                    "without root its limits are per process (README)")
def test_busy_children_do_not_starve_a_neighbour_under_jobs_2(grader, unit, tmp_path):
    """hostile/busy_children (40 children, each in a session of its own, burning CPU) graded
    beside an honest submission whose score depends on getting its CPU, two at a time: the run
    completes, the neighbour scores what it scores alone, the hostile worker's processes
    together never used more than its CPU quota, and none of them outlives the command."""
    if not sandbox.host().cgroups:
        pytest.skip("no writable cgroup hierarchy here: a worker's CPU is bounded per process only")
    neighbour = _computing_neighbour(1.5)
    alone = grader.notebook(neighbour).scores()
    assert alone == {q.name: q.points for q in unit.questions}  # it does score when it gets its CPU

    subs = tmp_path / "submissions"
    from conftest import entry_notebook, write_notebook

    paths = [write_notebook(entry_notebook(SOFTMAX.load_entry("hostile", "busy_children")), subs / "hog.ipynb"),
             write_notebook(neighbour, subs / "neighbour.ipynb")]
    done, samples, left = _grade_side_by_side(paths, tmp_path / "out", NEIGHBOURS_UID, watch=_cpu_by_uid)
    assert done.returncode == 0, done.stderr
    assert not left, "processes of the sandbox uids outlived the command"
    assert _scores(tmp_path / "out" / "neighbour" / "results.json") == alone
    assert (tmp_path / "out" / "grades.csv").read_text().count("\n") == 3

    _assert_the_hog_kept_its_quota(samples, NEIGHBOURS_UID, unit.limits.cpus)


def _assert_the_hog_kept_its_quota(samples, first_uid: int, cpus: float) -> None:
    """The hostile worker (the uid that had the 40 children) used at most its quota of CPU from
    the moment it was first seen (an upper bound: a loaded machine only lowers what it gets)."""
    hog = [uid for uid in range(first_uid, first_uid + 20)
           if max((seen.get(uid, (0, 0))[0] for _, seen in samples), default=0) >= 30]
    assert len(hog) == 1, "the hostile worker's children were never seen"
    seen = [(t, found[hog[0]][1]) for t, found in samples if hog[0] in found]
    start = seen[0][0] - 0.2  # it appeared at most one sampling period before it was seen
    most = max(cpu - cpus * (t - start) for t, cpu in seen)
    assert most < 0.5, f"the hostile worker's processes used {most:.1f} CPU-s more than their quota"


@pytest.mark.skipif(os.environ.get("AUTOGRADER_SLOW_TESTS") != "1" or not sandbox.IS_ROOT,
                    reason="trains gpt's reference beside a minute of busy children (~100 CPU-s), "
                           "as root: AUTOGRADER_SLOW_TESTS=1")
def test_busy_children_do_not_starve_a_training_neighbour_under_jobs_2(grader_for, tmp_path):
    """The same attack beside gpt's reference, whose train_sorter must train within its wall
    clock limit: it scores what it scores alone (18/18 had become 14/18 before resource groups)."""
    from autograder.corpus import UnitFiles
    from conftest import write_notebook

    if not sandbox.host().cgroups:
        pytest.skip("no writable cgroup hierarchy here: a worker's CPU is bounded per process only")
    gpt = grader_for("gpt")
    alone = gpt.cached("reference").scores()
    busy = SOFTMAX.load_entry("hostile", "busy_children").first  # its children burn for a minute here
    assert len(busy) == 1 and "time.monotonic() + 4\n" in busy[0]
    hog = gpt.files.submission_notebook({}, first=[busy[0].replace("time.monotonic() + 4\n", "time.monotonic() + 60\n")])
    subs = tmp_path / "submissions"
    paths = [write_notebook(hog, subs / "hog.ipynb"), write_notebook(gpt.files.reference_notebook(), subs / "ref.ipynb")]
    first_uid = NEIGHBOURS_UID + 40
    done, samples, left = _grade_side_by_side(paths, tmp_path / "out", first_uid, watch=_cpu_by_uid, unit="gpt")
    assert done.returncode == 0, done.stderr
    assert not left, "processes of the sandbox uids outlived the command"
    assert _scores(tmp_path / "out" / "ref" / "results.json") == alone
    assert sum(alone.values()) == gpt.unit.points
    _assert_the_hog_kept_its_quota(samples, first_uid, gpt.unit.limits.cpus)


# What the feedback of each crash-the-grader entry says (its own failure, in its own words).
CRASH_THE_GRADER = {
    "deep_reply_frame": "something unreadable while answering a graded call (message header nested too deeply)",
    "malformed_reply_fields": "something unreadable while answering a graded call (it lacks kwargs_after)",
    "huge_int_return": "Wrong output: expected a torch.Tensor, got",
    "deeply_nested_cell": "raised RecursionError; later cells still ran",
    "forked_child_answers": "stopped while answering a graded call",
}


@pytest.mark.skipif(not sandbox.IS_ROOT, reason="the CLI's sandbox uids are pinned for the sweep only as root")
def test_crash_the_grader_inputs_in_one_class_run_under_jobs_2(grader, tmp_path):
    """The inputs that once aborted a class run, graded in ONE `--jobs 2` run with an honest
    submission: the run completes with grades.csv, each gets its base's score and a message
    naming its own failure, the honest one scores what it scores alone, nothing outlives the
    command, and a resumed run grades none of them again."""
    from conftest import entry_notebook, reference_notebook, write_notebook

    out, subs = tmp_path / "out", tmp_path / "submissions"
    entries = {name: SOFTMAX.load_entry("hostile", name) for name in CRASH_THE_GRADER}
    paths = [write_notebook(entry_notebook(entry, out), subs / f"{name}.ipynb") for name, entry in entries.items()]
    paths.append(write_notebook(reference_notebook(), subs / "honest.ipynb"))
    done, _, left = _grade_side_by_side(paths, out, NEIGHBOURS_UID + 20)
    assert done.returncode == 0, done.stderr
    assert not left, "processes of the sandbox uids outlived the command"
    assert (out / "grades.csv").read_text().count("\n") == 1 + len(paths)
    assert _scores(out / "honest" / "results.json") == grader.cached("reference").scores()
    for name, entry in entries.items():
        results = json.loads((out / name / "results.json").read_text())
        assert _scores(out / name / "results.json") == grader.cached(entry.base).scores(), name
        said = results.get("output", "") + "".join(t.get("output", "") for t in results["tests"])
        assert CRASH_THE_GRADER[name] in said, (name, said)

    again, _, left = _grade_side_by_side(paths, out, NEIGHBOURS_UID + 20)
    assert again.returncode == 0, again.stderr
    assert f"0 graded now, {len(paths)} already graded" in again.stdout, again.stdout
    assert not left


@pytest.mark.skipif(not sandbox.IS_ROOT, reason="the CLI's sandbox uids are pinned for the sweep only as root")
def test_a_submission_cannot_read_its_neighbour_under_jobs_2(grader, tmp_path):
    """hostile/read_neighbours graded beside an honest notebook, both in a world-readable folder
    (a TA's scratch folder) named on the command line: it finds its neighbour's path and
    folder, but cannot read the notebook, so it scores its base's score, not the neighbour's."""
    import tempfile

    from conftest import entry_notebook, reference_notebook, write_notebook

    out = tmp_path / "out"
    subs = Path(tempfile.mkdtemp(prefix="autograder-inputs-"))
    try:
        os.chmod(subs, 0o755)
        entry = SOFTMAX.load_entry("hostile", "read_neighbours")
        paths = [write_notebook(entry_notebook(entry, out), subs / "attacker.ipynb"),
                 write_notebook(reference_notebook(), subs / "honest.ipynb")]
        for path in paths:
            os.chmod(path, 0o644)
        done, _, left = _grade_side_by_side(paths, out, NEIGHBOURS_UID + 40)
    finally:
        shutil.rmtree(subs, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    assert not left, "processes of the sandbox uids outlived the command"
    assert _scores(out / "honest" / "results.json") == grader.cached("reference").scores()
    assert _scores(out / "attacker" / "results.json") == grader.cached(entry.base).scores()
    assert grader.cached(entry.base).scores() != grader.cached("reference").scores()  # the attack had a gain


_CHILD_ANSWERS = """
import os, sys
sys.path.insert(0, sys.argv[1])
from autograder import sandbox
from autograder import worker as wire
from autograder.sandbox import Limits, Worker, WorkerLost

CELL = '''
import fcntl, os, sys
frame = sys._getframe()
while not {"_call", "send", "main"} <= frame.f_globals.keys():
    frame = frame.f_back
worker = frame.f_globals
real_call = worker["_call"]
def write_only(fd):
    try:
        return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY
    except OSError:
        return False
reply_fd = next(fd for fd in range(3, 256) if write_only(fd))

def child_answers(namespace, header, blobs):
    if header["target"] != "hostile":
        return real_call(namespace, header, blobs)
    if os.fork() != 0:
        os._exit(0)
    reply, out = real_call(namespace, header, blobs)
    worker["send"](reply_fd, reply, out)
    os._exit(0)

worker["_call"] = child_answers
def hostile():
    return 1
def honest():
    return 2
'''


def call(w, name):
    blobs = []
    header = {"target": name, "args": wire.encode((), blobs), "kwargs": wire.encode({}, blobs)}
    try:
        return w.call(header, blobs)[0]["value"]
    except WorkerLost as lost:
        return lost.reason


with Worker({}, Limits()) as w:
    assert w.uid is None  # the ordinary user's path
    reply = w.exec_cell(0, CELL)
    assert reply["ok"], reply
    print(call(w, "hostile"))
    w.restart()
    reply = w.exec_cell(0, CELL)
    assert reply["ok"], reply
    print(call(w, "honest"))
    print(call(w, "hostile"))
print("left:", sandbox._descendants(os.getpid()))
"""


def test_an_answer_from_a_forked_child_fails_that_call_as_an_ordinary_user(tmp_path):
    """Without root (a TA's laptop), a graded call whose worker exits while a child it forked
    answers: that call fails ("stopped while answering"), the restarted worker answers the next
    one, and the child is gone when the worker closes (re-parented to the grader, a subreaper)."""
    done = _run_as_an_ordinary_user(_CHILD_ANSWERS, tmp_path)
    lines = done.stdout.splitlines()
    assert len(lines) == 4, done.stdout + done.stderr
    assert "stopped while answering a graded call" in lines[0] and lines[1] == "2", lines
    assert "stopped while answering a graded call" in lines[2] and lines[3] == "left: []", lines
