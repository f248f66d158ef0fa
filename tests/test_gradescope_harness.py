"""Built zips graded as Gradescope really runs them: 768 MB, 0.5 CPU, no CAP_SYS_ADMIN, 10 minutes.

Each case runs a built autograder.zip through tests/gradescope_harness.py (a Gradescope tree
in a temporary root, run_otter.py as root with HOME=/root and a minimal environment, inside a
cgroup v1 memory group and cpu quota, through capsh without CAP_SYS_ADMIN). Where the harness
cannot run (no root, no writable cgroup v1 controllers, no capsh) every case is skipped with
the reason.

Checked: the softmax and gpt references get full marks within the limits (with Playwright
unimportable, as on an image whose setup.sh does not install it); hostile notebooks (a memory
hog bounded by the worker's address space, children that together exceed the container's
memory, a fork bomb) still end in a valid results.json with a message and the other
questions' points. The default suite runs the softmax and gpt references and one notebook
with both memory hogs (about 2.5 minutes of wall time under the 0.5 CPU quota, half of it the
gpt reference, which trains a model); AUTOGRADER_SLOW_TESTS=1 adds the other units'
references and the corpus' memory hog and fork bomb each on its own.
"""

from __future__ import annotations

import os

import nbformat
import pytest

import gradescope_harness as harness
from autograder import units
from autograder.report import OUTPUT_FORMATS
from conftest import UnitFiles

SLOW = os.environ.get("AUTOGRADER_SLOW_TESTS") == "1"
REASON = harness.unavailable()
pytestmark = pytest.mark.skipif(bool(REASON), reason=REASON or "available")

# The grading environment without Playwright (setup.sh no longer installs it): any import of it
# on the grading path fails loudly.
NO_PLAYWRIGHT = 'raise ImportError("playwright is not installed on this image")\n'

