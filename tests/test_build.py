"""`python -m autograder build`: what goes into autograder.zip and student.zip.

The unit is built twice, concurrently, into two folders; the zips must be byte-identical.
The student bundle is unzipped and its notebook executed with nbclient: `grader.check` must
work there (stubs fail with a message, the reference passes). The leak check must stop a
build whose student bundle holds reference code, a reference comment or hidden-check code.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

from autograder import build, units
from autograder.gradescope import PLUGIN

PROJECT = Path(__file__).resolve().parents[1]
PYTHON = PROJECT / ".venv" / "bin" / "python"
if not PYTHON.exists():
    PYTHON = Path(sys.executable)
UNIT = "softmax"
REFERENCE = PROJECT / "solutions" / f"{UNIT}.py"
SPEC = PROJECT / "autograder" / "units" / f"{UNIT}.py"


@pytest.fixture(scope="module")
def spec():
    return units.load(UNIT)


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> list[Path]:
    """The unit built twice, by the CLI, into two different folders (once per test session,
    even with several pytest-xdist workers)."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the session's folder, common to every worker
    roots = [shared / "built-twice" / f"build{i}" / "dist" for i in range(2)]

    def run(dist: Path):
        return subprocess.run([str(PYTHON), "-m", "autograder", "build", UNIT, "--dist", str(dist)],
                              cwd=PROJECT, capture_output=True, text=True, timeout=300)

    with FileLock(str(shared / "built-twice.lock")):
        if not (shared / "built-twice" / "done").exists():
            with ThreadPoolExecutor(2) as pool:
                done = list(pool.map(run, roots))
            for proc in done:
                assert proc.returncode == 0, proc.stderr
                assert "autograder.zip" in proc.stdout and "student.zip" in proc.stdout
            (shared / "built-twice" / "done").write_text("")
    return roots


@pytest.fixture(scope="module")
def autograder_zip(dists) -> zipfile.ZipFile:
    with zipfile.ZipFile(dists[0] / UNIT / "autograder.zip") as archive:
        yield archive


@pytest.fixture(scope="module")
def student_zip(dists) -> zipfile.ZipFile:
    with zipfile.ZipFile(dists[0] / UNIT / "student.zip") as archive:
        yield archive


# --------------------------------------------------------------------------- both zips


@pytest.mark.parametrize("name", ["autograder.zip", "student.zip"])
def test_building_twice_gives_identical_zips(dists, name):
    first, second = ((d / UNIT / name).read_bytes() for d in dists)
    assert first == second


@pytest.mark.parametrize("name", ["autograder.zip", "student.zip"])
def test_zips_hold_no_timestamps_nor_caches(dists, name):
    with zipfile.ZipFile(dists[0] / UNIT / name) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {build.ZIP_DATE}
    assert not [i.filename for i in infos if "__pycache__" in i.filename or i.filename.endswith(".pyc")]


# --------------------------------------------------------------------------- autograder.zip


def test_autograder_zip_layout(autograder_zip):
    names = set(autograder_zip.namelist())
    assert {"run_autograder", "run_otter.py", "setup.sh", "environment.yml", "otter_config.json",
            "files/decoding_gpt_grader/autograder/gradescope.py",
            "files/decoding_gpt_grader/autograder/units/softmax.py",
            f"files/decoding_gpt_grader/solutions/{UNIT}.py"} <= names
    # run_autograder must be executable; Gradescope runs it
    assert autograder_zip.getinfo("run_autograder").external_attr >> 16 & 0o111
    # only this unit's hidden files: its reference, its spec (no other unit's hidden checks),
    # its public checks (the spec imports them) and the kit they share
    plugin = "files/decoding_gpt_grader/"
    assert [n for n in names if n.startswith(plugin + "solutions/")] == [f"{plugin}solutions/{UNIT}.py"]
    assert sorted(n for n in names if n.startswith(plugin + "autograder/units/")) == \
        [f"{plugin}autograder/units/__init__.py", f"{plugin}autograder/units/{UNIT}.py"]
    assert sorted(n for n in names if n.startswith(plugin + "assignments/")) == \
        [f"{plugin}assignments/_public_kit.py", f"{plugin}assignments/{UNIT}/{UNIT}_public.py"]


def test_run_otter_goes_through_the_guard(autograder_zip):
    source = autograder_zip.read("run_otter.py").decode()
    assert "from files.decoding_gpt_grader.autograder.gradescope import run" in source
    assert "os.path.dirname(os.path.dirname(os.path.abspath(__file__)))" in source  # not "/autograder"
    assert '"/autograder"' not in source
    assert "run_otter.py" in autograder_zip.read("run_autograder").decode()


