"""The built autograder.zip in a simulated Gradescope tree.

Each simulation lays out ``<tmp>/autograder/{source,submission,results}`` plus
``submission_metadata.json``, unzips the built zip into ``source/``, puts the submission in
``submission/`` and runs ``source/run_otter.py`` as a script, as Gradescope does (never
``setup.sh``, which downloads from the internet). All simulations and one CLI run over the
same files start together, once per test session (shared by pytest-xdist workers); what the
tests need is observed right after each run, then the trees are removed.

Checked: Gradescope's per-question scores and total equal the CLI's (`python -m autograder
grade`) for the reference, the stub and wrong submissions (a notebook and an export zip), and
a malformed notebook; a notebook without Otter metadata is graded; the four ways Otter 7 lets
a submission run code as root are closed (an uploaded ``.OTTER_LOG`` is never unpickled, an
uploaded ``otter.py`` is never imported, a detached child of the student's code does not
outlive grading, no PDF is made), with stock Otter in the same tree as the control; student
code cannot read the autograder's files; results.json stays valid when Otter fails.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import otter
import pytest

from autograder import units
from autograder.report import OUTPUT_FORMATS

from gradescope_harness import lay_out

PROJECT = Path(__file__).resolve().parents[1]
PYTHON = PROJECT / ".venv" / "bin" / "python"
if not PYTHON.exists():
    PYTHON = Path(sys.executable)
UNIT = "softmax"
QUESTIONS = ["softmax", "log_softmax", "masked_softmax", "causal_mask", "padding_mask"]
FUNCTIONS = set(QUESTIONS)
REFERENCE = PROJECT / "solutions" / f"{UNIT}.py"
STUB = PROJECT / "assignments" / UNIT / f"{UNIT}.ipynb"
IS_ROOT = os.geteuid() == 0
REFERENCE_PATH_IN_ZIP = "files/decoding_gpt_grader/solutions/softmax.py"


# --------------------------------------------------------------------------- submissions


def _defines_question_function(source: str) -> bool:
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(isinstance(n, ast.FunctionDef) and n.name in FUNCTIONS for n in tree.body)


def reference_notebook(first: list[str] = (), last: list[str] = ()) -> nbformat.NotebookNode:
    """The stub notebook (with its Otter metadata) with every stub cell replaced by the reference."""
    nb = nbformat.read(STUB, as_version=4)
    source = REFERENCE.read_text()
    replaced = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and _defines_question_function(cell.source):
            cell.source, cell.outputs, cell.execution_count = source, [], None
            replaced += 1
    assert replaced, "the stub notebook defines none of the unit's functions"
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for text in reversed(list(first)):
        nb.cells.insert(code[0], nbformat.v4.new_code_cell(text))
    nb.cells += [nbformat.v4.new_code_cell(text) for text in last]
    return nb


def plain_notebook(*sources: str) -> nbformat.NotebookNode:
    """A notebook without any Otter metadata (stock Otter refuses to grade it)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def nb_bytes(nb) -> bytes:
    return nbformat.writes(nb).encode()


CAUSAL_STRICT = '''
def causal_mask(q_len, k_len=None, *, device=None):
    k_len = q_len if k_len is None else k_len
    i = torch.arange(q_len, device=device)[:, None]
    j = torch.arange(k_len, device=device)[None, :]
    return j < i + (k_len - q_len)  # bug: a query may not attend to itself
'''

SOFTMAX_NO_SHIFT = '''
def softmax(x, dim=-1):
    e = x.exp()  # bug: no max subtraction, overflows for large logits
    return e / e.sum(dim=dim, keepdim=True)
'''


