"""The trusted grader: runs a unit's hidden checks against one submission.

The student's notebook executes only in a sandboxed `Worker`. This process draws inputs with
hypothesis, computes the reference's answer itself, asks the worker for the student's answer
(plain tensors back), and judges it. Nothing the student wrote ever runs here.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import hashlib
import io
import pickle
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np
import torch
from hypothesis import HealthCheck, Phase, Verbosity, example, given, seed, settings
from hypothesis.errors import HypothesisException
from hypothesis.internal.conjecture import providers as _hypothesis_providers

from . import distribution, followthrough, notebook, units, worker as wire
from .compare import Mismatch, input_scale, unchanged
from .feedback import MAX_LINES, describe_call, describe_value, fold, indent
from .report import CheckResult, QuestionResult, Report
from .sandbox import Worker, WorkerLost
from .spec import Call, Check, Model, Question, Unit
from .verdict import Kind, Verdict


class _Failed(Exception):
    """A drawn input on which the student's function is wrong (hypothesis shrinks these)."""

    def __init__(self, call: Call, verdict: Verdict):
        super().__init__(verdict.message)
        self.call, self.verdict = call, verdict


class Stop(BaseException):
    """A failure that no other input can change (missing function, banned call, dead worker).

    A BaseException, so hypothesis stops at once instead of shrinking.
    """

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.message)
        self.verdict = verdict


def _raise(call: Call, verdict: Verdict):
    """End the property with `verdict`: a failure on this input shrinks, any other stops it."""
    raise _Failed(call, verdict) if verdict.kind.shrinks else Stop(verdict)


# --------------------------------------------------------------------------- the session


class Session:
    """A submission's notebook, executed in a worker, that can be revived after a crash."""

    def __init__(self, unit: Unit, submission: notebook.Submission):
        self.unit, self.submission = unit, submission
        self.good_cells: list[int] = []
        self.notes: list[str] = []
        self.cells_lost: list[Kind] = []  # what ended each cell that lost the worker
        self.dead: Verdict | None = None  # why the notebook can no longer be called, if it cannot
        self.out_of_time = False  # the submission's deadline passed: nothing more is asked
        self.judged_calls: dict = {}  # results of judged checks' calls, shared between checks
        self.results: dict[str, QuestionResult] = {}  # the questions graded so far, by name
        self.excused: set[str] = set()  # questions whose banned calls were their dependencies' loss
        self.carried: dict[str, list[str]] = {}  # question -> the wrong dependencies it followed through
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
                self.cells_lost.append(lost.kind)
                if lost.out_of_time:
                    self._stop(lost)
                if self.dead or not self._revive():
                    return
                continue
            if reply.get("ok"):
                self.good_cells.append(index)
            else:
                self.notes.append(f"{where} raised {reply.get('error')}; later cells still ran:\n"
                                  + indent(str(reply.get("traceback", ""))))

    def _stop(self, lost: WorkerLost) -> None:
        """The submission's time is up: every later request fails at once with this message."""
        self.out_of_time = True
        self.dead = Verdict.stopped(Kind.OUT_OF_TIME, f"grading stopped: the notebook {lost.reason}")

    def _revive(self) -> bool:
        """Restart the worker and replay the cells that succeeded before."""
        try:
            self.worker.restart()
            self._provide()
            for index in self.good_cells:
                self.worker.exec_cell(index, self.submission.cells[index])
            return True
        except WorkerLost as lost:
            if lost.out_of_time:
                self._stop(lost)
            else:
                self.dead = Verdict.stopped(Kind.CRASHED, f"the notebook could not be restarted after a crash "
                                                          f"({lost.reason})")
            return False

    def call(self, header: dict, blobs: list[bytes], cpu_seconds: float | None = None) -> tuple[dict, list[bytes]]:
        if self.dead:
            raise Stop(self.dead)
        for attempt in (1, 2):
            try:
                if cpu_seconds is None:
                    return self.worker.call(header, blobs)
                # on half a loaded vCPU, wall clock runs at least twice as fast as CPU time
                timeout = max(self.unit.limits.call_seconds, 4 * cpu_seconds + 30)
                return self.worker.call(header, blobs, timeout=timeout, cpu_seconds=cpu_seconds)
            except WorkerLost as lost:
                # A worker that ended after answering the last call (a child of its answered for
                # it, then both exited) is not this call's doing: restarted, it is asked once more.
                if lost.gone_before and attempt == 1 and not self.dead and self._revive():
                    continue
                raise Stop(self.revive_after(lost)) from None

    def revive_after(self, lost: WorkerLost) -> Verdict:
        """Restart the worker after a graded call lost it; the call's verdict."""
        if lost.out_of_time:
            self._stop(lost)
            return self.dead
        if not lost.alive:  # a refused call left the worker as it was
            self._revive()
        return Verdict.lost(lost.kind, lost.reason)