def test_otter_config(autograder_zip):
    config = json.loads(autograder_zip.read("otter_config.json"))
    assert "assignment_name" not in config  # Otter would refuse notebooks without the metadata
    assert config["pdf"] is False and "token" not in config
    assert config["plugins"] == [{PLUGIN: {"unit": UNIT}}]
    assert config["show_all_public"] and config["show_hidden"] and not config["force_public_test_summary"]


def test_environment_pins_python_and_every_package(autograder_zip):
    import yaml

    env = yaml.safe_load(autograder_zip.read("environment.yml"))
    assert env["name"] == "otter-env"  # what Otter's run_autograder activates
    assert env["dependencies"] == ["python=3.11", "pip"]  # the packages: requirements.txt
    lines = [line for line in autograder_zip.read("requirements.txt").decode().splitlines()
             if line and not line.startswith("#")]
    assert lines[0] == "--extra-index-url=https://download.pytorch.org/whl/cpu"
    pins = {}
    for line in lines[1:]:
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"not pinned exactly: {line}"
        pins[req.name.lower()] = specs[0].version
    assert pins["torch"].endswith("+cpu")
    for line in (PROJECT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("pytest"):
            req = Requirement(line)
            assert pins[req.name.lower()].split("+")[0] == next(iter(req.specifier)).version, line
    # the whole dependency closure: e.g. Otter's own and torch's dependencies
    assert {"dill", "fica", "nbconvert", "ipykernel", "sympy", "filelock"} <= set(pins)
    assert "pytest" not in pins


def test_setup_installs_only_what_grading_needs(autograder_zip):
    """No PDF tool chain (Playwright and its Chromium, LaTeX, pandoc), no R build tools: PDF
    export is off and the grader is Python. The pins are installed as they are (no resolver,
    which would add Playwright back for Otter's nbconvert[webpdf])."""
    setup = autograder_zip.read("setup.sh").decode()
    requirements = autograder_zip.read("requirements.txt").decode().lower()
    for unwanted in ("playwright", "chromium", "texlive", "pandoc", "libgit2", "build-essential",
                     "nb_conda_kernels"):
        assert unwanted not in setup.lower(), unwanted
    pins = [line for line in requirements.splitlines() if line and not line.startswith("#")]
    assert not [line for line in pins if "playwright" in line or "[" in line]
    assert "mamba env create -f /autograder/source/environment.yml" in setup
    assert ("pip install --no-cache-dir --no-deps -r /autograder/source/requirements.txt" in setup)
    assert setup.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in setup
    assert autograder_zip.getinfo("setup.sh").external_attr >> 16 & 0o111
    # the pins are the whole closure: every installed dependency of a pinned package is pinned
    # (bar Playwright), so --no-deps leaves nothing out
    from importlib import metadata

    from packaging.utils import canonicalize_name

    pinned = {canonicalize_name(Requirement(line).name) for line in pins if not line.startswith("--")}
    for name in pinned:
        for text in metadata.distribution(name).requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(dict(build.GRADESCOPE_MARKERS, extra="")):
                dep = canonicalize_name(req.name)
                assert dep in pinned or dep == "playwright", f"{name} needs {dep}, which is not pinned"


def test_one_otter_test_file_per_question_mirroring_the_checks(autograder_zip, spec, tmp_path):
    from otter.test_files.exception_test import ExceptionTestFile

    tests = sorted(n for n in autograder_zip.namelist() if n.startswith("tests/"))
    assert tests == sorted(f"tests/{q.name}.py" for q in spec.questions)
    for question in spec.questions:
        path = tmp_path / f"{question.name}.py"
        path.write_bytes(autograder_zip.read(f"tests/{question.name}.py"))
        test_file = ExceptionTestFile.from_file(str(path))
        assert test_file.name == question.name
        assert [(c.name, c.points) for c in test_file.test_cases] == [(c.name, c.points) for c in question.checks]
        assert test_file.possible == question.points
        test_file.run({})  # run by anything but the trusted grader, every case fails
        assert test_file.score == 0


# --------------------------------------------------------------------------- student.zip


def test_student_zip_contents(student_zip, spec):
    names = set(student_zip.namelist())
    shipped = {f"{UNIT}_public.py": PROJECT / "assignments" / UNIT / f"{UNIT}_public.py",  # the public checks
               "_public_kit.py": PROJECT / "assignments" / "_public_kit.py"}  # and the helpers they import
    setup = ["README.md", "install.py", "requirements.txt", "requirements-linux-cpu.txt", "requirements-otter.txt"]
    expected = {f"{UNIT}/{UNIT}.ipynb", *(f"{UNIT}/{name}" for name in [*shipped, *setup])}
    expected |= {f"{UNIT}/tests/{q.name}.py" for q in spec.questions}
    assert names == expected
    for name, source in shipped.items():
        assert student_zip.read(f"{UNIT}/{name}") == source.read_bytes()

    def pins(name):
        lines = [line for line in student_zip.read(f"{UNIT}/{name}").decode().splitlines()
                 if line and not line.startswith(("#", "-"))]
        assert all("==" in line for line in lines), lines
        return {Requirement(line).name.lower(): str(Requirement(line).specifier) for line in lines}

    main = pins("requirements.txt")
    # what the notebook imports, what opens and runs it, Otter's runtime; not Otter itself
    assert {"torch", "hypothesis", "numpy", "matplotlib", "ipykernel", "jupyterlab", "nbconvert"} <= set(main)
    assert "otter-grader" not in main and "fica" not in main
    assert set(pins("requirements-otter.txt")) == {"otter-grader", "fica"}  # installed with --no-deps
    linux = student_zip.read(f"{UNIT}/requirements-linux-cpu.txt").decode().splitlines()
    assert f"--extra-index-url {build.TORCH_INDEX}" in linux and "-r requirements.txt" in linux
    assert pins("requirements-linux-cpu.txt") == {"torch": main["torch"] + "+cpu"}


def test_student_readme_states_what_is_graded_from_the_spec(student_zip, spec):
    readme = student_zip.read(f"{UNIT}/README.md").decode()
    flat = " ".join(readme.split())
    for needed in ("Python 3.11", "install.py", "jupyter lab", "grader.export", "requirements-linux-cpu.txt",
                   "Intel Macs", "macOS 13", "Windows on ARM", "hosted notebook"):
        assert needed in flat, needed
    for question in spec.questions:
        assert f"| `{question.name}` |" in readme and f"{question.points:g}" in readme
        for check in question.checks:
            assert check.name.replace("|", "\\|") in readme
    assert all(banned in readme for banned in spec.banned)


def test_student_tests_call_the_public_checks(student_zip, spec):
    for question in spec.questions:
        source = student_zip.read(f"{UNIT}/tests/{question.name}.py").decode()
        tree = ast.parse(source)
        called = {node.func.attr for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and getattr(node.func.value, "id", "") == f"{UNIT}_public"}
        assert called == {check.__name__ for check in question.public}
        assert "OK_FORMAT = False" in source and "from otter.test_files import test_case" in source


def test_student_zip_holds_no_hidden_code(student_zip):
    shipped = " ".join(" ".join(student_zip.read(n).decode("utf-8", "replace").split())
                       for n in student_zip.namelist())
    for number, fragment in build.secret_fragments(REFERENCE.read_text()):
        assert fragment not in shipped, f"line {number} of the reference is in student.zip"
    assert "solutions/" not in " ".join(student_zip.namelist())


def _execute(folder: Path, nb: nbformat.NotebookNode) -> dict[str, str]:
    """Run the notebook in `folder` with nbclient; question -> text output of its grader.check."""
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    outputs = {}
    for cell in nb.cells:
        source = cell.source.strip() if cell.cell_type == "code" else ""
        if source.startswith("grader.check(") and not outputs.get(source):
            question = ast.literal_eval(ast.parse(source).body[0].value.args[0])
            texts = []
            for output in cell.outputs:
                texts.append(output.get("text", ""))
                texts.append(output.get("data", {}).get("text/plain", ""))
                texts += output.get("traceback", [])
            outputs[question] = "\n".join(texts)
    return outputs


def test_grader_check_works_from_the_unzipped_bundle(student_zip, spec, tmp_path):
    """Stubs: every check fails with a message. The reference's bodies: every check passes."""
    folders = []
    for kind in ("stub", "reference"):
        student_zip.extractall(tmp_path / kind)
        folders.append(tmp_path / kind / UNIT)
    stub = nbformat.read(folders[0] / f"{UNIT}.ipynb", as_version=4)
    solved = nbformat.read(folders[1] / f"{UNIT}.ipynb", as_version=4)
    functions = {f for q in spec.questions for f in q.functions}
    for cell in solved.cells:
        if cell.cell_type == "code":
            try:
                defined = {n.name for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef)}
            except SyntaxError:
                continue
            if defined & functions:
                cell.source = REFERENCE.read_text()
    with ThreadPoolExecutor(2) as pool:
        stub_out, solved_out = pool.map(_execute, folders, [stub, solved])
    questions = [q.name for q in spec.questions]
    assert sorted(stub_out) == sorted(solved_out) == sorted(questions)
    for question in questions:
        assert "All test cases passed" not in stub_out[question], stub_out[question]
        assert "not implemented yet" in stub_out[question], stub_out[question]
        assert "All test cases passed" in solved_out[question], solved_out[question]