class _Touch:
    """Unpickling this runs `touch <path>`: the payload of a malicious pickle."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def touch_pickle(path: Path) -> bytes:
    return pickle.dumps(_Touch(path))


def otter_py(path: Path) -> bytes:
    return f'open({str(path)!r}, "w").write("imported as root")\n'.encode()


# A detached, setsid'ed, double-forked child that outlives its cell and keeps trying, for two
# minutes: it records that it is alive, and sends a malicious pickle to every TCP port
# listening on localhost (Otter's logging server `pickle.loads` what it receives).
FORK_CELL = '''
import os, socket, struct, pickle, time

MARKS = {marks!r}

class _Touch:
    def __reduce__(self):
        return (os.system, ("touch " + MARKS + "/pwned_by_child",))

def _listening_ports():
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in open(table).read().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":  # LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        # how the test finds it: the sandbox may write nothing outside its folder (Landlock)
        __import__("ctypes").CDLL(None).prctl(15, b"hostile-child", 0, 0, 0)  # PR_SET_NAME
        payload = pickle.dumps(_Touch())
        frame = struct.pack(">L", len(payload)) + payload
        deadline = time.time() + 120
        while time.time() < deadline:
            for port in _listening_ports():
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                        s.sendall(frame)
                except OSError:
                    pass
            time.sleep(0.3)
        os._exit(0)
    os._exit(0)
os.wait()
'''

# Student code that reads the autograder's files and puts them where the student sees them:
# into the feedback (an exception message) and into the output.
READ_CELL = '''
def _steal():
    found = []
    for path in {paths!r}:
        try:
            found.append(open(path).read())
        except Exception as exc:
            found.append(f"{{path}}: {{type(exc).__name__}}")
    return "\\n".join(found)

print(_steal())

def softmax(x, dim=-1):
    raise ValueError(_steal())
'''


# --------------------------------------------------------------------------- the simulation


def new_tree(zip_path: Path) -> tuple[Path, Path, Path]:
    """<root>/autograder/{source,submission,results} (`gradescope_harness.lay_out`: world-
    traversable up to autograder/, so only the grader's own permissions keep the sandbox out),
    and a marks folder any user may write to."""
    root = lay_out(zip_path, {}, parent=Path("/tmp"))
    marks = root / "marks"
    marks.mkdir()
    marks.chmod(0o777)
    return root, root / "autograder", marks


def run_tree(root: Path, ag: Path, marks: Path) -> dict:
    """Run source/run_otter.py as Gradescope does; what the tests need to know, observed at once."""
    start = time.monotonic()
    children: list[int] = []  # the hostile notebook's detached child, seen while grading runs
    done = threading.Event()
    watcher = threading.Thread(target=_watch_for_child, args=(children, done))
    watcher.start()
    try:
        proc = subprocess.run([str(PYTHON), str(ag / "source" / "run_otter.py")], cwd=root,
                              capture_output=True, text=True, timeout=600)
    finally:
        done.set()
        watcher.join()
    seen = {
        "seconds": round(time.monotonic() - start, 1),
        "returncode": proc.returncode,
        "stdout": proc.stdout[-20000:],
        "stderr": proc.stderr[-5000:],
        "results": (ag / "results" / "results.json").read_text() if (ag / "results" / "results.json").exists() else "",
        "marks": {p.name: p.stat().st_uid for p in marks.iterdir()},
        "submission_left": sorted(p.name for p in (ag / "submission").iterdir()),
        "stash": sorted(p.name for p in (ag / ".trusted" / "submission").iterdir())
        if (ag / ".trusted" / "submission").is_dir() else [],
        "pdfs": [str(p) for p in root.rglob("*.pdf")],
        "autograder_mode": ag.stat().st_mode & 0o777,
        "child_pid": None, "child_alive": False, "child_alive_later": False,
    }
    pid = seen["child_pid"] = children[0] if children else None
    if pid is not None:
        seen["child_alive"] = _alive(pid)
        time.sleep(1.0)
        seen["child_alive_later"] = bool(_named("hostile-child"))  # still running, or a new one
        seen["marks"] = {p.name: p.stat().st_uid for p in marks.iterdir()}
        if _alive(pid):  # do not leave it behind, whatever the verdict
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return seen


def _named(comm: str) -> list[int]:
    """Live processes whose name (/proc/PID/comm) is `comm`."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == comm and _alive(int(entry)):
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def _watch_for_child(children: list[int], done: threading.Event) -> None:
    while not done.wait(0.1):
        children.extend(pid for pid in _named("hostile-child") if pid not in children)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def scores(results: dict) -> dict[str, float]:
    return {t["name"]: t["score"] for t in results["tests"] if "score" in t}


def total(results: dict) -> float:
    if "score" in results:
        return results["score"]
    return round(sum(t.get("score", 0) for t in results["tests"]), 5)


def simulate_all(work: Path) -> dict:
    """Build the zip, lay out every tree, run them all and the CLI concurrently; observations."""
    dist = work / "dist"
    subprocess.run([str(PYTHON), "-m", "autograder", "build", UNIT, "--dist", str(dist)],
                   cwd=PROJECT, check=True, capture_output=True, text=True, timeout=300)
    autograder_zip = dist / UNIT / "autograder.zip"
    files = work / "submissions"
    files.mkdir()
    trees: dict[str, tuple[Path, Path, Path]] = {}

    def tree(name: str, submission: dict[str, bytes]) -> tuple[Path, Path, Path]:
        root, ag, marks = trees[name] = new_tree(autograder_zip)
        for filename, data in submission.items():
            (ag / "submission" / filename).write_bytes(data(marks, ag) if callable(data) else data)
        return root, ag, marks

    reference = nb_bytes(reference_notebook())
    export = io.BytesIO()  # what grader.export() makes: the notebook and Otter's log
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("softmax.ipynb", nb_bytes(reference_notebook(last=[CAUSAL_STRICT])))
        archive.writestr(".OTTER_LOG", pickle.dumps({"question": "softmax"}))
    cli_inputs = {
        "reference.ipynb": reference,
        "stub.ipynb": STUB.read_bytes(),
        "wrong_causal.zip": export.getvalue(),
        "wrong_shift.ipynb": nb_bytes(plain_notebook(REFERENCE.read_text(), SOFTMAX_NO_SHIFT)),
        "malformed.ipynb": b'{"cells": [ this is not JSON',
    }
    try:
        for name, data in cli_inputs.items():
            (files / name).write_bytes(data)
            tree(name, {name: data})
        # control: the same upload, graded by stock Otter 7 (its own run_otter.py, no plugin)
        root, ag, marks = tree("stock", {
            "softmax.ipynb": reference,
            ".OTTER_LOG": lambda marks, ag: touch_pickle(marks / "pwned_by_otter_log"),
            "otter.py": lambda marks, ag: otter_py(marks / "pwned_by_otter_py"),
        })
        config = json.loads((ag / "source" / "otter_config.json").read_text())
        config["plugins"] = []
        (ag / "source" / "otter_config.json").write_text(json.dumps(config))
        template = Path(otter.__file__).parent / "generate" / "templates" / "common" / "run_otter.py"
        (ag / "source" / "run_otter.py").write_text(template.read_text().replace("{{ autograder_dir }}", str(ag)))
        # every hole at once: files beside the notebook, a detached child, reading the grader
        tree("hostile", {
            "softmax.ipynb": lambda marks, ag: nb_bytes(reference_notebook(
                first=[FORK_CELL.format(marks=str(marks))],
                last=[READ_CELL.format(paths=[str(ag / "source" / REFERENCE_PATH_IN_ZIP),
                                              str(ag / "source" / "tests" / "softmax.py"),
                                              str(ag / "source" / "otter_config.json")])])),
            ".OTTER_LOG": lambda marks, ag: touch_pickle(marks / "pwned_by_otter_log"),
            "otter.py": lambda marks, ag: otter_py(marks / "pwned_by_otter_py"),
        })
        # Otter fails before any plugin event (no tests folder): still a results.json, with a message
        root, ag, marks = tree("otter_fails_early", {"softmax.ipynb": reference})
        shutil.rmtree(ag / "source" / "tests")

        out = work / "cli"
        with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
            cli = pool.submit(subprocess.run, [str(PYTHON), "-m", "autograder", "grade", UNIT,
                                               *[str(files / n) for n in cli_inputs], "--out", str(out)],
                              cwd=PROJECT, capture_output=True, text=True, timeout=900)
            futures = {name: pool.submit(run_tree, *paths) for name, paths in trees.items()}
            sims = {name: future.result() for name, future in futures.items()}
            cli_run = cli.result()
    finally:
        for root, _, _ in trees.values():
            shutil.rmtree(root, ignore_errors=True)
    assert cli_run.returncode == 0, cli_run.stderr
    with zipfile.ZipFile(autograder_zip) as archive:
        config = json.loads(archive.read("otter_config.json"))
    return {
        "sims": sims,
        "cli": {name: (out / Path(name).stem / "results.json").read_text() for name in cli_inputs},
        "config": config,
    }


class Graded:
    def __init__(self, data: dict):
        self.sims, self.config = data["sims"], data["config"]
        self.cli = {name: json.loads(text) for name, text in data["cli"].items()}

    def results(self, name: str) -> dict:
        return json.loads(self.sims[name]["results"])


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Graded:
    """Every simulation, once per test session, even with several pytest-xdist workers."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the session's folder, common to every worker
    cache = shared / "gradescope-simulations.json"
    with FileLock(str(cache) + ".lock"):
        if not cache.exists():
            cache.write_text(json.dumps(simulate_all(tmp_path_factory.mktemp("gradescope"))))
    return Graded(json.loads(cache.read_text()))


# --------------------------------------------------------------------------- fidelity


def test_every_simulation_writes_valid_results(graded):
    for name, sim in graded.sims.items():
        if name in ("stock", "otter_fails_early"):
            continue
        results = graded.results(name)
        assert sim["returncode"] == 0, f"{name}: run_otter.py exited {sim['returncode']}\n{sim['stderr']}"
        assert [t["name"] for t in results["tests"] if "score" in t] == QUESTIONS, name
        assert all(t.get("visibility") == "visible" for t in results["tests"]), name
        assert ".hypothesis" not in sim["submission_left"], name  # grading wrote nothing there


@pytest.mark.parametrize("name", ["reference.ipynb", "stub.ipynb", "wrong_causal.zip", "wrong_shift.ipynb",
                                  "malformed.ipynb"])
def test_gradescope_scores_equal_the_cli(graded, name):
    results = graded.results(name)
    assert scores(results) == scores(graded.cli[name])
    assert total(results) == total(graded.cli[name])


def test_reference_gets_full_marks_and_stub_zero(graded):
    reference, stub = graded.results("reference.ipynb"), graded.results("stub.ipynb")
    assert total(reference) == 16.5 and all(t["score"] == t["max_score"] for t in reference["tests"])
    assert total(stub) == 0
    for test in stub["tests"]:
        assert "not implemented yet" in test["output"], test


def test_wrong_submissions_lose_only_their_question(graded):
    causal = scores(graded.results("wrong_causal.zip"))  # an export zip, with Otter's log in it
    points = {q.name: q.points for q in units.load(UNIT).questions}
    assert causal["causal_mask"] == 0 and sum(causal.values()) == sum(points.values()) - points["causal_mask"]
    shift = graded.results("wrong_shift.ipynb")
    lost = points["softmax"] - scores(shift)["softmax"]
    assert 0 < lost < points["softmax"] and total(shift) == sum(points.values()) - lost
    feedback = next(t["output"] for t in shift["tests"] if t["name"] == "softmax")
    assert "Hint:" in feedback and "exp(1000) overflows" in feedback  # feedback reaches students


def test_notebook_without_otter_metadata_is_graded_with_a_note(graded):
    results = graded.results("wrong_shift.ipynb")
    assert "no assignment name in its metadata" in results["output"]
    assert total(results) > 0


def test_malformed_notebook_scores_zero_with_a_message(graded):
    results = graded.results("malformed.ipynb")
    assert total(results) == 0
    assert "not valid JSON" in results["output"]
    assert all("not valid JSON" in t["output"] for t in results["tests"])


def _report():
    from autograder.report import CheckResult, QuestionResult, Report

    return Report(UNIT, "softmax.ipynb", questions=[
        QuestionResult("softmax", [CheckResult("ordinary", True, 2, 2), CheckResult("large", False, 0, 1, "Hint: x")]),
        QuestionResult("causal_mask", [CheckResult("square", True, 1, 1)]),
    ], notes=["note: a cell failed"])


def test_trusted_grades_survive_a_failing_otter_kernel():
    """Otter read no results from its kernel (a catastrophic error): the plugin's verdicts stand."""
    from otter.run.run_autograder.autograder_config import AutograderConfig
    from otter.test_files import GradingResults

    from autograder import gradescope

    report = _report()
    results = GradingResults.without_results(RuntimeError("the kernel died"))
    gradescope.apply_report(results, report)
    config = json.loads((PROJECT / "gradescope" / "otter_config.json").read_text())
    out = results.to_gradescope_dict(AutograderConfig(config))
    assert scores(out) == report.scores() and total(out) == report.score == 3
    assert [t["visibility"] for t in out["tests"]] == ["visible", "visible"]
    assert "Hint: x" in out["tests"][0]["output"] and "note: a cell failed" in out["output"]


def test_guard_rewrites_results_that_disagree_with_the_trusted_report(tmp_path, monkeypatch):
    from autograder import gradescope

    monkeypatch.setattr(gradescope, "STATE", gradescope._State())
    gradescope.STATE.report = report = _report()
    path = tmp_path / "results" / "results.json"
    path.parent.mkdir()
    for written in ["", "not json", json.dumps({"tests": [{"name": "softmax", "score": 3, "max_score": 3}]})]:
        path.write_text(written)
        assert gradescope._ensure_results(path, "Otter crashed")
        fixed = json.loads(path.read_text())
        assert scores(fixed) == report.scores() and total(fixed) == 3
        assert "Otter did not report these grades (Otter crashed)" in fixed["output"]
    agreeing = json.dumps(report.to_gradescope())
    path.write_text(agreeing)
    assert gradescope._ensure_results(path, "") and path.read_text() == agreeing
    # Otter's own results agree but set no output format: the guard adds plain text
    otters = {k: v for k, v in report.to_gradescope().items() if k not in OUTPUT_FORMATS}
    path.write_text(json.dumps(otters))
    assert gradescope._ensure_results(path, "")
    assert json.loads(path.read_text()) == {**otters, **OUTPUT_FORMATS}


def test_every_text_renders_as_plain_text(graded):
    """Gradescope renders the top-level output as HTML unless told otherwise: a traceback there
    loses its line breaks and indentation. Every results.json says: plain text."""
    for name, sim in graded.sims.items():
        if name != "stock":
            results = json.loads(sim["results"])
            assert {k: results.get(k) for k in OUTPUT_FORMATS} == OUTPUT_FORMATS, name
            assert OUTPUT_FORMATS == {"output_format": "text", "test_output_format": "text",
                                      "test_name_format": "text"}


def test_otter_failing_before_grading_still_gives_valid_results(graded):
    results = graded.results("otter_fails_early")
    assert total(results) == 0 and graded.sims["otter_fails_early"]["returncode"] == 1
    assert "autograder failed before it could grade" in results["output"]
    assert [t["name"] for t in results["tests"]] == QUESTIONS


# --------------------------------------------------------------------------- the root holes


def test_uploaded_otter_log_and_otter_py_never_run(graded):
    sim = graded.sims["hostile"]
    assert "pwned_by_otter_log" not in sim["marks"], "Otter unpickled the uploaded .OTTER_LOG"
    assert "pwned_by_otter_py" not in sim["marks"], "the uploaded otter.py was imported"
    # they were moved out of the submission folder (cwd and sys.path of Otter's kernel)
    assert ".OTTER_LOG" not in sim["submission_left"] and "otter.py" not in sim["submission_left"]
    assert sim["stash"] == [".OTTER_LOG", "otter.py", "softmax.ipynb"]


def test_stock_otter_runs_both_uploads_as_root(graded):
    """Control: in the same tree, stock Otter 7 unpickles the .OTTER_LOG and imports otter.py."""
    marks = graded.sims["stock"]["marks"]
    for mark in ("pwned_by_otter_log", "pwned_by_otter_py"):
        assert mark in marks, f"stock Otter did not run {mark}: the attack is not live"
        assert marks[mark] == os.geteuid()


def test_the_payloads_are_live(tmp_path):
    """Control: the payloads above do run when unpickled or imported."""
    import runpy

    import dill

    dill.loads(touch_pickle(tmp_path / "unpickled"))
    (tmp_path / "otter.py").write_bytes(otter_py(tmp_path / "imported"))
    runpy.run_path(str(tmp_path / "otter.py"))
    assert (tmp_path / "unpickled").exists() and (tmp_path / "imported").exists()


def test_detached_child_does_not_outlive_grading(graded):
    sim = graded.sims["hostile"]
    assert sim["child_pid"] is not None, "the hostile notebook's child never started:\n" + sim["results"]
    assert not sim["child_alive"], f"the student's detached child {sim['child_pid']} survived grading"
    assert not sim["child_alive_later"], "a child of the notebook was still running a second after grading"
    assert "pwned_by_child" not in sim["marks"], "a pickle sent by the child was unpickled"
    # the rest of the notebook was graded normally
    assert {q: s for q, s in scores(graded.results("hostile")).items() if q != "softmax"} == \
        {"log_softmax": 3.5, "masked_softmax": 4.5, "causal_mask": 2.5, "padding_mask": 2.5}


def test_no_pdf_is_made(graded):
    config = graded.config
    assert config.get("pdf") is False and not config.get("token") and "assignment_name" not in config
    for name, sim in graded.sims.items():
        if name != "stock":
            assert not sim["pdfs"], name
            assert "PDF" not in sim["stdout"], name


@pytest.mark.skipif(not IS_ROOT, reason="without root the sandbox runs as the grader's own user")
def test_student_code_cannot_read_the_autograder(graded):
    sim = graded.sims["hostile"]
    secret = next(line.strip() for line in REFERENCE.read_text().splitlines()
                  if line.strip().startswith("z = z - z.amax"))  # a line of the reference's code
    text = sim["results"]
    assert secret not in text and secret not in sim["stdout"]
    assert "not graded: only the trusted grader" not in text  # the tests' source
    assert "TrustedGrader" not in text  # otter_config.json
    feedback = next(t["output"] for t in graded.results("hostile")["tests"] if t["name"] == "softmax")
    assert feedback.count("PermissionError") >= 3, feedback
    assert sim["autograder_mode"] & 0o077 == 0  # the autograder folder is root-only
