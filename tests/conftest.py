"""Shared fixtures: host preparation, the softmax unit, submissions built from the stub notebook.

A realistic submission is the stub notebook (assignments/softmax/softmax.ipynb) with the
student's code in it (autograder/corpus.py builds them); the corpus files under
tests/corpus/softmax/ describe such submissions (see tests/corpus/README.md).
"""

from __future__ import annotations

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
# Pinned (claimed in order) for the whole session: unpinned, uids are drawn at random.
os.environ.setdefault("AUTOGRADER_SANDBOX_UID", "64000")
EXPECTED_SANDBOX_UID = int(os.environ["AUTOGRADER_SANDBOX_UID"])

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

from autograder import grade_class, sandbox, units  # noqa: E402
from autograder.corpus import Entry, UnitFiles  # noqa: E402,F401  (the tests import them from here)
from autograder.grade import grade  # noqa: E402
from autograder.report import Report  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
PYTHON = Path(sys.executable)  # the venv's python under `make test`: CLI subprocesses use it too


def pytest_unconfigure(config):
    shutil.rmtree(_HYPOTHESIS_HOME, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# corpus entries (autograder/corpus.py builds their notebooks)

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
    grade_class.prepare_host(out)
    return out


def _unit_of(request) -> str:
    """The unit a test module is about: its module-level UNIT, softmax where it names none."""
    return getattr(request.module, "UNIT", "softmax")


@pytest.fixture(scope="module")
def unit(host, request):
    return units.load(_unit_of(request))


@pytest.fixture(scope="module")
def reference(host, request):
    return units.reference(_unit_of(request))


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


class Grader:
    """Grades notebooks in this process; corpus entries are graded once per test session.

    The reports of corpus entries are shared between pytest-xdist workers through files in
    the session's common temporary folder, so a base graded by one worker is not regraded by
    the other (a lock per entry: the second worker waits for the first one's report).
    """

    def __init__(self, unit, reference, tmp: Path, shared: Path, files: UnitFiles = SOFTMAX):
        self.unit, self.reference, self.tmp, self.shared, self.files = unit, reference, tmp, shared, files
        self._variants: dict[tuple, Grader] = {}

    def variant(self, questions: frozenset[str], cpu_seconds: float | None = None) -> "Grader":
        """The unit reduced to `questions`, every CPU budget replaced by `cpu_seconds` if given;
        its reports cached apart from the whole unit's (they differ)."""
        if questions == frozenset(q.name for q in self.unit.questions) and cpu_seconds is None:
            return self
        key = (tuple(sorted(questions)), cpu_seconds)
        if key not in self._variants:
            kept = tuple(
                dataclasses.replace(q, checks=tuple(dataclasses.replace(c, cpu_seconds=cpu_seconds)
                                                    if cpu_seconds and c.cpu_seconds else c for c in q.checks))
                for q in self.unit.questions if q.name in questions)
            shared = self.shared / f"{self.unit.name}-{'+'.join(key[0])}-{cpu_seconds}"
            shared.mkdir(exist_ok=True)
            self._variants[key] = Grader(dataclasses.replace(self.unit, questions=kept), self.reference,
                                         self.tmp, shared, self.files)
        return self._variants[key]

    def for_entry(self, entry: Entry) -> "Grader":
        """The Grader the corpus tests grade `entry` with. A question with a CPU budget (a
        training run, seconds each) is graded only for the entries about it: a wrong entry that
        loses it and a hostile one that attacks it are graded on it alone (their other functions
        are correct/plain's, graded as such), every other entry without it. The entry's
        CPU_SECONDS, if any, replaces the budget."""
        every = frozenset(q.name for q in self.unit.questions)
        budgeted = frozenset(q.name for q in self.unit.questions if any(c.cpu_seconds for c in q.checks))
        if entry.kind == "hostile" and entry.attacks:
            about = entry.attacks
        elif entry.kind == "hostile":
            return self.for_entry(self.files.load_entry(*entry.base.split("/")))
        else:
            about = entry.loses if entry.kind == "wrong" else frozenset()
        questions = about if about and about <= budgeted else every - budgeted
        return self.variant(questions, entry.cpu_seconds)

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
        return Report.from_dict(json.loads(path.read_text()))


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


@pytest.fixture(scope="module")
def grader(grader_for, request) -> Grader:
    return grader_for(_unit_of(request))


# ---------------------------------------------------------------------------------------------
# what must never reach a student


def secret_lines(files: UnitFiles, min_length: int = 25) -> list[str]:
    """Distinctive code lines of the unit's reference and hidden spec (not docstrings, which the
    stub shows, nor lines the stub or the public checks show anyway) that no feedback or
    bundle may contain."""
    import ast

    shown = files.stub.read_text() + "\n" + units.public_path(files.name).read_text()
    public = {line.strip() for line in shown.splitlines()}
    lines = set()
    for path in (files.reference, PROJECT / "autograder" / "units" / f"{files.name}.py"):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef):
                for stmt in node.body[1:] if ast.get_docstring(node) else node.body:
                    for line in ast.get_source_segment(source, stmt).splitlines():
                        line = line.strip()
                        if len(line) >= min_length and not line.startswith(("#", "raise ValueError", "f\"", "\"", "return 0.0")) \
                                and json.dumps(line)[1:-1] not in shown and line not in public:
                            lines.add(line)
    return sorted(lines)


def assert_no_secrets(text: str, secrets: list[str]) -> None:
    leaked = [line for line in secrets if line in text]
    assert not leaked, f"hidden source reached the student: {leaked[:3]}"


def feedback(report) -> str:
    """Everything a student sees of a report."""
    return json.dumps(report.to_gradescope(), indent=1) + "\n" + "\n".join(report.notes)


def full_marks(unit) -> dict[str, float]:
    return {q.name: q.points for q in unit.questions}


# Files hostile submissions scribble on outside the sandbox's own folder (world-writable places).
SCRIBBLED = [Path(p) / "results.json" for p in ("/tmp", "/var/tmp", "/dev/shm")]


@pytest.fixture
def scribbles():
    """Removes what hostile code wrote into world-writable folders (after checking the owner)."""
    yield
    for path in SCRIBBLED:
        try:
            if path.stat().st_uid != 0:
                path.unlink()
        except OSError:
            pass


def assert_valid_results(path: Path, unit, scores: dict[str, float] | None = None) -> dict:
    """results.json in Gradescope's schema, with the given per-question scores."""
    results = json.loads(path.read_text())
    assert set(results) >= {"score", "tests"}
    assert [t["name"] for t in results["tests"]] == [q.name for q in unit.questions]
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] == ("passed" if test["score"] == test["max_score"] else "failed")
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))
    assert sum(t["max_score"] for t in results["tests"]) == unit.points
    if scores is not None:
        assert {t["name"]: t["score"] for t in results["tests"]} == scores
    return results


def assert_reads_well(text: str) -> None:
    """Messages built from pieces must still be sentences a student can read."""
    for garbled in ("the notebook the notebook", "the notebook the worker", "while a graded call"):
        assert garbled not in text, f"garbled message: ...{text[text.index(garbled) - 60:][:160]}..."