# --------------------------------------------------------------------------- the leak check


def _bundle(spec) -> dict[str, bytes]:
    return build.student_files(spec, PROJECT)


def _reference_line(prefix: str) -> str:
    return next(line for line in REFERENCE.read_text().splitlines() if line.strip().startswith(prefix))


def test_real_bundle_passes_the_leak_check_although_it_copies_docstrings(spec):
    files = _bundle(spec)
    build.check_no_leaks(spec, files, PROJECT)
    notebook = files[f"{UNIT}.ipynb"].decode()
    assert "Numerically stable softmax" in notebook  # the reference's docstring, on purpose


@pytest.mark.parametrize("leak", ["code", "comment", "spec"])
def test_leak_check_stops_the_build(spec, leak):
    files = _bundle(spec)
    nb = json.loads(files[f"{UNIT}.ipynb"])
    if leak == "code":  # a student-visible cell holding a line of the reference's code
        text = _reference_line("z = z - z.amax")
        nb["cells"].append(nbformat.v4.new_code_cell(f"# hint\n    {text}\n"))
        files[f"{UNIT}.ipynb"] = json.dumps(nb).encode()
    elif leak == "comment":  # prose copied from a comment of the reference
        comment = next(line.strip() for line in REFERENCE.read_text().splitlines()
                       if line.strip().startswith("#") and len(line.strip()) > 60)
        nb["cells"].append(nbformat.v4.new_markdown_cell(comment.lstrip("# ")))
        files[f"{UNIT}.ipynb"] = json.dumps(nb).encode()
    else:  # two lines of the hidden spec in the public checks
        lines = SPEC.read_text().splitlines()
        index = next(i for i, line in enumerate(lines) if "Example(" in line and lines[i + 1].strip())
        files[f"{UNIT}_public.py"] += ("\n" + "\n".join(lines[index:index + 2])).encode()
    with pytest.raises(build.BuildError, match="leak hidden code"):
        build.check_no_leaks(spec, files, PROJECT)