# --------------------------------------------------------------------------- one check


def request_base(unit: Unit, question: Question, check: Check) -> dict:
    """What every request for `check`'s function carries: its name, the calls its question bans,
    the seed, and the module and config class it is built with (if any)."""
    base = {"target": check.function, "banned": list(unit.banned_for(question)), "seed": 0}
    base.update({k: v for k, v in (("module", check.module), ("config_class", check.config_class)) if v})
    return base


def planned_request(base: dict, planned: "_Planned", blobs: list[bytes]) -> dict:
    """`base` with a planned call's arguments (and the module's init and weights), encoded into `blobs`."""
    header = dict(base)
    if planned.init:
        header["init"] = wire.encode(planned.init[0], blobs)
    if len(planned.init or ()) > 1:
        header["state_dict"] = wire.encode(planned.init[1], blobs)
    header["args"] = wire.encode(tuple(planned.wired.args), blobs)
    header["kwargs"] = wire.encode(dict(planned.wired.kwargs), blobs)
    return header


def run_check(session: Session, unit: Unit, question: Question, check: Check,
              reference: ModuleType) -> CheckResult:
    if isinstance(check, distribution.DistributionCheck):  # graded randomness: its own runner
        return distribution.run(session, unit, question, check, reference)
    if check.judge is not None:
        return run_judged_check(session, unit, question, check)
    hints = {id(ex.call): ex.hint for ex in check.examples}
    deps = _dependencies(unit, question, reference)
    carried: list[str] = []  # dependencies on whose wrong answers a right composition was accepted

    base = request_base(unit, question, check)
    if deps and base["banned"]:  # a banned call made inside a dependency costs the dependency's question
        base["exempt"] = list(deps)

    def request(planned: _Planned, blobs: list[bytes]) -> dict:
        return planned_request(base, planned, blobs)

    def judge(planned: _Planned, reply: dict, out: list[bytes]) -> None:
        call, expected, name = planned.call, planned.expected, check.function
        _check_exempted(session, unit, question, name, reply.get("banned_in"))
        answer = read_reply(check, reply, out)
        raised = isinstance(answer, Verdict) and answer.kind is Kind.RAISED
        if isinstance(expected, ValueError) and (raised or isinstance(answer, _Answer)
                                                 or answer.kind is Kind.UNDECODABLE):
            if raised and reply.get("error") == "ValueError":
                return
            did = f"raised {reply.get('error')}" if raised else "returned a value"
            hint = hints.get(id(call)) or "raise ValueError with a message that names the problem"
            raise _Failed(call, Verdict.wrong(f"`{name}` {did}, but these arguments are invalid ({expected})")
                          .hinted(hint))
        if raised and deps and question.follow_through:  # raised where the student's own dependency raises
            followed = _follow_through(session, unit, check, reference, deps, planned)
            if followed is not None and followed.raised and followed.raised[1] == str(reply.get("error")):
                carried.extend(n for n in followed.raised[:1] if n not in carried)
                return
        if isinstance(answer, Verdict):  # an example aimed at this case says what the input needs
            _raise(call, answer.hinted(hints.get(id(call)) or "") if raised else answer)
        got, after = answer.value, answer.after
        if not unchanged((tuple(call.args), dict(call.kwargs)), (tuple(after[0]), after[1])):
            raise _Failed(call, Verdict.changed_input(name))
        scale = input_scale((call.args, call.kwargs))
        mismatch = check.compare(expected, got, scale)
        if mismatch and deps and question.follow_through:
            followed = _follow_through(session, unit, check, reference, deps, planned)
            if followed is not None and not followed.raised and followed.differed \
                    and not check.compare(followed.value, got, scale):
                carried.extend(n for n in followed.differed if n not in carried)
                return  # right, given the student's own (wrong) dependencies
        if mismatch:
            # a diagnosis of what the output actually shows beats an example's fixed hint
            hint = next((h.text for h in check.hints if _applies(h, call, expected, got)), "") \
                or hints.get(id(call)) or mismatch.hint
            raise _Failed(call, Verdict.wrong(_explain(mismatch, hint)))

    def passed() -> CheckResult:
        if not carried:
            return CheckResult(check.name, True, check.points, check.points)
        roots = wrong_roots(session, unit, carried)
        session.carried.setdefault(question.name, [])
        session.carried[question.name] += [r for r in roots if r not in session.carried[question.name]]
        return CheckResult(check.name, True, check.points, check.points,
                           followthrough.carried_message(unit, roots))

    def evaluate(call: Call) -> None:
        planned = prepare(unit, check, reference, call)
        blobs: list[bytes] = []
        header = request(planned, blobs)
        judge(planned, *session.call(header, blobs))

    if FAST_PATH:
        plan = _plan(unit, question, check, reference)
        outcome = _all_pass(session, plan, request, judge) if plan is not None else False
        if isinstance(outcome, Verdict):
            return failed(check, outcome)
        if outcome:
            return passed()

    try:
        with spec_inputs_only():
            _property(unit, question, check, evaluate)()
    except _Failed as failure:
        return failed(check, failure.verdict.on_input(describe_call(failure.call)))
    except Stop as stop:
        return failed(check, stop.verdict)
    except HypothesisException as exc:  # e.g. Flaky: the student's function is not deterministic
        return failed(check, Verdict.not_deterministic(check.function, exc))
    return passed()


