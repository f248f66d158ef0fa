"""Every stub notebook runs top to bottom, as a student runs it (Kernel -> Restart & Run All).

The unit's student bundle is unpacked and its notebook executed with nbclient, in the
student's state of progress: untouched, half done (the first half of the questions written,
the rest still stubs) and filled in (every function written). No cell may raise: a demo
cell whose function is still a stub prints one short line, and `grader.check` of a stub
question prints one "not implemented yet" message, not one per public check.

By default one unit (backprop: NumPy only), untouched and half done; every unit, filled in
too, with AUTOGRADER_SLOW_TESTS=1 (gpt's filled-in notebook trains its sorter: about a
minute). test_build.py runs softmax's filled-in notebook by default.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from autograder import units
from autograder.build import student_files
from autograder.corpus import UnitFiles

SLOW = os.environ.get("AUTOGRADER_SLOW_TESTS") == "1"
UNITS = sorted(units.names()) if SLOW else ["backprop"]
NOT_DONE = "not implemented yet"


def _bundle(unit: str, folder: Path) -> Path:
    for path, data in student_files(units.load(unit), units.ROOT).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    return folder


def _run_all(nb: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    """Execute every cell in order; nbclient raises CellExecutionError at the first error."""
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def _text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _half_done(files: UnitFiles) -> tuple[nbformat.NotebookNode, list[str]]:
    """The stub with the reference's code for the first half of the questions."""
    spec = units.load(files.name)
    _, preamble, functions = files.split_module(files.reference.read_text())
    done = spec.questions[: len(spec.questions) // 2]
    written = {f: functions[f] for q in done for f in q.functions}
    return files.submission_notebook(written, preamble), [q.name for q in spec.questions[len(done):]]


@pytest.mark.parametrize("unit", UNITS)
def test_untouched_stub_runs_top_to_bottom(unit, tmp_path):
    folder = _bundle(unit, tmp_path)
    nb = _run_all(nbformat.read(folder / f"{unit}.ipynb", as_version=4), folder)
    checks = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = _text(cell)
        if cell.source.startswith("grader.check("):
            checks += 1
            assert text.count(NOT_DONE) == 1, f"{cell.source}:\n{text}"
            assert "All test cases passed" not in text
        elif NOT_DONE in text:  # a demo cell of a stub: one short line says so
            line = next(line for line in text.splitlines() if NOT_DONE in line)
            assert text.count(NOT_DONE) == 1 and len(line) < 120, text
    assert checks == len(units.load(unit).questions)


@pytest.mark.parametrize("unit", UNITS)
def test_half_done_notebook_runs_top_to_bottom(unit, tmp_path):
    folder = _bundle(unit, tmp_path)
    nb, todo = _half_done(UnitFiles(unit))
    nb = _run_all(nb, folder)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("grader.check("):
            question = cell.source.split('"')[1]
            text = _text(cell)
            if question in todo:
                assert text.count(NOT_DONE) == 1, f"{question}:\n{text}"
            else:
                assert "All test cases passed" in text, f"{question}:\n{text}"


@pytest.mark.parametrize("unit", sorted(units.names()))
def test_filled_in_notebook_runs_and_passes_every_check(unit, tmp_path):
    if not SLOW:
        pytest.skip("every unit's filled-in notebook, minutes (softmax's runs in test_build.py): "
                    "AUTOGRADER_SLOW_TESTS=1")
    folder = _bundle(unit, tmp_path)
    nb = _run_all(UnitFiles(unit).reference_notebook(), folder)
    checked = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("grader.check(")]
    assert checked and all("All test cases passed" in _text(c) for c in checked), \
        [_text(c) for c in checked if "All test cases passed" not in _text(c)]
