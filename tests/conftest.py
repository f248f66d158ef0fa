"""Shared fixtures: host preparation, the softmax unit, submissions built from the stub notebook.

A realistic submission is the stub notebook (assignments/softmax/softmax.ipynb) with the
student's code in it: each stub function's definition is replaced by the student's, every
other cell (prose, demos, ``grader.check`` cells, ``grader.export``) is kept. The corpus files
under tests/corpus/softmax/ describe such submissions (see tests/corpus/README.md).
"""

from __future__ import annotations

import ast
import dataclasses
import fcntl
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

# ---------------------------------------------------------------------------------------------
# Before anything imports autograder.sandbox (which reads the uid at import):
# under pytest-xdist, each worker gets its own first sandbox uid (64000 + N), so that two
# workers never start from, claim or kill the same uid.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if re.fullmatch(r"gw\d+", _XDIST_WORKER):
    _BASE_UID = int(os.environ.get("AUTOGRADER_SANDBOX_UID", "64000"))
    os.environ["AUTOGRADER_SANDBOX_UID"] = str(_BASE_UID + int(_XDIST_WORKER[2:]))
EXPECTED_SANDBOX_UID = int(os.environ.get("AUTOGRADER_SANDBOX_UID", "64000"))

# Hypothesis must write nothing into the project: no example database (every test and the
# grader use database=None), and its other storage (a cache of source constants) goes to a
# private temporary folder, also for the CLI subprocesses the tests start.
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="autograder-tests-hypothesis-")
os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = _HYPOTHESIS_HOME

import nbformat  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("autograder-tests", database=None, deadline=None, derandomize=True)
settings.load_profile("autograder-tests")

from autograder import cli, sandbox, units  # noqa: E402
from autograder.grade import grade  # noqa: E402
from autograder.report import CheckResult, QuestionResult, Report  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
PYTHON = Path(sys.executable)  # the venv's python under `make test`: CLI subprocesses use it too
HEADER_NAMES = {"LOSES", "BASE", "LIMITS"}


