"""Do the students' local checks agree with the hidden grade? Measured on the wrong corpus.

Every wrong corpus entry (tests/corpus/<unit>/wrong/*.py) is a realistic bug that loses the
questions it declares (LOSES). The entry is **flagged** when, for a question it loses, what
`grader.check` runs locally says so: a banned call or a side effect reported, or a public
check that fails on the entry although it passes on the plain correct submission
(tests/corpus/<unit>/correct/plain.py). Comparing with the correct submission keeps a public
check that fails every submission (e.g. one about an ungraded convention) from counting as
agreement.

The public checks run as grader.check runs them (build.STUDENT_RUNNER's watch of banned calls
and side effects included), in this process: the corpus is our own code. Each entry's notebook
runs as a student's kernel would run it, from the unit's assignment folder, except what no
check needs: demo statements (prints, plots, loops), `grader.check`, `grader.export` and
`otter_ignore` cells (gpt's training run).
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import os
import sys
from dataclasses import dataclass, field

from . import build, units
from .corpus import UnitFiles


FLOOR = 0.9  # per unit: the share of wrong corpus entries the local checks must flag


@dataclass
class Agreement:
    unit: str
    flagged: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)  # "entry: question, ..." the local checks let through

    @property
    def share(self) -> float | None:
        total = len(self.flagged) + len(self.missed)
        return len(self.flagged) / total if total else None


def namespace_of(files: UnitFiles, nb) -> dict:
    """The globals of a kernel that ran the notebook's cells (a statement that fails is skipped).

    A cell that defines a student function runs whole (it is the student's code, helpers and
    all); any other cell keeps only its imports, definitions and assignments: the notebook's
    provided helpers (attention's masked_softmax sits in a cell that also prints a demo) are
    defined, demos are not run (they print, plot or train, and minutes would go to them).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = str(files.stub.parent)
    if folder not in sys.path:  # a kernel started beside the notebook imports its provided modules
        sys.path.insert(0, folder)
    env: dict = {"__name__": "__main__"}
    for cell in nb.cells:
        if cell.cell_type != "code" or "otter_ignore" in cell.metadata.get("tags", []):
            continue
        source = "\n".join(line for line in cell.source.splitlines()
                           if "otter" not in line and not line.startswith("grader."))
        for statement in _statements_to_run(source, files.functions):
            try:
                with contextlib.chdir(files.stub.parent), contextlib.redirect_stdout(open(os.devnull, "w")):
                    exec(compile(ast.Module([statement], type_ignores=[]), "<cell>", "exec"), env)
            except Exception:  # noqa: BLE001 - a demo line of a wrong submission may fail
                pass
    plt.close("all")
    return env


_DEFINING = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)


def _statements_to_run(source: str, student_names) -> list[ast.stmt]:
    """A cell's statements a check may need: all of a student's cell, else the defining ones."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return []
    if any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in student_names for n in body):
        return body
    return [n for n in body if isinstance(n, _DEFINING)]


def _runner(unit, question) -> dict:
    """The globals of build.STUDENT_RUNNER as `question`'s test file sets them up."""
    runner = dict(build.runner_constants(unit.banned_for(question)))
    exec(build.STUDENT_RUNNER, runner)
    return runner


def local_verdicts(unit, question, env: dict, stop_on=None) -> tuple[dict[str, bool], str | None]:
    """({public check: passed}, what grader.check reports of a banned call or a side effect, or
    None), as grader.check runs them. With `stop_on` (check names), stops at the first of them
    that fails, or at the first refusal: the entry is flagged by then."""
    runner = _runner(unit, question)
    seen = runner["_Seen"]()
    verdicts = {}
    for check in question.public:
        names = list(inspect.signature(check).parameters)
        given = {n: runner["_watched"](n, env.get(n), seen) for n in names}
        try:
            with contextlib.chdir(UnitFiles(unit.name).stub.parent), contextlib.redirect_stdout(open(os.devnull, "w")):
                check(**given)
            verdicts[check.__name__] = True
        except Exception:  # noqa: BLE001 - any failure is the check saying no
            verdicts[check.__name__] = False
        refused = runner["_refused"](seen)
        if refused or (stop_on is not None and check.__name__ in stop_on and not verdicts[check.__name__]):
            return verdicts, refused
    return verdicts, None


@contextlib.contextmanager
def _one_thread():
    """One torch thread while measuring: the checks' models are tiny, and on a loaded machine
    threads only wait for each other (gpt's overfitting check: 15 s on two, 0.5 s on one)."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def measure(unit_name: str, entries: list[str] | None = None) -> Agreement:
    """The agreement over the unit's wrong corpus entries (or the named ones)."""
    unit = units.load(unit_name)
    units.public_checks(unit_name)  # importable by its top-level name, as the student test files import it
    files = UnitFiles(unit_name)
    result = Agreement(unit_name)
    with _one_thread():
        base_env = namespace_of(files, files.entry_notebook(files.load_entry("correct", "plain")))
        base: dict[str, set[str]] = {}  # question -> the checks the plain correct submission passes

        def passed_by_base(question) -> set[str]:
            if question.name not in base:  # (only the questions the entries lose are run)
                verdicts, refused = local_verdicts(unit, question, base_env)
                assert refused is None, f"{unit_name}: the plain correct submission: {refused}"
                base[question.name] = {name for name, passed in verdicts.items() if passed}
            return base[question.name]

        for name in files.corpus_names("wrong") if entries is None else entries:
            entry = files.load_entry("wrong", name)
            env = namespace_of(files, files.entry_notebook(entry))
            missed = []
            for question in (q for q in unit.questions if q.name in entry.loses):
                counted = passed_by_base(question)
                verdicts, refused = local_verdicts(unit, question, env, stop_on=counted)
                if not refused and all(verdicts[c] for c in counted if c in verdicts):
                    missed.append(question.name)
            if len(missed) < len(entry.loses):
                result.flagged.append(name)
            else:
                result.missed.append(f"{name}: {', '.join(sorted(missed))}")
    return result


def summary(agreement: Agreement) -> str:
    share = agreement.share
    total = len(agreement.flagged) + len(agreement.missed)
    text = (f"{agreement.unit}: local checks flag {len(agreement.flagged)} of {total} wrong corpus entries"
            f" ({'n/a' if share is None else f'{share:.0%}'})")
    if agreement.missed:
        text += "; not flagged: " + "; ".join(agreement.missed)
    return text


if __name__ == "__main__":
    for unit_name in sys.argv[1:] or units.names():
        print(summary(measure(unit_name)), flush=True)
