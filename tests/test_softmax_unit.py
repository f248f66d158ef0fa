"""What is specific to the softmax unit (tests/test_units.py grades its reference, stub and
corpora, malformed files included, like every unit's): how corpus entries declare what they
lose, a renamed notebook, the feedback's shrunk input and hints, inputs drawn independently of
the modules loaded, the CLI as a subprocess (as root and as an ordinary user).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder import sandbox

from conftest import (CORPUS, PYTHON, PROJECT, QUESTIONS, SOFTMAX, EXPECTED_SANDBOX_UID, assert_no_secrets,
                      assert_valid_results, entry_notebook, feedback, full_marks, leftover_processes, load_entry,
                      reference_notebook, secret_lines, submission_notebook, write_notebook)

SECRETS = secret_lines(SOFTMAX)


# --------------------------------------------------------------------------- the corpus and the notebook


@pytest.mark.parametrize("header, refused", [
    ('LOSES = {"softmax", "log_softmax"}\nHINT = "dim"', "the one question it loses"),
    ('LOSES = {"softmax"}', "must declare HINT"),
    ('LOSES = "softmax"\nHINT = "dim"', "the one question it loses"),
    ('LOSES = {"softmax"}\nHINT = "dim"', ""),
])
def test_a_wrong_entry_declares_one_question_and_its_hint(tmp_path, header, refused):
    """Every wrong entry of every unit is loaded here (autograder/corpus.py): one that names more
    than one question, or no HINT, is refused, so its unit's tests fail."""
    files = copy.copy(SOFTMAX)
    files.corpus = tmp_path
    (tmp_path / "wrong").mkdir()
    (tmp_path / "correct").mkdir()
    (tmp_path / "correct" / "plain.py").write_text((CORPUS / "correct" / "plain.py").read_text())
    (tmp_path / "wrong" / "x.py").write_text(f'"""Bug."""\n\n{header}\n\n\ndef softmax(x, dim=-1):\n    return x\n')
    if refused:
        with pytest.raises(AssertionError, match=refused):
            files.load_entry("wrong", "x")
    else:
        entry = files.load_entry("wrong", "x")
        assert entry.loses == {"softmax"} and entry.hint == "dim"


def test_renamed_notebook_is_graded_the_same(grader, unit):
    """Students upload "softmax (1).ipynb" or "jdoe_softmax.ipynb": the file name must not matter.

    The stub's first cell is `grader = otter.Notebook("softmax.ipynb")` followed by the imports;
    the student's functions rely on those imports, as in the stub (correct/plain, graded under
    the stub's own name, scores full marks).
    """
    plain = load_entry("correct", "plain")
    helpers = plain.preamble.replace("import torch\n", "", 1)  # its argument checks, without the import
    assert "import" not in helpers
    nb = submission_notebook(plain.functions, helpers)  # no imports of our own: the stub's first cell's
    report = grader.notebook(nb, "jdoe_softmax (1)")
    assert report.scores() == full_marks(unit), feedback(report)


# --------------------------------------------------------------------------- feedback


def test_feedback_shows_shrunk_input_expected_got_and_hint(grader):
    report = grader.cached("wrong/mask_after_softmax")
    message = next(c.message for q in report.questions if q.name == "masked_softmax"
                   for c in q.checks if not c.passed)
    assert "Smallest failing input" in message
    assert "x = tensor of shape" in message and "mask = tensor of shape" in message
    assert "expected:" in message and "got:" in message
    assert "Hint:" in message and "before the softmax" in message
    assert len(message) < 3000


def test_hints_describe_what_the_student_returned(grader):
    """A hint must not claim a symptom the output does not have: a fully masked row that comes
    out uniform (a -1e9 fill) is not "NaN"; one that comes out NaN is."""

    def fully_masked_feedback(spec: str) -> str:
        report = grader.cached(spec)
        question = next(q for q in report.questions if q.name == "masked_softmax")
        return next(c.message for c in question.checks if "fully masked" in c.name)

    uniform = fully_masked_feedback("wrong/large_negative_fill")
    assert "got: " in uniform and "nan" not in uniform.split("got: ")[1].split("Hint:")[0].lower()
    assert "got NaN" not in uniform, uniform
    assert "NaN" in fully_masked_feedback("wrong/neg_inf_nan_rows")