_DEPENDENCIES: dict[tuple[int, str, int], tuple[Unit, ModuleType, tuple[str, ...]]] = {}


def _dependencies(unit: Unit, question: Question, reference: ModuleType) -> tuple[str, ...]:
    key = (id(unit), question.name, id(reference))
    if key not in _DEPENDENCIES:  # holding unit and reference keeps their ids unique
        _DEPENDENCIES[key] = (unit, reference, followthrough.dependencies(unit, question, reference))
    return _DEPENDENCIES[key][2]


def wrong_roots(session: Session, unit: Unit, names: list[str]) -> list[str]:
    """The dependencies to blame: a dependency whose own question passed only by following
    through (e.g. multi_head_attention over a wrong scaled_dot_product_attention) is replaced by
    the ones it was blamed on."""
    roots: list[str] = []
    for name in names:
        question = question_of(unit, name).name
        result = session.results.get(question)
        passed = result is not None and result.score >= result.max_score
        for root in (session.carried.get(question, []) if passed else []) or [name]:
            if root not in roots:
                roots.append(root)
    return roots


def question_of(unit: Unit, name: str) -> Question:
    return next(q for q in unit.questions if name in q.functions)


def _check_exempted(session: Session, unit: Unit, question: Question, name: str, banned_in) -> None:
    """A banned call the worker let through because a dependency made it (`banned_in`: {dep:
    [banned names]}) is the dependency's question's loss, provided that question lost points
    (or was itself excused, e.g. multi_head_attention calling a banned attention); a dependency
    that passes on its own but calls banned code here is this question's banned call."""
    if not banned_in:
        return
    for dep, used in dict(banned_in).items():
        owner = next((q.name for q in unit.questions if str(dep) in q.functions), None)
        charged = session.results.get(owner) if owner else None
        if charged is None or (charged.score >= charged.max_score and owner not in session.excused):
            raise Stop(Verdict.banned(name, used, through=str(dep)))
    session.excused.add(question.name)