def project_copy(tmp_path: Path) -> Path:
    """What a build reads of the project, copied: assignments, solutions, the engine, the config."""
    project = tmp_path / "project"
    for part in ("assignments", "solutions", "autograder", "gradescope"):
        shutil.copytree(PROJECT / part, project / part,
                        ignore=shutil.ignore_patterns("__pycache__", "dist", "build"))
    shutil.copy2(PROJECT / "requirements.txt", project / "requirements.txt")
    return project


def test_cli_build_fails_with_a_message_on_a_leak(tmp_path, monkeypatch, capsys):
    project = project_copy(tmp_path)
    notebook = project / "assignments" / UNIT / f"{UNIT}.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_reference_line("out = e / e.sum")))
    nbformat.write(nb, notebook)
    monkeypatch.setattr(build, "PROJECT", project)
    dist = tmp_path / "dist"
    assert build.build_units([UNIT], dist) == 1
    err = capsys.readouterr().err
    assert "leak hidden code" in err and "solutions/softmax.py" in err and "out = e / e.sum" in err
    assert not (dist / UNIT / "student.zip").exists() and not (dist / UNIT / "autograder.zip").exists()


def test_zip_ships_the_units_plans_and_they_load(autograder_zip, spec, tmp_path):
    """Every hidden check's inputs and reference answers are drawn at build time; the grader
    on Gradescope must accept them (else it silently draws them again, seconds per student)."""
    from autograder import grade

    path = tmp_path / f"{UNIT}.pkl"
    path.write_bytes(autograder_zip.read(f"files/decoding_gpt_grader/plans/{UNIT}.pkl"))
    assert grade.load_plans(spec, units.reference(UNIT), path)


def test_cli_build_refuses_a_stale_notebook(tmp_path, monkeypatch, capsys):
    """A committed notebook that is not what its generator writes (here: an edited markdown
    cell) stops the build, naming the notebook and the command that regenerates it."""
    project = project_copy(tmp_path)
    notebook = project / "assignments" / UNIT / f"{UNIT}.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("An edit made by hand, not by make_notebook.py."))
    nbformat.write(nb, notebook)
    monkeypatch.setattr(build, "PROJECT", project)
    dist = tmp_path / "dist"
    assert build.build_units([UNIT], dist) == 1
    err = capsys.readouterr().err
    assert f"assignments/{UNIT}/{UNIT}.ipynb is stale" in err and "make notebooks" in err
    assert f"assignments/{UNIT}/make_notebook.py" in err
    assert not (dist / UNIT / "student.zip").exists() and not (dist / UNIT / "autograder.zip").exists()
