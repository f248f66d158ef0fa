"""Every unit graded end to end, by existing: its reference, its stub and its corpus.

The units are those of autograder/units/; each one's corpus is tests/corpus/<unit>/ (see
tests/corpus/README.md). For every unit:

* its committed stub notebook is what its make_notebook.py writes, its corpus has a wrong entry
  for every question, and its student bundle holds no hidden code;
* the reference (completed into the stub) gets full marks; the untouched stub gets zero, with
  a "not implemented" message on every check;
* wrong/*     each loses points on exactly the one question its LOSES names, whose first hint
              contains its HINT words (autograder/corpus.py `lost_and_hint`);
* correct/*   full marks;
* hostile/*   exactly its base's scores (or zero on the questions it ATTACKS), a valid
              results.json the hostile code could not touch, nothing left running, nothing
              hidden in the feedback;
* malformed/* (where the corpus has them) zero, with the status and words EXPECTED.toml gives;
* grading twice gives identical results, and a simulated Gradescope tree gives the same scores
  as the CLI's grading function on the reference, the stub and one wrong entry.

Each entry is graded once per session (conftest.Grader.cached, shared between pytest-xdist
workers); a unit's own file (tests/test_<unit>_unit.py) reads the same cached reports for what
is specific to it. A question with a CPU budget (a training run) is graded only for the entries
about it (conftest.Grader.for_entry).
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import json
import os
import re
import shutil
import subprocess
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
import torch

from autograder import agreement, build, notebooks, sandbox, units
from autograder.report import write_results

from conftest import (PROJECT, PYTHON, UnitFiles, assert_no_secrets, assert_reads_well, assert_valid_results,
                      feedback, full_marks, secret_lines)

UNITS = units.names()
FILES = {name: UnitFiles(name) for name in UNITS}
SECRETS: dict[str, list[str]] = {}


def entries(kind: str) -> list[tuple[str, str]]:
    return [(name, entry) for name in UNITS for entry in FILES[name].corpus_names(kind)]


def malformed() -> list[tuple[str, str]]:
    found = []
    for name in UNITS:
        expected = FILES[name].corpus / "malformed" / "EXPECTED.toml"
        if expected.is_file():
            found += [(name, file) for file in sorted(tomllib.loads(expected.read_text()))]
    return found


def ids(pairs):
    return [f"{unit}-{entry}" for unit, entry in pairs]


def secrets(name: str) -> list[str]:
    if name not in SECRETS:
        SECRETS[name] = secret_lines(FILES[name])
    return SECRETS[name]


def graded(grader, spec: str):
    """(report, unit graded) of a corpus entry ("wrong/x"), the way the corpus tests grade it."""
    entry = grader.files.load_entry(*spec.split("/"))
    variant = grader.for_entry(entry)
    return variant.cached(spec), variant.unit


# --------------------------------------------------------------------------- the unit's files


@pytest.mark.parametrize("name", UNITS)
def test_stub_notebook_is_what_its_generator_writes(name):
    """assignments/<unit>/<unit>.ipynb is what make_notebook.py writes (`make notebooks`)."""
    assert not notebooks.stale(name)


@pytest.mark.parametrize("name", UNITS)
def test_student_api_page_states_the_reference_signatures(name):
    """The notebook's stubs take their signatures from the reference (notebook_kit reads it with
    ast); the unit's student API page, docs/units/<unit>.md when it has one, must state the
    same signature for every function a question grades (compared as parsed Python, so that
    `eps=1e-5` and `eps=1e-05` agree)."""
    page = PROJECT / "docs" / "units" / f"{name}.md"
    if not page.is_file():
        pytest.skip(f"{name} has no student API page")
    text = page.read_text()
    graded = {f for q in units.load(name).questions for f in q.functions}
    reference = ast.parse((PROJECT / "solutions" / f"{name}.py").read_text())
    for node in reference.body:
        if isinstance(node, ast.FunctionDef) and node.name in graded:
            stated = set()
            for sig in re.findall(rf"`({node.name}\([^`]*\))`", text):
                with contextlib.suppress(SyntaxError):
                    stated.add(ast.unparse(ast.parse(f"def {sig}: pass").body[0].args))
            assert ast.unparse(node.args) in stated, (
                f"docs/units/{name}.md states {node.name} as {sorted(stated) or 'nothing'}, the reference as "
                f"{node.name}({ast.unparse(node.args)})")


@pytest.mark.parametrize("name", UNITS)
def test_corpus_has_a_wrong_entry_for_every_question(name):
    files = FILES[name]
    assert files.corpus_names("correct"), "no correct entry"
    lost = set().union(*(files.load_entry("wrong", n).loses for n in files.corpus_names("wrong")))
    assert lost == set(files.questions), f"questions without a wrong entry: {set(files.questions) - lost}"


@pytest.mark.parametrize("name", UNITS)
def test_student_bundle_has_stubs_and_no_hidden_code(name):
    """What `python -m autograder build UNIT` ships to students: the stub notebook, the public
    checks and an Otter test per question, with no line of the reference or the spec."""
    unit = units.load(name)
    files = build.student_files(unit, PROJECT)
    build.check_no_leaks(unit, files, PROJECT)
    assert {f"tests/{q.name}.py" for q in unit.questions} <= set(files)
    assert not [f for f in files if f.startswith("make_") or f.endswith(".pyc")]
    notebook = json.loads(files[f"{name}.ipynb"])
    assert notebook["metadata"]["otter"]["assignment_name"] == name
    sources = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    for question in unit.questions:
        assert f'grader.check("{question.name}")' in sources
    assert_no_secrets("\n".join(f.decode(errors="replace") for f in files.values()), secrets(name))


# --------------------------------------------------------------------------- public checks


def public_checks() -> list[tuple[str, str, object]]:
    return [(name, q.name, check) for name in UNITS for q in units.load(name).questions for check in q.public]


_NAMESPACES: dict[tuple[str, str], dict] = {}


def namespace(name: str, which: str) -> dict:
    """The globals of a kernel that ran the reference's (or the untouched stub's) notebook."""
    if (name, which) not in _NAMESPACES:
        files = FILES[name]
        nb = files.reference_notebook() if which == "reference" else files.stub_notebook()
        _NAMESPACES[name, which] = agreement.namespace_of(files, nb)
    return _NAMESPACES[name, which]


def call_public(name: str, check, env: dict) -> None:
    torch.manual_seed(0)
    with contextlib.chdir(FILES[name].stub.parent):  # where a student's kernel runs
        check(**{p: env.get(p) for p in inspect.signature(check).parameters})


@pytest.mark.parametrize("name, question, check", public_checks(),
                         ids=[f"{u}-{c.__name__}" for u, _, c in public_checks()])
def test_public_check_passes_on_the_reference(name, question, check):
    call_public(name, check, namespace(name, "reference"))


@pytest.mark.parametrize("name, question, check", public_checks(),
                         ids=[f"{u}-{c.__name__}" for u, _, c in public_checks()])
def test_public_check_says_not_implemented_on_the_stub(name, question, check):
    with pytest.raises(AssertionError, match="not implemented yet|not defined"):
        call_public(name, check, namespace(name, "stub"))


# --------------------------------------------------------------------------- reference and stub


@pytest.mark.parametrize("name", UNITS)
def test_reference_scores_full_marks(grader_for, name):
    grader = grader_for(name)
    report = grader.cached("reference")
    assert report.status == "ok", report.notes
    assert report.scores() == full_marks(grader.unit), feedback(report)
    assert report.score == report.max_score == grader.unit.points
    assert not report.notes, report.notes  # every cell of the notebook ran
    assert_no_secrets(feedback(report), secrets(name))


@pytest.mark.parametrize("name", UNITS)
def test_untouched_stub_scores_zero_with_a_message_per_check(grader_for, name):
    grader = grader_for(name)
    report = grader.cached("stub")
    assert report.score == 0 and report.max_score == grader.unit.points
    assert [q.name for q in report.questions] == list(FILES[name].questions)
    for question, spec in zip(report.questions, grader.unit.questions):
        for check in question.checks:
            assert "not implemented" in check.message, (question.name, check.message)
            assert any(f"`{f}`" in check.message for f in spec.functions), (question.name, check.message)
    assert not report.notes, "the stub's own cells must run without errors"


# --------------------------------------------------------------------------- wrong and correct


@pytest.mark.parametrize("name, entry", entries("wrong"), ids=ids(entries("wrong")))
def test_wrong_entry_loses_points_only_where_declared(grader_for, name, entry):
    grader = grader_for(name)
    report, unit = graded(grader, f"wrong/{entry}")
    assert report.status == "ok", report.notes
    assert not grader.files.lost_and_hint(grader.files.load_entry("wrong", entry), report, full_marks(unit)), \
        feedback(report)
    for question in report.questions:  # every failed check explains itself
        for check in question.checks:
            assert check.passed or check.message.strip(), (question.name, check.name)
    assert_no_secrets(feedback(report), secrets(name))


@pytest.mark.parametrize("name, entry", entries("correct"), ids=ids(entries("correct")))
def test_correct_entry_scores_full_marks(grader_for, name, entry):
    report, unit = graded(grader_for(name), f"correct/{entry}")
    assert report.status == "ok", report.notes
    assert report.scores() == full_marks(unit), feedback(report)


@pytest.mark.parametrize("name", UNITS)
def test_grading_twice_gives_identical_results(grader_for, name):
    """The same submission graded again (here: possibly by another pytest worker process, after
    other submissions) gets the same results: scores, messages, shrunk inputs, notes."""
    grader = grader_for(name)
    wrong = [grader.files.load_entry("wrong", e) for e in grader.files.corpus_names("wrong")]
    cheap = [e for e in wrong if not any(c.cpu_seconds for q in grader.for_entry(e).unit.questions for c in q.checks)]
    entry = (cheap or wrong)[0]  # a training run's determinism is its unit's own test
    variant = grader.for_entry(entry)
    first, second = variant.cached(entry.id), variant.entry(entry)
    assert json.dumps(first.to_gradescope()) == json.dumps(second.to_gradescope())
    assert first.notes == second.notes


# --------------------------------------------------------------------------- hostile


@pytest.mark.parametrize("name, entry", entries("hostile"), ids=ids(entries("hostile")))
def test_hostile_entry_gains_nothing(grader_for, name, entry, leftovers, scribbles, tmp_path):
    grader = grader_for(name)
    hostile = grader.files.load_entry("hostile", entry)
    variant = grader.for_entry(hostile)
    out = tmp_path / "out"
    out.mkdir()
    sandbox.make_private(out)
    report = variant.entry(hostile, out_dir=out)
    path = write_results(report, out / entry)
    assert not leftovers, "processes survived grading"

    expected = {q: 0.0 for q in hostile.attacks}  # the attacked questions score nothing, and say why
    if {q.name for q in variant.unit.questions} - hostile.attacks:  # every other one: the base's score
        expected = {**variant.cached(hostile.base).scores(), **expected}
    assert report.scores() == expected, feedback(report)
    for question in report.questions:
        assert all(c.message.strip() for c in question.checks if not c.passed), question.name
    assert_valid_results(path, variant.unit, expected)
    assert_no_secrets(feedback(report), secrets(name))
    assert_reads_well(feedback(report))
    assert "found the expected values" not in report.printed
    assert sorted(p.name for p in out.iterdir()) == [entry], "something wrote into the out folder"
    written = path.read_text()
    time.sleep(0.5)  # a surviving scribbler would rewrite it now
    assert path.read_text() == written


# --------------------------------------------------------------------------- malformed


@pytest.mark.parametrize("name, file", malformed(), ids=ids(malformed()))
def test_malformed_submission_scores_zero_with_a_reason(grader_for, name, file, tmp_path):
    grader = grader_for(name)
    expected = tomllib.loads((grader.files.corpus / "malformed" / "EXPECTED.toml").read_text())[file]
    report = grader.file(grader.files.corpus / "malformed" / file)
    path = write_results(report, tmp_path / "out")
    results = assert_valid_results(path, grader.unit)
    assert report.score == 0 and results["score"] == 0
    assert report.status == expected["status"]
    text = json.dumps(results).lower()
    for word in expected["words"]:
        assert word.lower() in text, (word, results["output"])


# --------------------------------------------------------------------------- Gradescope


def fidelity_entry(files: UnitFiles) -> str:
    """The wrong entry graded in a Gradescope tree: the unit's sample (SAMPLE = True, or the first)."""
    return files.sample().id