def _follow_through(session: Session, unit: Unit, check: Check, reference: ModuleType, deps: tuple[str, ...],
                    planned: _Planned) -> followthrough.Followed | None:
    """The reference's answer composed with the student's own `deps` (or which dependency raised
    where the reference's does not); None if it cannot be computed (autograder/followthrough.py)."""
    call = planned.call
    torch.manual_seed(0)
    ref_args, ref_kwargs, wired = _with_models(unit, call)
    models = {id(a): w for a, w in zip(ref_args, wired.args) if a is not w}
    models.update({id(ref_kwargs[k]): w for k, w in wired.kwargs.items() if ref_kwargs[k] is not w})
    router = followthrough.Router(lambda header, blobs: session.call(header, blobs), models, deps)
    router.model_objects = [a for a in (*ref_args, *ref_kwargs.values()) if id(a) in models]
    module = module_call = None
    if planned.init:
        torch.manual_seed(0)
        module = _reference_module(reference, check, call.init)
        module.load_state_dict(planned.init[1], strict=True)
        if check.module:
            module_call = {"target": check.module, "init": planned.init[0], "state_dict": planned.init[1]}
            if check.config_class:
                module_call["config_class"] = check.config_class
            if check.module not in deps:  # the student's module is not followed: the reference's is used
                module_call = None
                ref_args = (module, *ref_args)
                module = None
    try:
        torch.manual_seed(0)
        value, differed = followthrough.expectation(reference, deps, check.function, router, ref_args,
                                                    ref_kwargs, module, module_call)
        return followthrough.Followed(value, differed)
    except Stop:  # the dependency's call lost the worker (revived): judge against the reference alone
        return None
    except Exception:  # a dependency raised or returned another layout; or the reference could not use it
        return followthrough.Followed(raised=router.raised) if router.raised else None


def _property(unit: Unit, question: Question, check: Check, test: Callable[[Call], None]):
    """`test` as the check's hypothesis property: its explicit examples, then drawn inputs,
    then (on a failure) shrinking to the smallest failing input.

    The inputs are drawn from a seed named by the unit, question and check: derandomize alone
    would seed from a digest of this property's source, so editing the grader would change
    every input drawn, and scores with them.
    """

    @settings(max_examples=check.max_examples, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
              verbosity=Verbosity.quiet, print_blob=False,
              phases=(Phase.explicit, Phase.generate, Phase.shrink))
    @given(check.inputs)
    def prop(call: Call) -> None:
        test(call)

    for ex in reversed(check.examples):
        prop = example(ex.call)(prop)
    name = f"{unit.name}/{question.name}/{check.name}".encode()
    return seed(int.from_bytes(hashlib.sha256(name).digest()[:8], "big"))(prop)


# --------------------------------------------------------------------------- the fast path
#
# Hypothesis draws the same inputs, in the same order, for every submission on which no input
# fails: drawing is derandomized and only a failure changes what it does next (shrinking).
# So a grading process draws each check's inputs once, with the reference's answers, and then
# asks each submission for all its answers in one request. If all are right, the check passes,
# exactly as the property would have. If one is wrong, the property runs as usual and shrinks
# to the smallest failing input; a failure that stops the property at once (missing function,
# banned call, a timeout) ends the check here with the same message.

FAST_PATH = True  # tests turn it off to compare both paths
_BATCH_BLOBS, _BATCH_BYTES = 4000, 16 << 20  # under the wire's per-message limits


@dataclasses.dataclass
class _Planned:
    call: Call  # as drawn: for feedback, hints and the in-place check
    expected: Any  # the reference's answer, or the ValueError it raised
    wired: Call  # the worker's arguments (a `Model` as a recipe with its weights)
    init: list | None  # a module: [constructor (args, kwargs), the reference's state_dict]


_PLANS: dict[tuple[int, int], tuple[Check, ModuleType, list[_Planned] | None]] = {}


