"""What became of a graded call (or cell): a typed `Verdict`, made in one place.

Every outcome the grader can reach is a `Kind`; its student-facing text is written here, once,
by the `Verdict` constructors. Reports, statuses and hints read the kind, never the wording.
A `WorkerLost` (autograder/sandbox.py) carries the kind of what ended the worker's request, so
a timeout or a crash keeps its kind from the sandbox to grades.csv.

This module imports nothing heavy: the sandbox uses `Kind` too.
"""

from __future__ import annotations

import dataclasses
import enum


class Kind(enum.StrEnum):
    """The outcome of one check (or of what stopped it). A str, so results.json holds its value."""

    PASSED = "passed"
    WRONG = "wrong"  # a wrong answer on an input (or a wrong error, or an input changed in place)
    RAISED = "raised"  # raised an exception where the reference answers
    MISSING = "missing"  # the notebook does not define the function
    BANNED = "banned"  # called something the question does not allow
    NOT_IMPLEMENTED = "not_implemented"  # still raises NotImplementedError
    SIDE_EFFECT = "side_effect"  # left global state or its arguments' model changed
    UNDECODABLE = "undecodable"  # sent back something the grader cannot read
    NOT_DETERMINISTIC = "not_deterministic"  # different answers to one input
    TIMED_OUT = "timed_out"  # one call (or cell) ran past its wall-clock limit
    OVER_CPU = "over_cpu"  # past its CPU budget (or the worker's CPU limit)
    KILLED = "killed"  # killed by the kernel: out of memory or CPU time
    CRASHED = "crashed"  # the worker died otherwise (a signal, exit(), a forged or broken reply)
    TIME_SPENT = "time_spent"  # this function's calls used up the time all its calls may take
    OUT_OF_TIME = "out_of_time"  # the submission's own time is up: nothing more is asked of it
    GRADER_FAILED = "grader_failed"  # the grader itself could not judge (status `crash`)
    NOT_GRADED = "not_graded"  # the submission could not be run at all (its status says why)

    @property
    def shrinks(self) -> bool:
        """A failure on this input only: hypothesis looks for the smallest input that fails.
        Every other failure ends the check at once (no other input can change it)."""
        return self in (Kind.WRONG, Kind.RAISED, Kind.SIDE_EFFECT)

    @property
    def out_of_compute(self) -> bool:
        """Stopped for time or CPU: where a check's hint about its budget applies."""
        return self in (Kind.TIMED_OUT, Kind.OVER_CPU, Kind.KILLED)


# What a graded call must not leave behind (the kinds the worker reports: `_side_effects` in worker.py)
SIDE_EFFECTS = {
    "default_dtype": "changed torch's default dtype (torch.set_default_dtype) and did not restore it",
    "grad_mode": "left gradient tracking switched on or off (torch.set_grad_enabled); use "
                 "`with torch.no_grad():` so that it is restored",
    "global_hooks": "left a global module hook registered",
    "hooks": "left hooks registered on the model it was given: keep each handle that "
             "register_forward_hook returns and call handle.remove() (in a `finally:`) before returning",
    "model_changed": "changed the weights of the model it was given",
}


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A kind and what the student reads about it."""

    kind: Kind
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.kind is Kind.PASSED

    def hinted(self, hint: str) -> "Verdict":
        return dataclasses.replace(self, message=f"{self.message}\nHint: {hint}") if hint else self

    def on_input(self, described_call: str) -> "Verdict":
        """The failure as found on a (shrunk) input, shown first."""
        return dataclasses.replace(self, message=f"Smallest failing input found:\n{_indent(described_call)}\n"
                                                 f"{self.message}")

    # -- the constructors: every outcome's wording, once

    @classmethod
    def wrong(cls, message: str) -> "Verdict":
        return cls(Kind.WRONG, message)

    @classmethod
    def changed_input(cls, name: str) -> "Verdict":
        return cls(Kind.WRONG, f"`{name}` modified its input in place; functions must not change their "
                               "arguments (use out-of-place operations, or .clone() first)")

    @classmethod
    def missing(cls, *names: str | None) -> "Verdict":
        needed = [f"`{n}`" for n in names if n]
        return cls(Kind.MISSING, f"the notebook does not define {' or '.join(needed)} (after running every cell)")

    @classmethod
    def banned(cls, name: str, used, through: str = "") -> "Verdict":
        called = ", ".join(sorted(set(map(str, used))))
        via = f" (through your `{through}`)" if through else ""
        return cls(Kind.BANNED, f"`{name}` called {called}{via}, which this question does not allow; "
                                "write it yourself with basic operations")

    @classmethod
    def not_implemented(cls, name: str) -> "Verdict":
        return cls(Kind.NOT_IMPLEMENTED, f"`{name}` is not implemented yet (it raises NotImplementedError)")

    @classmethod
    def raised(cls, name: str, error: str, traceback: str) -> "Verdict":
        return cls(Kind.RAISED, f"`{name}` raised {error}:\n{_indent(traceback)}")

    @classmethod
    def side_effect(cls, name: str, effects) -> "Verdict":
        said = "; ".join(SIDE_EFFECTS.get(e, "changed global state") for e in effects) or "changed global state"
        return cls(Kind.SIDE_EFFECT, f"`{name}` has a side effect a graded function must not have.\nHint: it {said}")

    @classmethod
    def unreadable_reply(cls) -> "Verdict":
        return cls(Kind.UNDECODABLE, "the notebook's worker sent back an unreadable reply")

    @classmethod
    def undecodable(cls, exc: BaseException) -> "Verdict":
        return cls(Kind.UNDECODABLE, f"the notebook sent back a value the grader cannot read ({exc})")

    @classmethod
    def not_deterministic(cls, name: str, exc: BaseException) -> "Verdict":
        return cls(Kind.NOT_DETERMINISTIC, f"`{name}` gave different results for the same input "
                                           f"({type(exc).__name__}); it must be deterministic")

    @classmethod
    def over_budget(cls, name: str, used: float, budget: float) -> "Verdict":
        return cls(Kind.OVER_CPU, f"`{name}` used {used:.0f} s of CPU time, more than its budget of {budget:g} s")

    @classmethod
    def lost(cls, kind: Kind, reason: str) -> "Verdict":
        """The worker was lost answering the call (`WorkerLost.kind`, `.reason`)."""
        return cls(kind, f"your code {reason}")

    @classmethod
    def stopped(cls, kind: Kind, why: str) -> "Verdict":
        """Nothing more can be asked of the notebook (its time is up, or it cannot be restarted)."""
        return cls(kind, why)

    @classmethod
    def grader_failed(cls, name: str, what_failed: str) -> "Verdict":
        return cls(Kind.GRADER_FAILED, f"the grader could not judge `{name}` ({what_failed})")


def _indent(text: str, prefix: str = "    ") -> str:
    from .feedback import indent  # feedback imports torch; this module must not (the sandbox uses it)

    return indent(text, prefix)