# Children of the student's code that together need more than the container's 768 MB, each
# within the worker's own address-space limit: the kernel's OOM killer must pick them (or the
# worker), never the trusted grader, which still writes results.json.
OOM_CELL = '''
import os, time
kids = []
for _ in range(7):  # each under the worker's address-space headroom, together over 768 MB
    pid = os.fork()
    if pid == 0:
        block = bytearray(110 << 20)
        for i in range(0, len(block), 4096):  # touch every page: resident, not just reserved
            block[i] = 1
        time.sleep(1)  # all resident at once
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
'''


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """built(unit) -> its autograder.zip, built once per session (shared by xdist workers)."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    dist = shared / "harness-dist"

    def build(unit: str):
        with FileLock(str(shared / f"harness-build-{unit}.lock")):
            path = dist / unit / "autograder.zip"
            if not path.exists():
                harness.build_zip(unit, dist)
        return path

    return build


@pytest.fixture(scope="session")
def no_playwright(tmp_path_factory):
    """A PYTHONPATH folder whose `playwright` package refuses to import."""
    folder = tmp_path_factory.mktemp("no-playwright")
    (folder / "playwright").mkdir()
    (folder / "playwright" / "__init__.py").write_text(NO_PLAYWRIGHT)
    folder.chmod(0o755)
    return {"PYTHONPATH": str(folder)}


def graded(built, unit: str, nb, env=None) -> harness.Run:
    run = harness.run(built(unit), {f"{unit}.ipynb": nbformat.writes(nb).encode()}, env=env)
    assert run.results is not None, f"no results.json\n{run.stderr[-4000:]}"
    return run


def scores(run: harness.Run) -> dict[str, float]:
    return {t["name"]: t["score"] for t in run.results["tests"] if "score" in t}


def full_marks(unit: str) -> dict[str, float]:
    return {q.name: q.points for q in units.load(unit).questions}


def within_limits(run: harness.Run) -> None:
    assert not run.timed_out, "killed at Gradescope's 10-minute timeout"
    assert run.returncode == 0, run.stderr[-4000:]
    assert run.peak_mb <= harness.MEMORY_MB


# --------------------------------------------------------------------------- the harness itself


def test_the_harness_drops_cap_sys_admin():
    assert not harness.effective_capabilities() >> harness.CAP_SYS_ADMIN & 1
    assert os.geteuid() == 0 and os.environ.get("HOME") is not None  # still root: only the capability goes


def test_the_harness_sets_gradescope_limits():
    group = harness._Group("selftest", harness.MEMORY_MB, harness.CPU_SHARE)
    try:
        assert int((group.memory / "memory.limit_in_bytes").read_text()) == 768 * 2**20
        quota = int((group.cpu / "cpu.cfs_quota_us").read_text())
        assert quota / int((group.cpu / "cpu.cfs_period_us").read_text()) == 0.5
    finally:
        group.remove()
    assert not group.memory.exists() and not group.cpu.exists()


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize("unit", ["softmax", "gpt"])
def test_reference_gets_full_marks_under_gradescope_limits(built, no_playwright, unit):
    run = graded(built, unit, UnitFiles(unit).reference_notebook(), env=no_playwright)
    within_limits(run)
    assert run.oom_kills == 0
    assert scores(run) == full_marks(unit)
    assert {key: run.results.get(key) for key in OUTPUT_FORMATS} == OUTPUT_FORMATS


@pytest.mark.skipif(not SLOW, reason="every other unit's reference: AUTOGRADER_SLOW_TESTS=1")
@pytest.mark.parametrize("unit", [u for u in units.names() if u not in ("softmax", "gpt")])
def test_every_reference_gets_full_marks_under_gradescope_limits(built, no_playwright, unit):
    run = graded(built, unit, UnitFiles(unit).reference_notebook(), env=no_playwright)
    within_limits(run)
    assert scores(run) == full_marks(unit)


# --------------------------------------------------------------------------- hostile notebooks


def hostile(spec: str) -> nbformat.NotebookNode:
    files = UnitFiles("softmax")
    return files.entry_notebook(files.load_entry(*spec.split("/")))


@pytest.mark.skipif(not SLOW, reason="each costs a Gradescope run: AUTOGRADER_SLOW_TESTS=1")
@pytest.mark.parametrize("spec, error", [("hostile/memory_hog", "MemoryError"),
                                         ("hostile/fork_bomb", "BlockingIOError")])
def test_hostile_cell_is_reported_and_the_rest_graded(built, spec, error):
    run = graded(built, "softmax", hostile(spec))
    within_limits(run)
    assert scores(run) == full_marks("softmax")  # the bad cell is the last: the functions stand
    assert error in run.results["output"], run.results["output"]


def test_memory_hogs_do_not_kill_the_grader(built):
    """The corpus memory hog (stopped by the worker's address-space limit) and children that
    together exceed the container's memory (stopped by the kernel's OOM killer), in one
    notebook: the grader survives, grades every function and tells the student."""
    nb = hostile("hostile/memory_hog")
    nb.cells.append(nbformat.v4.new_code_cell(OOM_CELL))
    run = graded(built, "softmax", nb)
    within_limits(run)
    assert run.oom_kills >= 1, ("the children never exceeded the container's memory: nothing was tested", run.results["output"][-3000:], run.stderr[-2000:])
    assert scores(run) == full_marks("softmax")  # the grader survived and graded everything
    assert "MemoryError" in run.results["output"], run.results["output"]


@pytest.mark.skipif(not SLOW, reason="each costs a Gradescope run: AUTOGRADER_SLOW_TESTS=1")
@pytest.mark.parametrize("name", ["deep_reply_frame", "malformed_reply_fields", "huge_int_return",
                                  "deeply_nested_cell", "forked_child_answers"])
def test_crash_the_grader_inputs_end_in_their_own_message(built, name):
    """The inputs that once made the grader itself fail ("autograder failed", 0 for the student),
    on Gradescope's path (a worker forked from the grader): results.json with the points of
    every question the attack does not touch and a message naming what went wrong."""
    from test_containment import CRASH_THE_GRADER

    entry = UnitFiles("softmax").load_entry("hostile", name)
    run = graded(built, "softmax", hostile(f"hostile/{name}"))
    within_limits(run)
    got, full = scores(run), full_marks("softmax")
    assert {q for q in full if got[q] < full[q]} == set(entry.loses), got
    said = run.results.get("output", "") + "".join(t.get("output", "") for t in run.results["tests"])
    assert CRASH_THE_GRADER[name] in said, said[-3000:]