def simulate(name: str, files: UnitFiles, work: Path) -> dict[str, dict]:
    """Build the unit's zip and run one tree per submission, two at a time; their results."""
    from test_gradescope import new_tree, run_tree

    dist = work / "dist"
    subprocess.run([str(PYTHON), "-m", "autograder", "build", name, "--dist", str(dist)],
                   cwd=PROJECT, check=True, capture_output=True, text=True, timeout=600)
    wrong = fidelity_entry(files)
    submissions = {"reference": files.reference_notebook(), "stub": files.stub_notebook(),
                   wrong: files.entry_notebook(files.load_entry(*wrong.split("/")))}
    trees = {}
    try:
        for label, nb in submissions.items():
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


def test_gradescope_gives_full_marks_to_the_reference_and_zero_to_the_stub(simulated):
    from test_gradescope import scores

    grader, seen = simulated
    reference, stub = tree_results(seen, "reference"), tree_results(seen, "stub")
    assert scores(reference) == full_marks(grader.unit)
    assert set(scores(stub).values()) == {0}
    assert [t["name"] for t in stub["tests"] if "score" in t] == [q.name for q in grader.unit.questions]


def test_gradescope_scores_equal_the_cli(simulated):
    """The tree grades the whole unit (a training run included), as the CLI does."""
    from test_gradescope import scores

    grader, seen = simulated
    wrong = fidelity_entry(grader.files)
    expected = {label: scores(grader.cached(label).to_gradescope()) for label in ("reference", "stub", wrong)}
    for label, cli in expected.items():
        assert scores(tree_results(seen, label)) == cli, label
    assert expected[wrong] != expected["reference"], f"{wrong} loses nothing: it tests no difference"
