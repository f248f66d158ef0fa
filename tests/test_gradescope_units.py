"""Gradescope fidelity for every unit besides softmax (whose Otter holes test_gradescope.py covers).

For each unit, its built autograder.zip runs in simulated Gradescope trees (as in
test_gradescope.py: ``source/run_otter.py`` as a script, never ``setup.sh``) on three
submissions: the reference completed into the stub, the untouched stub and one wrong corpus
entry. Each tree's per-question scores must equal those the CLI's grading function gives the
same notebook (the unit tests' cached reports), the reference must get full marks and the
stub zero. (Hostile uploads in the tree are test_gradescope.py's subject.)

A new unit is covered as soon as it has a corpus: FIDELITY names the wrong entry it uses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from autograder import units
from conftest import PROJECT, PYTHON, UnitFiles
from test_gradescope import new_tree, run_tree, scores

# unit -> a wrong entry that loses points; any other unit gets its corpus' first one
FIDELITY = {
    "attention": "wrong/no_scaling",
    "positional": "wrong/rope_clockwise",
    "backprop": "wrong/adamw_l2_penalty",
    "interp": "wrong/patch_whole_residual",
    # a short training run: partial credit from the judged checks, in the tree
    "gpt": "wrong/train_too_short",
    "tokenizer": "wrong/tie_first_seen",  # fails drawn corpora and the 1 MB judged check
}
UNITS = [name for name in units.names() if name != "softmax"]


def wrong_entry(name: str, files: UnitFiles) -> str:
    return FIDELITY.get(name) or f"wrong/{files.corpus_names('wrong')[0]}"


def simulate(name: str, files: UnitFiles, work: Path) -> dict[str, dict]:
    """Build the unit's zip and run one tree per submission, two at a time; their results."""
    dist = work / "dist"
    subprocess.run([str(PYTHON), "-m", "autograder", "build", name, "--dist", str(dist)],
                   cwd=PROJECT, check=True, capture_output=True, text=True, timeout=600)
    wrong = wrong_entry(name, files)
    notebooks = {"reference": files.reference_notebook(), "stub": files.stub_notebook(),
                 wrong: files.entry_notebook(files.load_entry(*wrong.split("/")))}
    trees = {}
    try:
        for label, nb in notebooks.items():
            root, ag, marks = trees[label] = new_tree(dist / name / "autograder.zip")
            nbformat.write(nb, ag / "submission" / f"{name}.ipynb")
        with ThreadPoolExecutor(max_workers=2) as pool:
            seen = dict(zip(trees, pool.map(lambda paths: run_tree(*paths), trees.values())))
    finally:
        for root, _, _ in trees.values():
            shutil.rmtree(root, ignore_errors=True)
    return seen


@pytest.fixture(scope="module", params=UNITS)
def simulated(request, grader_for, tmp_path_factory):
    """(grader, {label: what the tree showed}) per unit, once per session across xdist workers."""
    from filelock import FileLock

    name = request.param
    grader = grader_for(name)
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    cache = shared / f"gradescope-{name}.json"
    with FileLock(str(cache) + ".lock"):
        if not cache.exists():
            cache.write_text(json.dumps(simulate(name, grader.files, tmp_path_factory.mktemp(f"gs-{name}"))))
    return grader, json.loads(cache.read_text())


def tree_results(seen: dict, label: str) -> dict:
    assert seen[label]["returncode"] == 0, f"{label}: run_otter.py failed\n{seen[label]['stderr']}"
    return json.loads(seen[label]["results"])


def test_reference_gets_full_marks_and_the_stub_zero(simulated):
    grader, seen = simulated
    reference, stub = tree_results(seen, "reference"), tree_results(seen, "stub")
    assert scores(reference) == {q.name: q.points for q in grader.unit.questions}
    assert set(scores(stub).values()) == {0}
    assert [t["name"] for t in stub["tests"] if "score" in t] == [q.name for q in grader.unit.questions]


def test_gradescope_scores_equal_the_cli(simulated):
    grader, seen = simulated
    wrong = wrong_entry(grader.unit.name, grader.files)
    expected = {label: scores(grader.cached(label).to_gradescope()) for label in ("reference", "stub", wrong)}
    for label, cli in expected.items():
        assert scores(tree_results(seen, label)) == cli, label
    assert expected[wrong] != expected["reference"], f"{wrong} loses nothing: it tests no difference"