def _plan(unit: Unit, question: Question, check: Check, reference: ModuleType) -> list[_Planned] | None:
    """Every input the property tries on a submission that passes it, in order, with the
    reference's answers (once per process). None if drawing them failed (the slow path then
    reports the same problem as it always did)."""
    key = (id(check), id(reference))
    if isinstance(check, distribution.DistributionCheck):  # no plan: its runner asks case by case
        _PLANS.setdefault(key, (check, reference, None))
    if key not in _PLANS:
        planned: list[_Planned] = []
        try:
            with spec_inputs_only():
                _property(unit, question, check, lambda call: planned.append(prepare(unit, check, reference, call)))()
        except Exception:
            planned = None
        _PLANS[key] = (check, reference, planned)  # holding both keeps their ids unique
    return _PLANS[key][2]


def plan_unit(unit: Unit, reference: ModuleType) -> None:
    """Draw every check's inputs now (seconds), e.g. while a fork server starts."""
    torch.set_num_threads(1)
    for question in unit.questions:
        for check in question.checks:
            if check.judge is None:
                _plan(unit, question, check, reference)


# A unit's plan can also be drawn once at build time and shipped in its Gradescope zip
# (`save_plans`/`load_plans`): on Gradescope's 0.5 CPU, drawing it took seconds of every
# student's wait, for the same inputs and answers each time. The file is the build's own
# (trusted, root-only on Gradescope); it is used only if its fingerprint matches the unit's
# spec, the reference and the versions that drew it, and it holds what `_plan` would compute.

_PACKAGE = __name__.rpartition(".")[0]  # "autograder", or files.decoding_gpt_grader.autograder


