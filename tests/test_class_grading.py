"""TA grading at class scale: a Gradescope export in, grades.csv, feedback and reports out.

A synthetic Gradescope "Export Submissions" download is built here from the documented
layout (``assignment_<id>_export/submission_metadata.yml``, Ruby-symbol keys ``:submitters``
with ``:name``/``:sid``/``:email``, one ``submission_<id>/`` folder of uploaded files each):
36 submissions mixing the reference, correct variants, every wrong corpus file, hostile ones
(fork bomb, memory hog, results writer), untouched stubs, a group submission, a
``grader.export()`` zip and malformed uploads. It is graded once with ``--jobs 2`` (the zip),
and once more from the unpacked folder, killed a third of the way and restarted: its
grades.csv must equal the first run's byte for byte (grading is deterministic and resuming
loses nothing); a third run regrades nothing.

Fidelity with Gradescope: one submission of each kind in the export (ten of 36) is run
through the built autograder.zip in a simulated /autograder tree (as tests/test_gradescope.py
does); every submission is, with AUTOGRADER_SLOW_TESTS=1. Each simulation costs about 12 s
of CPU (three fresh interpreters import torch: Otter's, its kernel's and the worker's), so
all 36 would add some 200 s to a suite kept under 15 minutes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from autograder import export, sandbox

from conftest import (CORPUS, EXPECTED_SANDBOX_UID, PROJECT, PYTHON, QUESTIONS, STUB, corpus_names,
                      entry_notebook, leftover_processes, load_entry, reference_notebook)

POINTS = {"softmax": 3.5, "log_softmax": 3.5, "masked_softmax": 4.5, "causal_mask": 2.5, "padding_mask": 2.5}
HEADER = ["name", "email", "sid", "submission", *QUESTIONS, "total", "max", "status"]
SLOW = os.environ.get("AUTOGRADER_SLOW_TESTS") == "1"
# sandbox uids of the CLI runs here: disjoint from every other test's (one block per xdist worker)
FIRST_UID = EXPECTED_SANDBOX_UID + 700


@dataclass
class Sub:
    """One submission of the synthetic export and what its grade must be."""

    files: dict[str, bytes]
    students: list[tuple[str, str, str]]  # (name, email, sid)
    expect: str  # "full" | "zero" | "malformed" | "loses"
    loses: frozenset = frozenset()
    key: str = ""
    honest: bool = True
    spec: str = ""  # the corpus entry uploaded, if one
    notes: list[str] = field(default_factory=list)


def nb_bytes(nb) -> bytes:
    return nbformat.writes(nb).encode()


def entry_bytes(spec: str) -> bytes:
    return nb_bytes(entry_notebook(load_entry(*spec.split("/"))))


def plan() -> list[Sub]:
    subs: list[Sub] = []
    reference = nb_bytes(reference_notebook())
    for _ in range(3):  # the first two are byte-for-byte copies: the similarity report's pair
        subs.append(Sub({"softmax.ipynb": reference}, [], "full"))
    subs[2].files = {"my_softmax.ipynb": reference.replace(b"softmax(", b"softmax (")}
    for name in corpus_names("correct"):
        subs.append(Sub({"softmax.ipynb": entry_bytes(f"correct/{name}")}, [], "full", spec=f"correct/{name}"))
    for name in corpus_names("wrong"):
        entry = load_entry("wrong", name)
        subs.append(Sub({"softmax.ipynb": entry_bytes(f"wrong/{name}")}, [], "loses", entry.loses, spec=f"wrong/{name}"))
    for name in ("fork_bomb", "memory_hog", "write_results"):
        entry = load_entry("hostile", name)
        base = load_entry(*entry.base.split("/"))
        subs.append(Sub({"softmax.ipynb": entry_bytes(f"hostile/{name}")}, [],
                        "loses" if base.loses else "full", base.loses, honest=False, spec=f"hostile/{name}"))
    for _ in range(2):  # untouched stubs: 0, and never "similar" (the stub's code is excluded)
        subs.append(Sub({"softmax.ipynb": STUB.read_bytes()}, [], "zero"))
    # a group of two, uploading what grader.export() makes (the notebook and Otter's log)
    exported = io.BytesIO()
    with zipfile.ZipFile(exported, "w") as archive:
        archive.writestr("softmax.ipynb", entry_bytes("wrong/causal_strict"))
        archive.writestr(".OTTER_LOG", pickle.dumps({"question": "causal_mask"}))
    subs.append(Sub({"softmax_export.zip": exported.getvalue()}, [], "loses", frozenset({"causal_mask"})))
    subs.append(Sub({"softmax.ipynb": (CORPUS / "malformed" / "not_json.ipynb").read_bytes()}, [], "malformed"))
    subs.append(Sub({"a.ipynb": reference, "b.ipynb": STUB.read_bytes()}, [], "malformed"))  # two notebooks
    subs.append(Sub({"notes.txt": b"I forgot the notebook"}, [], "malformed"))  # no notebook at all
    for index, sub in enumerate(subs):
        sub.key = f"submission_{9000 + index}"
        sub.students = [(f"Student {index:02d}", f"s{index:02d}@example.edu", f"{1000 + index}")]
    group = subs[-4]
    group.students.append(("Partner Two", "partner@example.edu", "2002"))
    return subs


def metadata_yaml(subs: list[Sub]) -> str:
    """submission_metadata.yml as Gradescope writes it (Ruby symbols, a Ruby-tagged score)."""
    lines = []
    for index, sub in enumerate(subs):
        lines += [f"{sub.key}:", "  :submitters:"]
        for name, email, sid in sub.students:
            lines += [f"  - :name: {name}", f"    :sid: '{sid}'", f"    :email: {email}"]
        score = "!ruby/object:BigDecimal 18:0.0" if index == 0 else "0.0"
        lines += ["  :created_at: 2026-11-20 10:00:00.000000000 -08:00", f"  :score: {score}",
                  "  :status: processed", "  :results:", "    score: 0.0", "    tests: []", "  :history: []"]
    return "\n".join(lines) + "\n"


def write_export(subs: list[Sub], folder: Path) -> Path:
    """The unpacked export: <folder>/assignment_4242_export/{submission_metadata.yml, submission_*/}."""
    root = folder / "assignment_4242_export"
    root.mkdir(parents=True)
    (root / export.METADATA).write_text(metadata_yaml(subs))
    for sub in subs:
        (root / sub.key).mkdir()
        for name, data in sub.files.items():
            (root / sub.key / name).write_bytes(data)
    return root


def zip_folder(root: Path, path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(root.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(root.parent))
    return path


def cli(inputs: list[Path], out: Path, uid: int, *extra: str) -> list[str]:
    return [str(PYTHON), "-m", "autograder", "grade", "softmax", *map(str, inputs), "--out", str(out), *extra]


def env_for(uid: int) -> dict:
    return dict(os.environ, AUTOGRADER_SANDBOX_UID=str(uid))


def sweep(uid: int) -> list[str]:
    """Processes left in the uid block of a run (then killed, so no test poisons another)."""
    uids = set(range(uid, uid + 20))
    found = leftover_processes(uids)
    for u in uids:
        sandbox.kill_uid(u)
    return found


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def graded(tmp_path_factory, host):
    """Every run below, once per test session even with several pytest-xdist workers."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the session's folder, common to every worker
    work = shared / "class-grading"
    with FileLock(str(work) + ".lock"):
        if not (work / "done.json").exists():
            work.mkdir(exist_ok=True)
            (work / "done.json").write_text(json.dumps(grade_class(work)))
    return dict(json.loads((work / "done.json").read_text()), subs=plan(), work=work,
                first=work / "out-zip", second=work / "out-folder")


