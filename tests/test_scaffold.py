"""`python -m autograder new UNIT` writes a unit that builds and grades as it is.

Run in a copy of the project (the engine, assignments/, solutions/): `new` writes the skeleton
and generates its notebook; the skeleton's student bundle passes the leak check and its
notebook is current; the CLI grades the reference full marks, the untouched stub zero, the
correct entry full marks and the wrong entry zero on its LOSES question, with its HINT.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess

from autograder import sandbox, scaffold

from conftest import EXPECTED_SANDBOX_UID, PROJECT, PYTHON, leftover_processes

# In the copy's own interpreter (one start-up, for a cheap test): `new` as the command line runs
# it, then the submissions a student would hand in, written from the skeleton's files.
NEW_AND_SUBMISSIONS = """
import contextlib
import io
import sys
from pathlib import Path

import nbformat

from autograder.__main__ import main

name, subs = sys.argv[1], Path(sys.argv[2])
assert main(["new", name]) == 0
refused = io.StringIO()
with contextlib.redirect_stderr(refused):
    try:
        main(["new", name])
    except SystemExit as exc:
        assert exc.code != 0
    else:
        raise AssertionError("new wrote over an existing unit")
assert "exists already" in refused.getvalue(), refused.getvalue()

from autograder import build, notebooks, units
from autograder.corpus import UnitFiles

subs.mkdir(parents=True)
assert not notebooks.stale(name), notebooks.stale(name)
unit = units.load(name)  # validated against its reference and public checks
build.check_no_leaks(unit, build.student_files(unit, units.ROOT), units.ROOT)
files = UnitFiles(name)
nbformat.write(files.reference_notebook(), subs / "reference.ipynb")
nbformat.write(files.stub_notebook(), subs / "stub.ipynb")
for kind in ("wrong", "correct"):
    for entry in files.corpus_names(kind):
        nbformat.write(files.entry_notebook(files.load_entry(kind, entry)), subs / f"{kind}-{entry}.ipynb")
"""


def test_new_unit_builds_and_grades_as_it_is(tmp_path):
    tree = tmp_path / "project"
    for part in ("autograder", "assignments", "solutions", "gradescope"):
        shutil.copytree(PROJECT / part, tree / part, ignore=shutil.ignore_patterns("__pycache__", "dist", "build"))
    shutil.copy2(PROJECT / "requirements.txt", tree / "requirements.txt")
    env = dict(os.environ, PYTHONPATH=str(tree))

    def run(*args):
        done = subprocess.run([str(PYTHON), *args], cwd=tree, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return done

    run("-c", NEW_AND_SUBMISSIONS, "layernorm", str(tmp_path / "submissions"))
    assert {p.relative_to(tree).as_posix() for p in tree.rglob("*") if "layernorm" in p.as_posix() and p.is_file()
            and "__pycache__" not in p.parts} == {*scaffold.files("layernorm"), "assignments/layernorm/layernorm.ipynb"}
    first_uid = 65000 + 100 * (EXPECTED_SANDBOX_UID - 64000) + 50  # a pool of its own (see the CLI tests)
    env["AUTOGRADER_SANDBOX_UID"] = str(first_uid)
    try:
        run("-m", "autograder", "grade", "layernorm", str(tmp_path / "submissions"), "--out", str(tmp_path / "out"))
        leftovers = leftover_processes(set(range(first_uid, first_uid + 10)))
    finally:
        for uid in range(first_uid, first_uid + 10):
            sandbox.kill_uid(uid)
    assert not leftovers
    with open(tmp_path / "out" / "grades.csv") as f:
        totals = {row["submission"]: (float(row["scale"]), row["status"]) for row in csv.DictReader(f)}
    assert totals == {"reference": (2.0, "ok"), "stub": (0.0, "ok"), "correct-plain": (2.0, "ok"),
                      "wrong-adds_factor": (0.0, "ok")}
    assert "Hint: multiply by `factor`, do not add it" in \
        (tmp_path / "out" / "wrong-adds_factor" / "feedback.md").read_text()