def _plan_fingerprint(unit: Unit, reference: ModuleType) -> str:
    import hypothesis

    versions = f"{torch.__version__.split('+')[0]} {hypothesis.__version__} {np.__version__}"
    digest = hashlib.sha256(versions.encode())
    for path in (Path(__file__).parent / "units" / f"{unit.name}.py", Path(__file__).parent / "strategies.py",
                 Path(__file__).parent / "spec.py", Path(reference.__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def save_plans(unit: Unit, reference: ModuleType, path: Path) -> None:
    """Draw every check's plan (`plan_unit`) and write it to `path`, with the unit's
    `precomputed` values."""
    plan_unit(unit, reference)
    plans = {(q.name, c.name): _PLANS[(id(c), id(reference))][2]
             for q in unit.questions for c in q.checks if c.judge is None}
    values = {value.name: value() for value in unit.precomputed}
    buffer = io.BytesIO()
    _PlanPickler(buffer, protocol=5).dump({"fingerprint": _plan_fingerprint(unit, reference), "plans": plans,
                                           "precomputed": values})
    path.write_bytes(buffer.getvalue())


def _tensor(data: bytes, dtype: str, offset: int, size: tuple, stride: tuple, requires_grad: bool):
    storage = torch.frombuffer(bytearray(data), dtype=torch.uint8).untyped_storage() if data \
        else torch.UntypedStorage(0)
    tensor = torch.empty(0, dtype=getattr(torch, dtype)).set_(storage, offset, size, stride)
    return tensor.requires_grad_(requires_grad)


class _PlanPickler(pickle.Pickler):
    """Tensors by their bytes: torch's own pickling names a storage by its memory address, so
    two builds of one zip would differ."""

    def reducer_override(self, obj):
        if type(obj) in (torch.Tensor, torch.nn.Parameter):
            storage = obj.untyped_storage()
            data = torch.empty(0, dtype=torch.uint8).set_(storage).numpy().tobytes() if storage.nbytes() else b""
            return _tensor, (data, str(obj.dtype).removeprefix("torch."), obj.storage_offset(),
                             tuple(obj.shape), obj.stride(), obj.requires_grad)
        return NotImplemented


class _PlanUnpickler(pickle.Unpickler):
    """Reads `autograder.*` classes as this package's (on Gradescope the package is
    files.decoding_gpt_grader.autograder)."""

    def find_class(self, module: str, name: str):
        if module == "autograder" or module.startswith("autograder."):
            module = _PACKAGE + module[len("autograder"):]
        return super().find_class(module, name)


def load_plans(unit: Unit, reference: ModuleType, path: Path) -> bool:
    """Use the plans `save_plans` wrote to `path`; False (nothing loaded) if there are none or
    they were drawn for another spec, reference or version: `_plan` then draws them."""
    try:
        with open(path, "rb") as file:
            saved = _PlanUnpickler(file).load()
    except (OSError, EOFError, ImportError, AttributeError, ValueError, TypeError):
        return False
    if not isinstance(saved, dict) or saved.get("fingerprint") != _plan_fingerprint(unit, reference):
        return False
    values = saved.get("precomputed", {})
    for value in unit.precomputed:
        if value.name in values:
            value.prime(values[value.name])
    plans = saved.get("plans", {})
    checks = [(q, c) for q in unit.questions for c in q.checks if c.judge is None]
    if set(plans) != {(q.name, c.name) for q, c in checks}:
        return False
    for question, check in checks:
        _PLANS[(id(check), id(reference))] = (check, reference, plans[(question.name, check.name)])
    return True


def _all_pass(session: Session, plan: list[_Planned], request, judge) -> bool | Verdict:
    """True if the submission answers every planned input right; False if one answer is wrong
    (the property must find and shrink it); the verdict of a failure that ends the check at once."""
    start = 0
    while start < len(plan):
        blobs: list[bytes] = []
        headers, size = [], 0
        for planned in plan[start:]:
            before = len(blobs)
            headers.append(request(planned, blobs))
            size += sum(map(len, blobs[before:]))
            if len(blobs) > _BATCH_BLOBS or size > _BATCH_BYTES:
                break
        if session.dead:
            return session.dead
        replies, lost = session.worker.call_many(headers, blobs)
        for planned, (reply, out) in zip(plan[start:], replies):
            try:
                judge(planned, reply, out)
            except Stop as stop:
                return stop.verdict
            except _Failed:
                if lost:
                    session.revive_after(lost)
                return False
        if lost:
            return session.revive_after(lost)
        start += len(headers)
    return True


def prepare(unit: Unit, check: Check, reference: ModuleType, call: Call, evaluate: bool = True) -> _Planned:
    """Everything about one input that does not depend on the submission. evaluate=False: no
    expected answer (None), for a check that judges the answer otherwise (a distribution check
    computes exact probabilities: the reference's own 20000 samples would only cost memory)."""
    ref_fn = check.oracle or getattr(reference, check.function)
    torch.manual_seed(0)
    ref_args, ref_kwargs, wired = _with_models(unit, call)
    init = None
    try:
        target = ref_fn
        if call.init is not None:  # a module: the student's gets the reference's weights
            # sent first: if the reference's constructor refuses the arguments, the
            # student's constructor must be called with them too, and refuse them
            init = [(tuple(call.init.args), dict(call.init.kwargs))]
            module = _reference_module(reference, check, call.init)
            init.append(dict(module.state_dict()))
            target = functools.partial(ref_fn, module) if check.module else module
        if evaluate:
            with torch.no_grad():
                expected = target(*copy.deepcopy(ref_args), **copy.deepcopy(ref_kwargs))
        else:
            expected = None
    except ValueError as invalid:  # an invalid argument: the student must refuse it too
        expected = invalid
    return _Planned(call, expected, wired, init)


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


def _reference_module(reference: ModuleType, check: Check, init: Call) -> torch.nn.Module:
    """The reference's module for a call's `init` (seeded by the caller), in eval mode."""
    cls = getattr(reference, check.module or check.function)
    args, kwargs = copy.deepcopy(init.args), copy.deepcopy(init.kwargs)
    if check.config_class:
        args, kwargs = (getattr(reference, check.config_class)(*args, **kwargs),), {}
    module = cls(*args, **kwargs).eval()
    if check.weights is not None:
        with torch.no_grad():
            check.weights(module)
    return module


def _name_wrong_dependencies(unit: Unit, question: Question, reference: ModuleType,
                             earlier: dict[str, QuestionResult], results: list[CheckResult]) -> None:
    """A question that does not follow through (e.g. training the student's own model) names,
    in each failed check, the dependencies whose questions lost points: they must pass first."""
    wrong = [d for d in _dependencies(unit, question, reference)
             if (r := earlier.get(question_of(unit, d).name)) is not None and r.score < r.max_score]
    if not wrong:
        return
    numbers = sorted({unit.questions.index(question_of(unit, d)) + 1 for d in wrong})
    note = (f"This question builds on your {' and '.join(f'`{d}`' for d in wrong)}, which "
            f"{'is' if len(wrong) == 1 else 'are'} wrong: see question{'s' if len(numbers) > 1 else ''} "
            f"{' and '.join(map(str, numbers))}; make {'it' if len(wrong) == 1 else 'them'} pass first.")
    for result in results:
        if not result.passed:
            result.message = f"{note}\n{result.message}" if result.message else note


@dataclasses.dataclass
class _Answer:
    """What the student's function returned, decoded."""
    value: Any
    after: tuple | None  # (args, kwargs) as they were after the call, if asked for


def read_reply(check: Check, reply: dict, out: list[bytes], args_after: bool = True) -> Verdict | _Answer:
    """The one reading of a graded call's reply, for every kind of check: the verdict on a
    reply that is no answer (missing, banned, side effect, not implemented, raised, unreadable),
    else the decoded answer (with the arguments as the call left them, if `args_after`)."""
    status, name = reply.get("status"), check.function
    if status == "missing":
        return Verdict.missing(check.function, check.module, check.config_class)
    if status == "banned":
        return Verdict.banned(name, reply.get("banned_used", []))
    if status == "side_effect":
        return Verdict.side_effect(name, [str(e) for e in reply.get("effects", []) if isinstance(e, str)])
    if status == "error":
        error = str(reply.get("error"))
        if error == "NotImplementedError":
            return Verdict.not_implemented(name)
        return Verdict.raised(name, error, str(reply.get("traceback", "")))
    if status != "ok":
        return Verdict.unreadable_reply()
    try:
        value = wire.decode(reply.get("value"), out)
        after = (wire.decode(reply.get("args_after"), out), wire.decode(reply.get("kwargs_after"), out)) \
            if args_after else None
    except Exception as exc:  # anything the decoder meets in what the student's code sent
        return Verdict.undecodable(exc)
    return _Answer(value, after)


def run_judged_check(session: Session, unit: Unit, question: Question, check: Check) -> CheckResult:
    """A check judged by `check.judge` on the student's result (e.g. a trained model): each
    explicit example is called with the check's CPU budget; the score is the points times the
    smallest fraction the judge gives. Checks of one question that share an example's Call
    object (e.g. accuracy thresholds of one training run) share its one call."""
    fraction, messages = 1.0, []
    for ex in check.examples:
        call = check.draw(session.submission.cells) if check.draw else ex.call
        try:
            reply, out, used = _judged_call(session, unit, question, check, call)
            answer = Verdict.over_budget(check.function, used, check.cpu_seconds) \
                if reply.get("status") == "ok" and check.cpu_seconds is not None and used > check.cpu_seconds \
                else read_reply(check, reply, out, args_after=False)
        except Stop as stop:
            answer = stop.verdict
        if isinstance(answer, Verdict):  # the hint (about the budget) only when time or CPU ran out
            return failed(check, answer.hinted(ex.hint) if answer.kind.out_of_compute else answer)
        got, name = answer.value, check.function
        try:
            earned, message = check.judge(call, got)
            earned = min(1.0, max(0.0, float(earned)))
        except Exception as exc:  # the judge met something the student returned that it cannot use
            earned, message = 0.0, f"the grader could not evaluate what `{name}` returned ({type(exc).__name__}: {exc})"
        fraction = min(fraction, earned)
        messages.append(message)
    score = round(check.points * fraction, 5)
    return CheckResult(check.name, score == check.points, score, check.points, "\n".join(m for m in messages if m),
                       Kind.PASSED if score == check.points else Kind.WRONG)


def _judged_call(session: Session, unit: Unit, question: Question, check: Check, call: Call):
    """(reply, blobs, CPU seconds used) of the student's function on `call`, made once per session."""
    key = (question.name, check.function, id(call), check.cpu_seconds)
    if key not in session.judged_calls:
        blobs: list[bytes] = []
        header = {**request_base(unit, question, check), "state_dicts": True,
                  "args": wire.encode(tuple(call.args), blobs), "kwargs": wire.encode(dict(call.kwargs), blobs)}
        try:
            before = session.worker.cpu_time() if not session.dead else 0.0
            reply, out = session.call(header, blobs, cpu_seconds=check.cpu_seconds)
            session.judged_calls[key] = (reply, out, session.worker.cpu_time() - before)
        except Stop as stop:
            session.judged_calls[key] = stop
    result = session.judged_calls[key]
    if isinstance(result, Stop):
        raise result
    return result


@contextlib.contextmanager
def spec_inputs_only():
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


def failed(check: Check, verdict: Verdict) -> CheckResult:
    # at most MAX_LINES lines: the input and the values are summarised already; what is left
    # out of a long one (a traceback) is its middle, never the hint at the end
    return CheckResult(check.name, False, 0.0, check.points, fold(verdict.message, MAX_LINES, keep_end=3),
                       verdict.kind)


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
    if mismatch.first:
        lines.append("first differing entries: " + "; ".join(
            f"at {index} got {got}, expected {expected}" for index, got, expected in mismatch.first))
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
            question.name, [failed(c, Verdict(Kind.NOT_GRADED, message)) for c in question.checks]))
    return report


