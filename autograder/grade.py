"""The trusted grader: runs a unit's hidden checks against one submission.

The student's notebook executes only in a sandboxed `Worker`. This process draws inputs with
hypothesis, computes the reference's answer itself, asks the worker for the student's answer
(plain tensors back), and judges it. Nothing the student wrote ever runs here.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from hypothesis import HealthCheck, Phase, Verbosity, example, given, settings
from hypothesis.errors import HypothesisException
from hypothesis.internal.conjecture import providers as _hypothesis_providers

from . import notebook, units, worker as wire
from .compare import Mismatch, input_scale, unchanged
from .feedback import describe_call, describe_value, indent
from .report import CheckResult, QuestionResult, Report
from .sandbox import Worker, WorkerLost
from .spec import Call, Check, Model, Question, Unit


class _Failed(Exception):
    """A drawn input on which the student's function is wrong (hypothesis shrinks these)."""

    def __init__(self, call: Call, message: str):
        super().__init__(message)
        self.call, self.message = call, message


class _Stop(BaseException):
    """A failure that no other input can change (missing function, banned call, dead worker).

    A BaseException, so hypothesis stops at once instead of shrinking.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------- the session


class Session:
    """A submission's notebook, executed in a worker, that can be revived after a crash."""

    def __init__(self, unit: Unit, submission: notebook.Submission):
        self.unit, self.submission = unit, submission
        self.good_cells: list[int] = []
        self.notes: list[str] = []
        self.dead = ""  # why the notebook can no longer be called, if it cannot
        provided = {name: units.provided_path(unit.name, name).read_bytes() for name in unit.provided}
        self.worker = Worker({**provided, submission.name: submission.data}, unit.limits)
        try:
            self._provide()
        except BaseException:
            self.worker.close()
            raise

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.worker.close()

    def _provide(self) -> None:
        """Make the unit's provided .py files importable in the worker, before any cell runs."""
        for name in self.unit.provided:
            if name.endswith(".py"):
                reply = self.worker.provide(name.removesuffix(".py"), name)
                if not reply.get("ok"):  # the project's own file: a build problem, not the student's
                    raise WorkerLost(f"could not load the provided {name} ({reply.get('traceback')})")

    def run_notebook(self) -> None:
        """Every code cell in order; a failing cell is noted and the next ones still run."""
        for index, source in enumerate(self.submission.cells):
            where = f"code cell {index + 1} ({_first_line(source)})"
            try:
                reply = self.worker.exec_cell(index, source)
            except WorkerLost as lost:
                self.notes.append(f"{where}: the notebook {lost.reason}; skipped it")
                if not self._revive():
                    return
                continue
            if reply.get("ok"):
                self.good_cells.append(index)
            else:
                self.notes.append(f"{where} raised {reply.get('error')}; later cells still ran:\n"
                                  + indent(str(reply.get("traceback", ""))))

    def _revive(self) -> bool:
        """Restart the worker and replay the cells that succeeded before."""
        try:
            self.worker.restart()
            self._provide()
            for index in self.good_cells:
                self.worker.exec_cell(index, self.submission.cells[index])
            return True
        except WorkerLost as lost:
            self.dead = f"the notebook could not be restarted after a crash ({lost.reason})"
            return False

    def call(self, header: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
        if self.dead:
            raise _Stop(self.dead)
        try:
            return self.worker.call(header, blobs)
        except WorkerLost as lost:
            self._revive()
            raise _Stop(f"your code {lost.reason}") from None


# --------------------------------------------------------------------------- one check


def run_check(session: Session, unit: Unit, question: Question, check: Check,
              reference: ModuleType) -> CheckResult:
    ref_fn = check.oracle or getattr(reference, check.function)
    banned = list(unit.banned_for(question))
    hints = {id(ex.call): ex.hint for ex in check.examples}

    def evaluate(call: Call) -> None:
        torch.manual_seed(0)
        blobs: list[bytes] = []
        ref_args, ref_kwargs, wired = _with_models(unit, call)
        header = {"target": check.function, "banned": banned, "seed": 0}
        try:
            target = ref_fn
            if call.init is not None:  # a module: the student's gets the reference's weights
                # sent first: if the reference's constructor refuses the arguments, the
                # student's constructor must be called with them too, and refuse them
                header["init"] = wire.encode((tuple(call.init.args), dict(call.init.kwargs)), blobs)
                target = ref_fn(*copy.deepcopy(call.init.args), **copy.deepcopy(call.init.kwargs)).eval()
                header["state_dict"] = wire.encode(dict(target.state_dict()), blobs)
            with torch.no_grad():
                expected = target(*copy.deepcopy(ref_args), **copy.deepcopy(ref_kwargs))
        except ValueError as invalid:  # an invalid argument: the student must refuse it too
            expected = invalid
        header["args"] = wire.encode(tuple(wired.args), blobs)
        header["kwargs"] = wire.encode(dict(wired.kwargs), blobs)
        reply, out = session.call(header, blobs)
        status = reply.get("status")
        name = check.function
        if status == "missing":
            raise _Stop(f"the notebook does not define `{name}` (after running every cell)")
        if status == "banned":
            used = ", ".join(sorted(set(map(str, reply.get("banned_used", [])))))
            raise _Stop(f"`{name}` called {used}, which this question does not allow; "
                        "write it yourself with basic operations")
        error = str(reply.get("error")) if status == "error" else None
        if error == "NotImplementedError":
            raise _Stop(f"`{name}` is not implemented yet (it raises NotImplementedError)")
        if isinstance(expected, ValueError):
            if error == "ValueError":
                return
            did = f"raised {error}" if error else "returned a value"
            raise _Failed(call, f"`{name}` {did}, but these arguments are invalid ({expected}): "
                                "raise ValueError with a message that names the problem")
        if error:
            raise _Failed(call, f"`{name}` raised {error}:\n{indent(str(reply.get('traceback', '')))}")
        if status != "ok":
            raise _Stop("the notebook's worker sent back an unreadable reply")
        try:
            got = wire.decode(reply.get("value"), out)
            after = (wire.decode(reply.get("args_after"), out), wire.decode(reply.get("kwargs_after"), out))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise _Stop(f"the notebook sent back a value the grader cannot read ({exc})") from None
        if not unchanged((tuple(call.args), dict(call.kwargs)), (tuple(after[0]), after[1])):
            raise _Failed(call, f"`{name}` modified its input in place; functions must not change "
                                "their arguments (use out-of-place operations, or .clone() first)")
        mismatch = check.compare(expected, got, input_scale((call.args, call.kwargs)))
        if mismatch:
            hint = hints.get(id(call)) or mismatch.hint or next(
                (h.text for h in check.hints if _applies(h, call, expected, got)), "")
            raise _Failed(call, _explain(mismatch, hint))

    @settings(max_examples=check.max_examples, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
              verbosity=Verbosity.quiet, print_blob=False,
              phases=(Phase.explicit, Phase.generate, Phase.shrink))
    @given(check.inputs)
    def prop(call: Call) -> None:
        evaluate(call)

    for ex in reversed(check.examples):
        prop = example(ex.call)(prop)

    try:
        with _spec_inputs_only():
            prop()
    except _Failed as failure:
        return _failed(check, f"Smallest failing input found:\n{indent(describe_call(failure.call))}\n"
                              f"{failure.message}")
    except _Stop as stop:
        return _failed(check, stop.message)
    except HypothesisException as exc:  # e.g. Flaky: the student's function is not deterministic
        return _failed(check, f"`{check.function}` gave different results for the same input "
                              f"({type(exc).__name__}); it must be deterministic")
    return CheckResult(check.name, True, check.points, check.points)


def _with_models(unit: Unit, call: Call) -> tuple[tuple, dict, Call]:
    """The reference's arguments (each `Model` built into a module) and the worker's call (each
    `Model` a recipe carrying that module's weights). Feedback and hints keep seeing `call`."""
    built: dict[Model, tuple] = {}

    def build(value):
        if not isinstance(value, Model):
            return value, value
        if value not in built:
            torch.manual_seed(value.seed)
            model = getattr(units.provided_module(unit.name, value.module), value.factory)(**dict(value.kwargs)).eval()
            if value.weights:
                with np.load(units.provided_path(unit.name, value.weights), allow_pickle=False) as arrays:
                    model.load_state_dict({k: torch.from_numpy(arrays[k]) for k in arrays.files}, strict=True)
            recipe = wire.ModelRef(value.module, value.factory, dict(value.kwargs), value.seed,
                                   {k: v.detach().clone() for k, v in model.state_dict().items()})
            built[value] = (model, recipe)
        return built[value]

    args = [build(v) for v in call.args]
    kwargs = {k: build(v) for k, v in call.kwargs.items()}
    wired = Call(tuple(w for _, w in args), {k: w for k, (_, w) in kwargs.items()}, call.names, call.init)
    return tuple(a for a, _ in args), {k: a for k, (a, _) in kwargs.items()}, wired


@contextlib.contextmanager
def _spec_inputs_only():
    """Draw inputs from the spec's strategies alone, so every grading process draws the same.

    Hypothesis also mixes in constants it finds in the source of every local (non-site-packages)
    module imported so far, and caches them in ./.hypothesis. pytest, the CLI and the Gradescope
    plugin import different modules, so they would draw different inputs and could give a
    borderline submission different scores. (Internal API of the pinned hypothesis; guarded by
    tests/test_softmax_unit.py::test_drawn_inputs_do_not_depend_on_loaded_modules.)
    """
    providers = _hypothesis_providers
    saved = providers._get_local_constants
    providers._get_local_constants = providers.Constants
    providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = saved
        providers.CONSTANTS_CACHE.cache.clear()


def _failed(check: Check, message: str) -> CheckResult:
    return CheckResult(check.name, False, 0.0, check.points, message)


def _applies(hint, call, expected, got) -> bool:
    try:
        return bool(hint.applies(call, expected, got))
    except Exception:
        return False


def _explain(mismatch: Mismatch, hint: str) -> str:
    lines = [f"Wrong output: {mismatch.summary}"]
    if mismatch.expected is not None:
        lines.append(f"expected: {describe_value(mismatch.expected)}")
        lines.append(f"got:      {describe_value(mismatch.got)}")
    if hint:
        lines.append(f"Hint: {hint}")
    return "\n".join(lines)


def _first_line(source: str) -> str:
    line = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
    return line[:60] + ("…" if len(line) > 60 else "")


# --------------------------------------------------------------------------- a submission


def zero_report(unit: Unit, submission: str, status: str, message: str) -> Report:
    """Every check failed with the same message (a submission that cannot be run at all)."""
    report = Report(unit.name, submission, status=status, notes=[message])
    for question in unit.questions:
        report.questions.append(QuestionResult(
            question.name, [_failed(c, message) for c in question.checks]))
    return report


def grade(unit: Unit, reference: ModuleType, path: Path) -> Report:
    """Grade one submission file. Never raises for anything the submission does."""
    try:
        submission = notebook.load(path, unit.name)
    except notebook.SubmissionError as exc:
        return zero_report(unit, path.name, "malformed", f"Cannot grade this submission: {exc}.")
    except OSError as exc:
        return zero_report(unit, path.name, "malformed", f"Cannot read this submission: {exc.strerror}.")
    return grade_submission(unit, reference, submission, path.name)


def grade_submission(unit: Unit, reference: ModuleType, submission: notebook.Submission,
                     label: str) -> Report:
    report = Report(unit.name, label, notes=list(submission.notes))
    # The trusted side's tensors are tiny: torch's thread pool only adds overhead to each op
    # (on a busy 2-core machine, ~100x: a 40x40 softmax took 4 ms of CPU instead of 40 us).
    torch.set_num_threads(1)
    try:
        session = Session(unit, submission)
    except WorkerLost as lost:
        return zero_report(unit, label, "crash", f"The grader could not start Python for your notebook "
                                                 f"({lost.reason}); please tell your instructor.")
    with session:
        session.run_notebook()
        report.notes += session.notes
        for question in unit.questions:
            results = [run_check(session, unit, question, check, reference) for check in question.checks]
            report.questions.append(QuestionResult(question.name, results))
        report.printed = session.worker.output()
    if session.dead:
        report.status = "crash"
        report.notes.append(session.dead)
    return report