def pytest_unconfigure(config):
    shutil.rmtree(_HYPOTHESIS_HOME, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# corpus entries


@dataclasses.dataclass
class Entry:
    """One corpus file: a submission described as code to put into the stub notebook.

    wrong/*.py and correct/*.py hold plain module code: its functions named like the unit's
    replace the stub's (a wrong file holds only its buggy function(s): the others come from
    correct/plain.py), everything else (imports, helpers) goes in front of the first of them.
    hostile/*.py start from the submission named by BASE and add cells, split by ``# %% WHERE``
    lines: ``first`` (a new first code cell), ``last`` (a new cell at the end) or ``functions``
    (module code whose functions replace the base's).
    """

    kind: str  # wrong | correct | hostile
    name: str
    path: Path
    loses: frozenset[str] = frozenset()  # wrong: the questions that must lose points
    base: str = ""  # hostile: "wrong/x" or "correct/y"
    limits: dict = dataclasses.field(default_factory=dict)  # overrides of unit.limits
    preamble: str = ""
    functions: dict[str, str] = dataclasses.field(default_factory=dict)
    first: list[str] = dataclasses.field(default_factory=list)
    last: list[str] = dataclasses.field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"


class UnitFiles:
    """A unit's stub notebook, reference and corpus, and submissions built from them.

    The student names come from the unit's spec (every question's `functions`); a corpus file's
    top-level functions and classes with those names replace the stub's definitions.
    """

    def __init__(self, name: str):
        spec = units.load(name)
        self.name = name
        self.corpus = PROJECT / "tests" / "corpus" / name
        self.stub = PROJECT / "assignments" / name / f"{name}.ipynb"
        self.reference = PROJECT / "solutions" / f"{name}.py"
        self.functions = tuple(f for q in spec.questions for f in q.functions)
        self.questions = tuple(q.name for q in spec.questions)

    def split_module(self, source: str) -> tuple[dict, str, dict[str, str]]:
        """(header constants, preamble, {student name: source}) of plain module code."""
        tree = ast.parse(source)
        lines = source.splitlines(keepends=True)
        header, preamble, functions = {}, [], {}
        for i, node in enumerate(tree.body):
            start = (node.decorator_list[0].lineno if getattr(node, "decorator_list", None) else node.lineno) - 1
            text = "".join(lines[start:node.end_lineno])
            if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # the file's docstring: what the bug is, not part of the submission
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and getattr(node.targets[0], "id", "") in HEADER_NAMES:
                header[node.targets[0].id] = ast.literal_eval(node.value)
            elif self._is_student_definition(node):
                functions[node.name] = text
            else:
                preamble.append(text)
        return header, "\n".join(preamble), functions

    def _is_student_definition(self, node) -> bool:
        return isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in self.functions

    def load_entry(self, kind: str, name: str) -> Entry:
        path = self.corpus / kind / f"{name}.py"
        text = path.read_text()
        if kind != "hostile":
            header, preamble, functions = self.split_module(text)
            entry = Entry(kind, name, path, frozenset(header.get("LOSES", ())), preamble=preamble,
                          functions=functions, limits=header.get("LIMITS", {}))
            if kind == "wrong":
                assert header.get("LOSES"), f"{path} must declare LOSES"
                assert not set(entry.loses) - set(self.questions), f"{path}: unknown question in LOSES"
                base = self.load_entry("correct", "plain")
                assert set(functions) <= set(base.functions), path
                entry.functions = {**base.functions, **functions}
                entry.preamble = base.preamble + "\n\n" + preamble
            return entry
        chunks = re.split(r"^# %%[ \t]*(\w*)[^\n]*\n", text, flags=re.M)
        header, _, _ = self.split_module(chunks[0])
        assert "BASE" in header, f"{path} must declare BASE"
        base_kind, base_name = header["BASE"].split("/")
        base = self.load_entry(base_kind, base_name)
        entry = Entry(kind, name, path, base.loses, header["BASE"], {**base.limits, **header.get("LIMITS", {})},
                      base.preamble, dict(base.functions))
        for where, code in zip(chunks[1::2], chunks[2::2]):
            code = code.strip("\n") + "\n"
            if where == "first":
                entry.first.append(code)
            elif where == "last":
                entry.last.append(code)
            elif where == "functions":
                _, preamble, functions = self.split_module(code)
                entry.preamble += "\n\n" + preamble
                entry.functions.update(functions)
            else:
                raise AssertionError(f"{path}: unknown cell place {where!r}")
        return entry

    def corpus_names(self, kind: str) -> list[str]:
        return sorted(p.stem for p in (self.corpus / kind).glob("*.py"))

    def stub_notebook(self) -> nbformat.NotebookNode:
        """The stub notebook as students receive it."""
        return nbformat.read(self.stub, as_version=4)

    def _definitions(self, source: str) -> list[ast.AST]:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return []
        return [n for n in tree.body if self._is_student_definition(n)]

    def submission_notebook(self, functions: dict[str, str], preamble: str = "", first=(), last=(),
                            substitutions: dict[str, str] | None = None) -> nbformat.NotebookNode:
        """The stub with the given definitions in place of the stub's, as a student would.

        Each stub cell's definition of a student name is replaced by `functions[name]` (names
        not given keep their NotImplementedError stub); `preamble` goes in front of the first
        replaced definition; `first` cells go before every code cell, `last` cells at the end.
        `substitutions` replaces placeholders (e.g. __PROJECT__) in every added source.
        """
        subs = substitutions or {}

        def fill(text: str) -> str:
            for key, value in subs.items():
                text = text.replace(key, value)
            return text

        nb = self.stub_notebook()
        need_preamble = bool(preamble.strip())
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            defs = [d for d in self._definitions(cell.source) if d.name in functions]
            if not defs:
                continue
            lines = cell.source.splitlines(keepends=True)
            for d in sorted(defs, key=lambda d: d.lineno, reverse=True):
                start = (d.decorator_list[0].lineno if d.decorator_list else d.lineno) - 1
                lines[start:d.end_lineno] = [fill(functions[d.name]).rstrip("\n") + "\n"]
            if need_preamble:
                lines.insert(0, fill(preamble).strip("\n") + "\n\n\n")
                need_preamble = False
            cell.source = "".join(lines)
            cell.outputs, cell.execution_count = [], None
        missing = set(functions) - {d.name for c in nb.cells if c.cell_type == "code"
                                    for d in self._definitions(c.source)}
        assert not missing, f"the stub notebook does not define {missing}"
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        for source in reversed(list(first)):
            nb.cells.insert(code[0], nbformat.v4.new_code_cell(fill(source)))
        for source in last:
            nb.cells.append(nbformat.v4.new_code_cell(fill(source)))
        return nb

    def entry_notebook(self, entry: Entry, out_dir: Path | str = "/nonexistent-out") -> nbformat.NotebookNode:
        subs = {"__PROJECT__": str(PROJECT), "__OUT__": str(out_dir)}
        return self.submission_notebook(entry.functions, entry.preamble, entry.first, entry.last, subs)

    def reference_notebook(self) -> nbformat.NotebookNode:
        """The stub completed with the reference's own code (its helpers in front)."""
        _, preamble, functions = self.split_module(self.reference.read_text())
        return self.submission_notebook(functions, preamble)


# The softmax unit's files, under the names its tests use.
SOFTMAX = UnitFiles("softmax")
CORPUS, STUB, REFERENCE = SOFTMAX.corpus, SOFTMAX.stub, SOFTMAX.reference
FUNCTIONS = QUESTIONS = SOFTMAX.functions  # in this unit, question i grades function i
load_entry, corpus_names, stub_notebook = SOFTMAX.load_entry, SOFTMAX.corpus_names, SOFTMAX.stub_notebook
submission_notebook, entry_notebook = SOFTMAX.submission_notebook, SOFTMAX.entry_notebook
reference_notebook, _split_module = SOFTMAX.reference_notebook, SOFTMAX.split_module


def write_notebook(nb: nbformat.NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def limited(unit, limits: dict):
    if not limits:
        return unit
    return dataclasses.replace(unit, limits=dataclasses.replace(unit.limits, **limits))


# ---------------------------------------------------------------------------------------------
# processes


def pids_of_uid(uid: int) -> list[int]:
    return sandbox._pids_of_uid(uid)


def leftover_processes(uids: set[int]) -> list[str]:
    """Live processes running as one of `uids` (root) or descending from us (non-root)."""
    pids = [p for uid in uids for p in pids_of_uid(uid)] if sandbox.IS_ROOT else sandbox._descendants(os.getpid())
    found = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:100].decode(errors="replace")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(f"{pid} [{state}] {cmd}")
    return found


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def host(tmp_path_factory) -> Path:
    """The host prepared once, as the CLI does: Python reachable, project private."""
    assert sandbox.SANDBOX_UID == EXPECTED_SANDBOX_UID, "autograder.sandbox was imported before conftest"
    out = tmp_path_factory.mktemp("host-out")
    cli.prepare_host(out)
    return out


@pytest.fixture(scope="session")
def unit(host):
    return units.load("softmax")


@pytest.fixture(scope="session")
def reference(host):
    return units.reference("softmax")


@pytest.fixture
def leftovers(monkeypatch) -> list[str]:
    """Processes still alive when a sandbox worker closed, after it killed everything it started.

    As root, they are looked for among the worker's uid while the worker still holds that uid's
    lock, i.e. before another grading (another pytest worker, a Gradescope simulation) may
    claim the uid; without root, among our descendants. The test asserts the list is empty.
    """
    found: list[str] = []
    close = sandbox.Worker.close

    def checking_close(self):
        self._kill_only()
        if self.uid is not None:
            found.extend(leftover_processes({self.uid}))
            sandbox.kill_uid(self.uid)  # we still hold the uid: do not let a failure poison others
        else:
            found.extend(leftover_processes(set()))
        close(self)

    monkeypatch.setattr(sandbox.Worker, "close", checking_close)
    return found


def report_from_dict(data: dict) -> Report:
    questions = [QuestionResult(q["name"], [CheckResult(**c) for c in q["checks"]]) for q in data["questions"]]
    return Report(**{**data, "questions": questions})


class Grader:
    """Grades notebooks in this process; corpus entries are graded once per test session.

    The reports of corpus entries are shared between pytest-xdist workers through files in
    the session's common temporary folder, so a base graded by one worker is not regraded by
    the other (a lock per entry: the second worker waits for the first one's report).
    """

    def __init__(self, unit, reference, tmp: Path, shared: Path, files: UnitFiles = SOFTMAX):
        self.unit, self.reference, self.tmp, self.shared, self.files = unit, reference, tmp, shared, files

    def notebook(self, nb, name: str = "", limits: dict | None = None) -> Report:
        """Grade `nb` saved as <name>.ipynb (by default as the stub's own file name)."""
        path = write_notebook(nb, Path(tempfile.mkdtemp(dir=self.tmp)) / f"{name or self.unit.name}.ipynb")
        return grade(limited(self.unit, limits or {}), self.reference, path)

    def file(self, path: Path, limits: dict | None = None) -> Report:
        return grade(limited(self.unit, limits or {}), self.reference, path)

    def entry(self, entry: Entry, out_dir: Path | str = "/nonexistent-out") -> Report:
        return self.notebook(self.files.entry_notebook(entry, out_dir), limits=entry.limits)

    def cached(self, spec: str) -> Report:
        """The report of a corpus entry ("wrong/x"), of "reference" (the stub completed with the
        reference's code) or of "stub" (the untouched stub), graded at most once per session."""
        path = self.shared / f"{self.unit.name}--{spec.replace('/', '--')}.json"
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.exists():
                report = (self.notebook(self.files.reference_notebook()) if spec == "reference"
                          else self.file(self.files.stub) if spec == "stub"
                          else self.entry(self.files.load_entry(*spec.split("/"))))
                path.with_suffix(".tmp").write_text(json.dumps(report.to_dict()))
                path.with_suffix(".tmp").rename(path)
        return report_from_dict(json.loads(path.read_text()))


@pytest.fixture(scope="session")
def grader_for(host, tmp_path_factory):
    """grader_for("unit") -> that unit's Grader (one per unit and session)."""
    root = tmp_path_factory.getbasetemp()  # under xdist: <session folder>/popen-gwN
    shared = (root.parent if _XDIST_WORKER else root) / "graded-corpus"  # one per session
    shared.mkdir(exist_ok=True)
    made: dict[str, Grader] = {}

    def make(name: str) -> Grader:
        if name not in made:
            files = SOFTMAX if name == "softmax" else UnitFiles(name)
            made[name] = Grader(units.load(name), units.reference(name),
                                tmp_path_factory.mktemp(f"submissions-{name}"), shared, files)
        return made[name]

    return make


@pytest.fixture(scope="session")
def grader(grader_for) -> Grader:
    return grader_for("softmax")
