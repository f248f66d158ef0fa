"""The vocabulary of a unit's grading spec: a table of questions and their checks.

A unit spec (``autograder/units/<unit>.py``) builds one `Unit` from these pieces and contains
no engine code. Reading it should answer, per question: which student names it grades, how
many points, which public checks the student can run, which hidden properties decide the grade.
docs/writing-a-unit.md explains each piece with an example; `validate` checks a spec against
its reference when `units.load` loads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from hypothesis.strategies import SearchStrategy

from .compare import Close, Comparator
from .sandbox import Limits


@dataclass(frozen=True)
class Call:
    """The arguments of one call of a student function."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    names: tuple[str, ...] = ()  # the contract's names of the positional arguments, for feedback
    # For an nn.Module question: the constructor's arguments. The grader builds the reference
    # module (seeded), loads its state_dict into the student's with strict=True, and calls both.
    init: Call | None = None

    def __repr__(self) -> str:  # what a student sees as the failing input
        from .feedback import describe_call

        return describe_call(self)


@dataclass(frozen=True)
class Model:
    """An nn.Module argument: a class of a provided module (a file of `Unit.provided`).

    The trusted side builds `<module>.<factory>(**kwargs)` after torch.manual_seed(seed), then
    loads `weights` (a provided .npz of the state_dict) if given; the worker builds the same
    class the same way and loads the trusted side's state_dict (strict). So both get the same
    weights, and the worker never reads a file for them (the student could have changed it).
    """

    module: str  # e.g. "interp_model", for assignments/<unit>/interp_model.py
    factory: str  # a class (or function) of that module returning an nn.Module
    kwargs: tuple[tuple[str, Any], ...] = ()
    seed: int = 0
    weights: str = ""  # e.g. "interp_model.npz"; empty: the seeded random initialisation

    def __repr__(self) -> str:  # what a student sees in a failing input
        if self.weights:
            return f"the trained {self.module}.{self.factory} (weights {self.weights})"
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs)
        return f"{self.module}.{self.factory}({args}) with random weights (seed {self.seed})"


@dataclass(frozen=True)
class Example:
    """An explicit input every grading run tries first, usually aimed at one classic bug.

    `hint` is what the student reads if this input fails, e.g. "subtract the row maximum
    before exp: exp(1000) overflows to inf".
    """

    call: Call
    hint: str


@dataclass(frozen=True)
class Hint:
    """A diagnosis of a failure: when `applies(call, expected, got)` holds, say `text`."""

    applies: Callable[[Call, Any, Any], bool]
    text: str


@dataclass(frozen=True)
class Check:
    """A hidden, differential property: on every drawn input, the student's `function` must
    return what the reference returns, as judged by `compare`.

    Each check is worth `points`; a question's score is the sum over its checks that pass.
    """

    name: str  # shown to the student, e.g. "matches the reference on random logits"
    function: str  # the student name to call (a function, or a class when `init` is given)
    inputs: SearchStrategy[Call]
    points: float = 1.0
    examples: tuple[Example, ...] = ()
    compare: Comparator = Close()
    hints: tuple[Hint, ...] = ()
    max_examples: int = 50
    # What computes the expected output, in the trusted process; None: the reference's function
    # of the same name. A unit can judge against another authority this way (torch autograd,
    # torch.optim) while its reference stays a plain solution.
    oracle: Callable[..., Any] | None = None
    # For a function taking a module as first argument (e.g. `generate(model, idx, ...)`): the
    # student class to build from each call's `init`, loaded with the reference's weights.
    module: str = ""
    # For a module whose constructor takes one config object (`GPT(GPTConfig(...))`): the
    # student's config class, built from each call's `init` arguments.
    config_class: str = ""
    # For a module: redraws the reference module's parameters (in place, seeded by the grader)
    # before they are loaded into the student's, e.g. LayerNorm gains != 1 so that a missing
    # affine map shows.
    weights: Callable[[Any], None] | None = None
    # Instead of comparing with the reference: judge(call, got) -> (fraction of the points
    # earned in [0, 1], message), e.g. for a model the student trained. Only `examples` are
    # tried; nn.Modules in the student's result come back as their state_dict (tensors only).
    judge: Callable[[Call, Any], tuple[float, str]] | None = None
    # A CPU-time budget for each call of this check (e.g. a training run), beyond the
    # worker's limits; the wall-clock timeout of such a call grows with it.
    cpu_seconds: float | None = None
    # For a judged check: the call to make instead of each example's, drawn from the
    # submission's code cells (e.g. a task drawn with a hidden seed, so that nothing prepared
    # in advance for one fixed call passes). The same cells must give the same Call object.
    draw: Callable[[list[str]], "Call"] | None = None


@dataclass(frozen=True)
class Question:
    """One graded question; `name` is also the Otter test name (``grader.check(name)``)."""

    name: str
    functions: tuple[str, ...]  # the student names this question grades
    checks: tuple[Check, ...]
    # Reference-free checks from the unit's public module. None: those registered there under
    # this question's name (`units.load` fills them in), so the name is written once, here.
    public: tuple[Callable, ...] | None = None
    banned: tuple[str, ...] | None = None  # None: the unit's list
    # Follow-through marking (autograder/followthrough.py): the student names of earlier
    # questions this question's reference builds on. None: derived from the reference's code
    # (the names it calls, through its private helpers). A failing answer still earns the
    # points when it equals the reference's composition of the student's own `depends`.
    depends: tuple[str, ...] | None = None
    # False: no follow-through (e.g. a model the student trained, which would then be judged by
    # the student's own code): when the question fails, its feedback names a wrong dependency.
    follow_through: bool = True

    @property
    def points(self) -> float:
        return sum(c.points for c in self.checks)


