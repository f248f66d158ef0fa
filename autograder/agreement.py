"""Do the students' local checks agree with the hidden grade? Measured on the wrong corpus.

Every wrong corpus entry (tests/corpus/<unit>/wrong/*.py) is a realistic bug that loses the
questions it declares (LOSES). The entry is **flagged** when, for a question it loses, what
`grader.check` runs locally says so: a banned call reported, or a public check that fails on
the entry although it passes on the plain correct submission (tests/corpus/<unit>/correct/
plain.py). Comparing with the correct submission keeps a public check that fails every
submission (e.g. one about an ungraded convention) from counting as agreement.

The public checks run as grader.check runs them (build.STUDENT_RUNNER's banned-call watch
included), in this process: the corpus is our own code. Each entry's notebook cells that define
things (imports, definitions, assignments) run as a student's kernel would run them, from
the unit's assignment folder; demo cells, `grader.check`, `grader.export` and `otter_ignore`
cells are left out.
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
    """The globals of a kernel that ran the notebook's cells (errors in a cell are skipped)."""
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
        if not _defines_only(source):
            continue  # a demo cell: it prints or plots, and defines nothing a check needs
        try:
            with contextlib.chdir(files.stub.parent), contextlib.redirect_stdout(open(os.devnull, "w")):
                exec(compile(source, "<cell>", "exec"), env)
        except Exception:  # noqa: BLE001 - a demo cell of a wrong submission may fail
            pass
    plt.close("all")
    return env


def _defines_only(source: str) -> bool:
    """Whether a cell only imports, defines and assigns (what later cells and checks use)."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    kept = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign, ast.Try)
    return all(isinstance(node, kept) for node in body)


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
    units.public_checks(unit_name)  # importable by its top-level name, as the student test files import it
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