def test_drawn_inputs_do_not_depend_on_loaded_modules(grader, unit, tmp_path, monkeypatch):
    """The inputs hypothesis draws must be a function of the spec alone.

    Hypothesis mixes into its draws the constants it finds in the source of every *local* (not
    site-packages) module imported so far; the grading process of pytest, of the CLI and of the
    Gradescope plugin import different modules, so they would draw different inputs and could
    give a borderline submission different scores and messages.
    """
    from autograder import grade as grading

    sent: list[str] = []
    call = grading.Session.call

    def recording_call(self, header, blobs):
        sent.append(json.dumps(header, sort_keys=True) + "".join(b.hex() for b in blobs))
        return call(self, header, blobs)

    monkeypatch.setattr(grading.Session, "call", recording_call)
    monkeypatch.setattr(grading, "FAST_PATH", False)  # every draw, not the ones planned once
    monkeypatch.setattr(grader, "unit", dataclasses.replace(unit, questions=unit.questions[:1]))  # faster
    nb = reference_notebook()
    grader.notebook(nb)
    before, sent[:] = list(sent), []
    module = tmp_path / "unrelated_local_module_with_constants.py"
    module.write_text("FLOATS = [" + ", ".join(f"{i * 0.37:.2f}" for i in range(300)) + "]\n"
                      "INTS = [" + ", ".join(map(str, range(2, 300))) + "]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, module.stem, __import__(module.stem))
    grader.notebook(nb)
    assert len(sent) == len(before) > 50
    assert sent == before, "importing an unrelated module changed the inputs the grader draws"


# --------------------------------------------------------------------------- the CLI


CLI_GROUPS = [
    ["reference", "hostile/write_results", "hostile/sleeping_children"],
    ["wrong/causal_top_left", "hostile/read_reference", "hostile/fork_bomb"],
]


@pytest.mark.parametrize("index", range(len(CLI_GROUPS)),
                         ids=["+".join(s.split("/")[-1] for s in g) for g in CLI_GROUPS])
def test_cli_writes_untampered_results_and_grades_csv(grader, unit, index, tmp_path, scribbles):
    """`python -m autograder grade` as a subprocess, as a TA or CI runs it (here as root)."""
    group = CLI_GROUPS[index]
    out, subs = tmp_path / "out", tmp_path / "submissions"
    paths = []
    for spec in group:
        nb = reference_notebook() if spec == "reference" else entry_notebook(load_entry(*spec.split("/")), out)
        paths.append(write_notebook(nb, subs / f"{spec.replace('/', '-')}.ipynb"))
    # a pool of uids of its own, disjoint from every other xdist worker's and test's
    first_uid = 65000 + 100 * (EXPECTED_SANDBOX_UID - 64000) + 10 * index
    env = dict(os.environ, AUTOGRADER_SANDBOX_UID=str(first_uid))
    done = subprocess.run([str(PYTHON), "-m", "autograder", "grade", "softmax", *map(str, paths),
                           "--out", str(out)], cwd=PROJECT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    leftovers = leftover_processes(set(range(first_uid, first_uid + 10)))
    for uid in range(first_uid, first_uid + 10):
        sandbox.kill_uid(uid)
    assert not leftovers

    time.sleep(0.5)  # a surviving scribbler would rewrite the results now
    rows = (out / "grades.csv").read_text().splitlines()
    assert rows[0] == ",".join(["name", "email", "sid", "submission", *QUESTIONS, "total", "max", "status"])
    assert len(rows) == 1 + len(group)
    for spec, path, row in zip(group, paths, rows[1:]):
        expected = full_marks(unit) if spec == "reference" else grader.cached(
            load_entry(*spec.split("/")).base or spec).scores()
        results = assert_valid_results(out / path.stem / "results.json", unit, expected)
        assert_no_secrets(json.dumps(results), SECRETS)
        cells = row.split(",")
        assert cells[0] == cells[3] == path.stem  # a plain notebook: its file name stands for the student
        assert [float(c) for c in cells[4:-3]] == [expected[q] for q in QUESTIONS]
        assert float(cells[-3]) == sum(expected.values()) and float(cells[-2]) == unit.points
    assert sorted(p.name for p in out.iterdir()) == sorted(["grades.csv", "report", *(p.stem for p in paths)])


# --------------------------------------------------------------------------- as an ordinary user


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create the ordinary user's run")
def test_ordinary_user_gets_the_same_scores(grader, unit):
    """The TA-laptop path: the whole CLI as a non-root uid (no uid switch in the sandbox), with
    two grading processes, each forking its workers from its own fork server."""
    uid, lock = sandbox.claim_uid()  # a uid no sandbox worker or sweep will touch while we hold it
    root = Path(tempfile.mkdtemp(prefix="autograder-ta-"))  # 0700, then given to the uid
    try:
        ta_run(grader, unit, uid, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        os.close(lock)


def ta_run(grader, unit, uid: int, root: Path) -> None:
    for part in ("autograder", "solutions", "assignments"):  # a spec imports its public checks
        shutil.copytree(PROJECT / part, root / "project" / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    specs = ["reference", "wrong/causal_top_left", "hostile/sleeping_children", "hostile/write_results"]
    paths = []
    for spec in specs:  # write_results aims at the TA's --out folder: only Landlock stops it
        nb = reference_notebook() if spec == "reference" else entry_notebook(load_entry(*spec.split("/")), root / "out")
        paths.append(write_notebook(nb, root / "submissions" / f"{spec.replace('/', '-')}.ipynb"))
    (root / "home").mkdir()
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, uid)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root / "home"), "LANG": "C.UTF-8",
           "HYPOTHESIS_STORAGE_DIRECTORY": str(root / "home" / ".hypothesis")}
    try:
        done = subprocess.run([str(PYTHON), "-m", "autograder", "grade", "softmax", *map(str, paths),
                               "--out", str(root / "out"), "--jobs", "2"], cwd=root / "project", env=env, user=uid,
                              group=uid, extra_groups=[], capture_output=True, text=True, timeout=600)
        leftovers = leftover_processes({uid})
    finally:
        sandbox.kill_uid(uid)
    assert done.returncode == 0, done.stderr
    assert not leftovers, "the non-root grader left processes behind"
    for spec, path in zip(specs, paths):
        expected = full_marks(unit) if spec == "reference" else grader.cached(
            load_entry(*spec.split("/")).base or spec).scores()
        assert_valid_results(root / "out" / path.stem / "results.json", unit, expected)