class Precomputed:
    """A value the grader needs that costs seconds to compute (e.g. the reference trained on a
    large input): computed once per grading process when first needed, or, on Gradescope, at
    build time and shipped in the zip with the checks' plans (`grade.save_plans`). List it in
    `Unit.precomputed`; `name` keys it in the plans file."""

    _UNSET = object()

    def __init__(self, name: str, compute: Callable[[], Any]):
        self.name, self.compute, self._value = name, compute, Precomputed._UNSET

    def __call__(self) -> Any:
        if self._value is Precomputed._UNSET:
            self._value = self.compute()
        return self._value

    def prime(self, value: Any) -> None:
        self._value = value


@dataclass(frozen=True)
class Unit:
    name: str
    questions: tuple[Question, ...]
    banned: tuple[str, ...] = ()  # dotted names of torch functions students may not call
    limits: Limits = Limits()
    # The least mutation score (autograder/audit.py) the hidden checks must reach; make test
    # fails below it on a fixed sample of mutants. None: not audited.
    mutation_floor: float | None = None
    # Files of assignments/<unit>/ that graded code may use (a provided model class and its
    # weights): shipped in both zips, written beside the notebook in the worker, and each .py
    # made importable there under its stem (the notebook's `import` of it works when grading).
    provided: tuple[str, ...] = ()
    # Values computed once and shipped in the Gradescope zip (see `Precomputed`).
    precomputed: tuple[Precomputed, ...] = ()

    @property
    def points(self) -> float:
        return sum(q.points for q in self.questions)

    @property
    def public_module(self) -> str:
        """The module of the public checks, assignments/<unit>/<unit>_public.py, shipped to
        students as a top-level module."""
        return f"{self.name}_public"

    def banned_for(self, question: Question) -> tuple[str, ...]:
        return self.banned if question.banned is None else question.banned


REFUSALS = "raises ValueError for the invalid arguments its docstring lists"


def refusals(function: str, *examples: Example, points: float = 0.5, **check: Any) -> Check:
    """A small check of its own: each of `examples` is a call the reference refuses with
    ValueError (its documented invalid arguments), so the student's must raise ValueError too.
    Each example's hint names the documented case. tests/test_refusals.py proves that the
    reference does raise on every one."""
    from hypothesis import strategies as st

    return Check(REFUSALS, function, st.sampled_from([ex.call for ex in examples]), points=points,
                 examples=examples, max_examples=1, **check)


class SpecError(ValueError):
    """A unit's spec contradicts its reference or its public checks; the message says where."""


def validate(unit: Unit, reference: Any, registered: dict[str, list[Callable]], file: str) -> None:
    """Refuse, at load time, a spec that would build and grade but grade the wrong thing: a
    misspelled student name (every check of it would fail for everyone, or it would never be
    called), a check of a function its question does not grade, public checks registered under
    no question, or a question worth nothing. `file` names the spec in the messages."""
    problems = []
    names = [q.name for q in unit.questions]
    every_function = {f for q in unit.questions for f in q.functions}
    if not unit.questions:
        problems.append("the unit has no questions")
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"two questions are named {name!r}")
    for question in unit.questions:
        where = f"question {question.name!r}"
        if not question.functions:
            problems.append(f"{where}: Question.functions is empty")
        for function in question.functions:
            if not hasattr(reference, function):
                problems.append(f"{where}: Question.functions names {function!r}, which the reference "
                                f"solutions/{unit.name}.py does not define")
        for function in question.depends or ():
            if function not in every_function:
                problems.append(f"{where}: Question.depends names {function!r}, which no question grades")
        if not question.checks:
            problems.append(f"{where}: no hidden checks")
        elif question.points <= 0:
            problems.append(f"{where}: worth {question.points:g} points (its checks' points add up to it)")
        for check in question.checks:
            what = f"{where}, check {check.name!r}"
            if check.function not in question.functions:
                problems.append(f"{what}: Check.function {check.function!r} is not one of the question's "
                                f"functions {list(question.functions)}")
            for field_name in ("module", "config_class"):
                value = getattr(check, field_name)
                if value and value not in every_function:
                    problems.append(f"{what}: Check.{field_name} {value!r} is no student name of the unit")
            if check.points < 0:
                problems.append(f"{what}: negative points")
            for example in check.examples:
                if not isinstance(example, Example) or not isinstance(example.call, Call):
                    problems.append(f"{what}: an example that is not Example(Call(...), hint)")
            for hint in check.hints:
                if not isinstance(hint, Hint) or not callable(hint.applies) or not hint.text.strip():
                    problems.append(f"{what}: a hint that is not Hint(applies, text)")
    for name in sorted(set(registered) - set(names)):
        problems.append(f"public checks are registered under {name!r}, which is no question "
                        f"(questions: {', '.join(names)})")
    if problems:
        raise SpecError(f"{file}: " + "; ".join(problems))
