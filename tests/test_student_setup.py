"""The student bundle works as a student uses it: set up with its one documented command,
opened in a Jupyter kernel of that environment, exported, and graded with full marks.

`test_bundle_installs_runs_exports_and_grades` (AUTOGRADER_SLOW_TESTS=1; softmax by default
there, every unit with AUTOGRADER_STUDENT_UNITS=all): unpack student.zip, create a fresh venv,
run `python install.py` in it (pip from PyPI and the machine's wheels, as a student would),
execute the stub and a filled-in notebook in that venv's kernel (`jupyter nbconvert
--execute`), run `grader.export()`, and grade the export with the CLI. It costs a few
minutes (JupyterLab and its dependencies are downloaded), hence the switch.

The default suite checks the cheaper parts: install.py's refusals and its choice of files.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import build, units
from autograder.corpus import UnitFiles

PROJECT = Path(__file__).resolve().parents[1]
SLOW = os.environ.get("AUTOGRADER_SLOW_TESTS") == "1"
SETUP_UNITS = sorted(units.names()) if os.environ.get("AUTOGRADER_STUDENT_UNITS") == "all" else ["softmax"]


def _installer():
    spec = importlib.util.spec_from_file_location("student_install", build.STUDENT_INSTALLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("system, machine, mac_version, refused", [
    ("darwin", "x86_64", "14.5", "Intel Macs"),
    ("darwin", "arm64", "13.6", "macOS 14"),
    ("win32", "ARM64", "", "Windows on ARM"),
    ("darwin", "arm64", "14.1", ""),
    ("win32", "AMD64", "", ""),
    ("linux", "x86_64", "", ""),
    ("linux", "aarch64", "", ""),
])
def test_installer_refuses_the_platforms_torch_cannot_serve(monkeypatch, system, machine, mac_version, refused):
    installer = _installer()
    monkeypatch.setattr(installer.sys, "platform", system)
    monkeypatch.setattr(installer.platform, "machine", lambda: machine)
    monkeypatch.setattr(installer.platform, "mac_ver", lambda: (mac_version, ("", "", ""), ""))
    why = installer.unsupported()
    assert (refused in why) if refused else why == ""


def test_installer_refuses_only_when_the_notebook_needs_torch(monkeypatch, tmp_path):
    installer = _installer()
    monkeypatch.setattr(installer, "HERE", tmp_path)
    (tmp_path / "requirements.txt").write_text("# a NumPy unit\nnumpy==2.4.6\n")
    assert not installer.needs_torch()
    (tmp_path / "requirements.txt").write_text("numpy==2.4.6\ntorch==2.13.0\n")
    assert installer.needs_torch()


def test_installer_stops_before_python_3_11(monkeypatch, capsys):
    installer = _installer()
    monkeypatch.setattr(installer.sys, "version_info", (3, 10, 12))
    monkeypatch.setattr(installer, "pip", lambda *a: pytest.fail("pip must not run"))
    assert installer.main() == 1
    assert "Python 3.11 or later" in capsys.readouterr().err


def test_installer_uses_the_linux_cpu_file_on_linux_only(monkeypatch, tmp_path):
    installer = _installer()
    for system, expected in [("linux", "requirements-linux-cpu.txt"), ("win32", "requirements.txt"),
                             ("darwin", "requirements.txt")]:
        calls = []
        monkeypatch.setattr(installer.sys, "platform", system)
        monkeypatch.setattr(installer, "unsupported", lambda: "")
        monkeypatch.setattr(installer, "in_virtual_env", lambda: True)
        monkeypatch.setattr(installer, "HERE", tmp_path)
        (tmp_path / "x.ipynb").write_text("{}")
        monkeypatch.setattr(installer, "pip", lambda python, *args: calls.append(args))
        assert installer.main() == 0
        assert calls == [("-r", expected), ("--no-deps", "-r", "requirements-otter.txt")]


def _run(command, cwd, timeout=1200, env=None):
    proc = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.skipif(not SLOW, reason="creates a venv from PyPI (minutes): AUTOGRADER_SLOW_TESTS=1")
@pytest.mark.parametrize("unit", SETUP_UNITS)
def test_bundle_installs_runs_exports_and_grades(unit, tmp_path):
    _, student_zip = build.build_unit(unit, tmp_path / "dist", staging=tmp_path / "stage")
    with zipfile.ZipFile(student_zip) as bundle:
        bundle.extractall(tmp_path / "student")
    folder = tmp_path / "student" / unit
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env["PIP_RETRIES"] = "1"  # PyTorch's CPU index may be unreachable here: the wheel is local
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], tmp_path, env=env)
    python = venv / "bin" / "python"
    _run([python, "install.py"], folder, env=env)
    listed = _run([python, "-m", "pip", "list", "--format=freeze"], folder, env=env).stdout.lower()
    for absent in ("playwright", "python-on-whales", "sphinx", "jupytext", "nvidia"):
        assert absent not in listed, absent  # Otter's instructor-only dependencies, CUDA
    assert "torch==2.13.0+cpu" in listed
    # the stub as unpacked, then the filled-in notebook (under the stub's name: the notebook's
    # otter.Notebook("<unit>.ipynb") exports that file), in this venv's own kernel
    notebook = folder / f"{unit}.ipynb"
    for step in ("stub", "filled"):
        if step == "filled":
            for stale in folder.glob(f"{unit}_*.zip"):
                stale.unlink()  # the stub's own export
            nbformat.write(UnitFiles(unit).reference_notebook(), notebook)
        _run([venv / "bin" / "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
              "--ExecutePreprocessor.timeout=900", notebook.name], folder, env=env)
    executed = nbformat.read(notebook, as_version=4)
    checks = [c for c in executed.cells if c.cell_type == "code" and c.source.startswith("grader.check(")]
    assert len(checks) == len(units.load(unit).questions)
    for cell in checks:
        text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)
        assert "All test cases passed" in text, text
    exports = sorted(folder.glob(f"{unit}_*.zip"))
    assert len(exports) == 1, sorted(p.name for p in folder.iterdir())
    out = tmp_path / "grades"
    _run([sys.executable, "-m", "autograder", "grade", unit, exports[0], "--out", out], PROJECT)
    with open(out / "grades.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert float(row["total"]) == float(row["max"]) == units.load(unit).points, row