def grade(unit: Unit, reference: ModuleType, path: Path) -> Report:
    """Grade one submission file. Never raises for anything the submission does: whatever
    escapes the checks' own handling ends this submission as `crash`, naming what went wrong."""
    try:
        submission = notebook.load(path, unit.name)
    except notebook.SubmissionError as exc:
        return zero_report(unit, path.name, "malformed", f"Cannot grade this submission: {exc}.")
    except OSError as exc:
        return zero_report(unit, path.name, "malformed", f"Cannot read this submission: {exc.strerror}.")
    except Exception as exc:
        return crash_report(unit, path.name, "reading the notebook", exc)
    try:
        return grade_submission(unit, reference, submission, path.name)
    except Exception as exc:
        return crash_report(unit, path.name, "grading the notebook", exc)


def crash_report(unit: Unit, submission: str, doing: str, exc: BaseException) -> Report:
    """A zero report for a submission on which the grader itself failed."""
    return zero_report(unit, submission, "crash", f"The grader failed while {doing} "
                                                  f"({_what_failed(exc)}); please tell your instructor.")


def _what_failed(exc: BaseException) -> str:
    text = str(exc)
    return type(exc).__name__ + (f": {text[:300]}" if text else "")


def _guarded_check(report: Report, session: Session, unit: Unit, question: Question, check: Check,
                   reference: ModuleType) -> CheckResult:
    """One check; an exception the check's own handling lets through (something the student
    returned that the judging code cannot take) fails this check only, and marks the run `crash`."""
    if session.out_of_time:
        return failed(check, session.dead)
    try:
        return run_check(session, unit, question, check, reference)
    except Exception as exc:
        report.status = "crash"
        verdict = Verdict.grader_failed(check.function, _what_failed(exc))
        report.notes.append(f"{question.name}/{check.name}: {verdict.message}")
        return failed(check, verdict)
    finally:
        wire.trim_heap()  # what the check's inputs and answers held, before the next (or a long wait)


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
        report.cells_lost = list(session.cells_lost)
        for question in unit.questions:
            results = [_guarded_check(report, session, unit, question, check, reference)
                       for check in question.checks]
            if not question.follow_through:
                _name_wrong_dependencies(unit, question, reference, session.results, results)
            session.results[question.name] = QuestionResult(question.name, results)
            report.questions.append(session.results[question.name])
        report.printed = session.worker.output()
    if session.dead:
        report.status = "timeout" if session.out_of_time else "crash"
        report.notes.append(session.dead.message)
    return report