def grade_class(work: Path) -> dict:
    """The export zip graded with --jobs 2; then the same export unpacked, graded, killed, resumed."""
    subs = plan()
    root = write_export(subs, work / "unpacked")
    archive = zip_folder(root, work / "assignment_4242_export.zip")
    first, second = work / "out-zip", work / "out-folder"
    uid_a, uid_b = FIRST_UID, FIRST_UID + 20

    start = time.monotonic()
    run = subprocess.run(cli([archive], first, uid_a, "--jobs", "2"), cwd=PROJECT, env=env_for(uid_a),
                         capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - start
    left_a = sweep(uid_a)
    assert run.returncode == 0, run.stderr

    # the same class, from the unpacked folder: killed once a third is graded, resumed
    killed = subprocess.Popen(cli([root.parent], second, uid_b, "--jobs", "2"), cwd=PROJECT,
                              env=env_for(uid_b), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and killed.poll() is None:
        if len(list(second.glob("*/graded.json"))) >= len(subs) // 3:
            break
        time.sleep(0.2)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    done_before = len(list(second.glob("*/graded.json")))
    time.sleep(1)  # workers of the killed run see their pipes close and exit
    sweep(uid_b)
    resumed = subprocess.run(cli([root.parent], second, uid_b, "--jobs", "2"), cwd=PROJECT, env=env_for(uid_b),
                             capture_output=True, text=True, timeout=900)
    left_b = sweep(uid_b)
    assert resumed.returncode == 0, resumed.stderr
    again = subprocess.run(cli([archive], first, uid_a, "--quiet"), cwd=PROJECT, env=env_for(uid_a),
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    return {"resumed": resumed.stdout, "again": again.stdout, "done_before": done_before,
            "left": left_a + left_b, "seconds": seconds}


# --------------------------------------------------------------------------- the export


def test_export_metadata_maps_every_submission_to_its_students(tmp_path):
    subs = plan()
    root = write_export(subs, tmp_path)
    items = export.collect([root.parent], "softmax", tmp_path / "staging")
    assert len(items) == len(subs) >= 30
    assert [i.key for i in items] == [s.key for s in subs]
    for item, sub in zip(items, subs):
        assert [(s.name, s.email, s.sid) for s in item.students] == sub.students
    group = next(i for i in items if len(i.students) == 2)
    assert group.path.name == "softmax_export.zip"
    two, none = items[-2], items[-1]
    assert two.path is None and "2 notebooks" in two.problem
    assert none.path is None and "no notebook" in none.problem and "notes.txt" in none.problem


def test_export_zip_rejects_paths_outside_its_folder(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("assignment_1_export/submission_metadata.yml",
                         "submission_1:\n  :submitters:\n  - :name: A\n")
        archive.writestr("assignment_1_export/submission_1/softmax.ipynb", STUB.read_bytes())
        archive.writestr("../../escaped.txt", b"no")
    items = export.collect([evil], "softmax", tmp_path / "staging")
    assert [i.key for i in items] == ["submission_1"] and items[0].students[0].name == "A"
    assert not list(tmp_path.rglob("escaped.txt"))


# --------------------------------------------------------------------------- grades


def test_every_student_gets_a_row_with_the_right_scores(graded):
    rows = read_csv(graded["first"] / "grades.csv")
    assert rows[0] == HEADER
    subs = graded["subs"]
    assert len(rows) - 1 == sum(len(s.students) for s in subs)
    by_student = {row[0]: row for row in rows[1:]}
    for sub in subs:
        for name, email, sid in sub.students:
            row = by_student[name]
            assert row[1:4] == [email, sid, sub.key], row
            scores = dict(zip(QUESTIONS, map(float, row[4:9])))
            total, maximum, status = float(row[9]), float(row[10]), row[11]
            assert maximum == 16.5 and total == sum(scores.values())
            if sub.expect == "full":
                assert scores == POINTS and status == "ok", (sub.key, row)
            elif sub.expect == "zero":
                assert total == 0 and status == "ok", row
            elif sub.expect == "malformed":
                assert total == 0 and status == "malformed", row
            else:
                lost = {q for q in QUESTIONS if scores[q] < POINTS[q]}
                assert lost == set(sub.loses), (sub.key, row)


def test_hostile_neighbours_under_jobs_2_change_no_honest_score(graded):
    """The run had the fork bomb, the memory hog and the results writer graded beside the
    others, two at a time: every honest submission got exactly what it must (checked above),
    and the hostile ones their base's score; nothing of theirs survived."""
    rows = {row[3]: row for row in read_csv(graded["first"] / "grades.csv")[1:]}
    hostile = [s for s in graded["subs"] if not s.honest]
    assert len(hostile) == 3
    for sub in hostile:
        scores = dict(zip(QUESTIONS, map(float, rows[sub.key][4:9])))
        assert {q for q in QUESTIONS if scores[q] < POINTS[q]} == set(sub.loses)
    assert not graded["left"], "sandboxed processes outlived grading"
    for sub in graded["subs"]:  # the results writer could not touch any results.json
        results = json.loads((graded["first"] / sub.key / "results.json").read_text())
        assert results["score"] <= 16.5 and [t["name"] for t in results["tests"]] == list(QUESTIONS)


def test_killed_and_resumed_run_gives_the_same_csv(graded):
    """Graded twice (the zip; then the unpacked folder, killed midway and restarted): the same
    grades.csv, byte for byte."""
    subs = graded["subs"]
    assert 0 < graded["done_before"] < len(subs), "the run was not killed midway"
    first = (graded["first"] / "grades.csv").read_bytes()
    assert (graded["second"] / "grades.csv").read_bytes() == first
    assert first.count(b"\n") == 1 + sum(len(s.students) for s in subs)
    assert f"{len(subs) - graded['done_before']} graded now" in graded["resumed"]


def test_already_graded_submissions_are_not_graded_again(graded):
    assert f"0 graded now, {len(graded['subs'])} already graded" in graded["again"]
    assert (graded["first"] / "grades.csv").read_text().count("\n") == 1 + sum(len(s.students) for s in graded["subs"])


def test_results_and_feedback_per_submission(graded):
    for sub in graded["subs"]:
        folder = graded["first"] / sub.key
        results = json.loads((folder / "results.json").read_text())
        assert {t["name"]: t["max_score"] for t in results["tests"]} == POINTS
        md, page = (folder / "feedback.md").read_text(), (folder / "feedback.html").read_text()
        assert f"Score: {results['score']:g} / 16.5" in md and f"Score: {results['score']:g} / 16.5" in page
        assert sub.students[0][0] in md
    wrong = [s for s in graded["subs"] if s.expect == "loses" and s.honest]
    hinted = [s for s in wrong if "Hint:" in (graded["first"] / s.key / "feedback.md").read_text()]
    assert len(hinted) >= len(wrong) // 2, "the feedback lost the hints"


def test_class_report_has_its_plots(graded):
    report = graded["first"] / "report"
    page = (report / "index.html").read_text()
    for png in ("score_histogram.png", "pass_rate.png", "failure_hints.png"):
        assert (report / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png in page
    assert "Most frequent failure hints" in page and "similarity.html" in page
    # the ten most frequent (question, hint) pairs; the untouched stubs' failure is in their feedback
    # (with every documented ValueError graded, missing argument checks are now more frequent)
    assert page.count("</td></tr>") >= 10
    stubs = [s for s in graded["subs"] if s.expect == "zero"]
    assert stubs and all("is not implemented yet" in (graded["first"] / s.key / "feedback.md").read_text()
                         for s in stubs)


def test_similarity_report_flags_copies_but_not_the_stub(graded):
    subs = graded["subs"]
    text = (graded["first"] / "report" / "similarity.csv").read_text().splitlines()
    pairs = {tuple(sorted(line.split(",")[2:])) for line in text[1:]}
    copies = (subs[0].key, subs[1].key)
    assert copies in pairs
    stubs = tuple(s.key for s in subs if s.expect == "zero")
    assert stubs not in pairs, "the stub's own code counted as copied"
    assert "Student 00" in (graded["first"] / "report" / "similarity.html").read_text()


# --------------------------------------------------------------------------- fidelity


def simulate(autograder_zip: Path, sub: Sub) -> dict:
    """The submission's uploaded files in a simulated /autograder tree, run as Gradescope does."""
    from test_gradescope import new_tree, run_tree

    root, ag, marks = new_tree(autograder_zip)
    try:
        for name, data in sub.files.items():
            (ag / "submission" / name).write_bytes(data)
        seen = run_tree(root, ag, marks)
        return json.loads(seen["results"])
    finally:
        shutil.rmtree(root, ignore_errors=True)


def one_of_each_kind(subs: list[Sub]) -> list[Sub]:
    """A submission of every kind the export holds: each upload form (a notebook, a renamed
    one, Otter's export zip, two notebooks, none, an unreadable file) and each outcome (full,
    zero, some points lost, hostile)."""
    kinds = [subs[0], subs[2], subs[-4], subs[-3], subs[-2], subs[-1]]
    specs = (f"correct/{corpus_names('correct')[0]}", "wrong/no_max_subtraction", "hostile/write_results")
    kinds += [next(s for s in subs if s.spec == spec) for spec in specs]
    kinds.append(next(s for s in subs if s.expect == "zero"))
    return kinds


def test_cli_scores_equal_the_gradescope_tree(graded):
    """One submission of each kind in the export (ten); all 36 with AUTOGRADER_SLOW_TESTS=1."""
    from test_gradescope import total

    subs = graded["subs"]
    dist = graded["work"] / "dist"
    subprocess.run([str(PYTHON), "-m", "autograder", "build", "softmax", "--dist", str(dist)],
                   cwd=PROJECT, check=True, capture_output=True, timeout=300)
    chosen = subs if SLOW else one_of_each_kind(subs)
    assert len({s.key for s in chosen}) == (len(subs) if SLOW else 10)
    with ThreadPoolExecutor(max_workers=2) as pool:
        sims = list(pool.map(lambda s: simulate(dist / "softmax" / "autograder.zip", s), chosen))
    for sub, sim in zip(chosen, sims):
        ours = json.loads((graded["first"] / sub.key / "results.json").read_text())
        assert {t["name"]: t["score"] for t in sim["tests"] if "score" in t} == \
            {t["name"]: t["score"] for t in ours["tests"]}, sub.key
        assert total(sim) == total(ours), sub.key  # Otter may leave out the top-level score


# --------------------------------------------------------------------------- the fork server

PROBE = '''
import json, os, resource, socket
limits = {name: resource.getrlimit(getattr(resource, name)) for name in
          ("RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CORE")}
try:
    socket.create_connection(("127.0.0.1", 22), timeout=1).close()
    network = "connected"
except OSError as exc:
    network = type(exc).__name__
interfaces = sorted(line.split(":")[0].strip() for line in open("/proc/net/dev").read().splitlines()[2:])
try:
    open("/tmp/autograder-fork-probe-" + str(os.getpid()), "w").close()
    writes_tmp = True
except OSError:
    writes_tmp = False
print("PROBE" + json.dumps({
    "uid": [os.getuid(), os.geteuid(), os.getgid()], "groups": os.getgroups(), "limits": limits,
    "interfaces": interfaces, "network": network, "writes_tmp": writes_tmp, "cwd_is_home": os.getcwd() == os.environ["HOME"],
    "env": sorted(os.environ), "fds": sorted(int(f) for f in os.listdir("/proc/self/fd")),
    "project_on_path": any(p.rstrip("/").endswith("wt-class") or p.endswith("autograder") for p in __import__("sys").path),
    "session_leader": os.getsid(0) == os.getpid()}))
'''


def probe(worker) -> dict:
    assert worker.exec_cell(0, PROBE)["ok"], worker.output()
    text = worker.output()
    return json.loads(text[text.rindex("PROBE") + 5:].splitlines()[0])


def test_forked_worker_is_confined_like_a_fresh_one(host):
    """A worker forked from the warm server runs under the same uid, groups, rlimits, network
    namespace, environment and working directory as one started as a fresh interpreter."""
    from autograder.pool import ForkServer

    with sandbox.Worker({"softmax.ipynb": b"{}"}) as fresh:
        expected = probe(fresh)
        fresh_uid = fresh.uid
    with ForkServer() as server:
        with sandbox.Worker({"softmax.ipynb": b"{}"}) as forked:
            assert forked._process.pid != server.pid and sandbox._SPAWNER is not None
            got = probe(forked)
            forked_uid = forked.uid
    assert sandbox._SPAWNER is None  # closing the server restores fresh interpreters
    if sandbox.IS_ROOT:
        assert got["uid"] == [forked_uid] * 3 and expected["uid"] == [fresh_uid] * 3
        assert got["groups"] == expected["groups"] == []
        assert got["interfaces"] == expected["interfaces"] == ["lo"]  # an empty network namespace
        assert got["network"] == expected["network"] != "connected"
    for key in ("limits", "cwd_is_home", "env", "project_on_path", "session_leader", "writes_tmp"):
        assert got[key] == expected[key], key
    assert got["writes_tmp"] == (not sandbox.landlock_abi())  # Landlock: its own folder only
    assert len(got["fds"]) == len(expected["fds"]) == 6  # stdin/out/err, the two pipes, listdir's own
    assert not got["project_on_path"] and got["session_leader"]


def test_forked_worker_crash_is_reported_like_a_fresh_one(host):
    from autograder.pool import ForkServer

    messages = []
    for server in (None, ForkServer()):
        try:
            with sandbox.Worker({"softmax.ipynb": b"{}"}) as worker:
                with pytest.raises(sandbox.WorkerLost) as lost:
                    worker.exec_cell(0, "import os; os.kill(os.getpid(), 9)")
                messages.append(lost.value.reason)
        finally:
            if server is not None:
                server.close()
    assert messages[0] == messages[1] and "killed" in messages[0]
