"""Do the students' local checks agree with the hidden grade? Measured on the wrong corpus.

Every wrong corpus entry (tests/corpus/<unit>/wrong/*.py) is a realistic bug that loses the
questions it declares (LOSES). The entry is **flagged** when, for a question it loses, what
`grader.check` runs locally says so: a banned call reported, or a public check that fails on
the entry although it passes on the plain correct submission (tests/corpus/<unit>/correct/
plain.py). Comparing with the correct submission keeps a public check that fails every
submission (e.g. one about an ungraded convention) from counting as agreement.

The public checks run as grader.check runs them (build.STUDENT_RUNNER's banned-call watch
included), in this process: the corpus is our own code. Each entry's notebook runs as a
student's kernel would run it, from the unit's assignment folder, except what no check needs:
demo statements (prints, plots, loops), `grader.check`, `grader.export` and `otter_ignore`
cells (gpt's training run).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import os
import sys
from dataclasses import dataclass, field

from . import build, units
from .corpus import UnitFiles


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


def local_verdicts(unit, question, env: dict) -> tuple[dict[str, bool], bool]:
    """({public check: passed}, whether a banned call was seen), as grader.check runs them."""
    runner = {"BANNED": list(unit.banned_for(question))}
    exec(build.STUDENT_RUNNER, runner)
    used: list = []
    verdicts = {}
    for check in question.public:
        names = list(inspect.signature(check).parameters)
        given = {n: runner["_watched"](n, env.get(n), used) if runner["BANNED"] else env.get(n) for n in names}
        try:
            with contextlib.chdir(UnitFiles(unit.name).stub.parent), contextlib.redirect_stdout(open(os.devnull, "w")):
                check(**given)
            verdicts[check.__name__] = True
        except Exception:  # noqa: BLE001 - any failure is the check saying no
            verdicts[check.__name__] = False
    return verdicts, bool(used)


def measure(unit_name: str) -> Agreement:
    unit = units.load(unit_name)
    sys.modules.setdefault(unit.public_module, importlib.import_module(f"autograder.units.{unit.public_module}"))
    files = UnitFiles(unit_name)
    base_env = namespace_of(files, files.entry_notebook(files.load_entry("correct", "plain")))
    base = {q.name: local_verdicts(unit, q, base_env)[0] for q in unit.questions}
    result = Agreement(unit_name)
    for name in files.corpus_names("wrong"):
        entry = files.load_entry("wrong", name)
        env = namespace_of(files, files.entry_notebook(entry))
        missed = []
        for question in (q for q in unit.questions if q.name in entry.loses):
            verdicts, banned = local_verdicts(unit, question, env)
            if not banned and not any(base[question.name][c] and not ok for c, ok in verdicts.items()):
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
