"""Reading a submission (a notebook, or a zip from `grader.export()`) into code cells.

Runs in the trusted process and never executes anything: it only parses. Whatever is wrong
with the file becomes a `SubmissionError` whose message tells the student what to fix.
"""

from __future__ import annotations

import ast
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from IPython.core.inputtransformer2 import TransformerManager

MAX_NOTEBOOK_BYTES = 32 << 20


class SubmissionError(Exception):
    """The submission cannot be graded; the message is for the student."""


@dataclass
class Submission:
    name: str  # the notebook's file name
    data: bytes  # the notebook file as submitted
    cells: list[str]  # code cells, IPython syntax turned into plain Python
    notes: list[str] = field(default_factory=list)  # things the student should know


def read_notebook_bytes(path: Path) -> tuple[str, bytes]:
    """The notebook inside `path`: the file itself, or the single .ipynb in an export zip."""
    if path.suffix == ".zip" or zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                notebooks = [i for i in archive.infolist()
                             if i.filename.endswith(".ipynb") and not i.filename.startswith("__MACOSX")
                             and ".ipynb_checkpoints" not in i.filename]
                if len(notebooks) != 1:
                    raise SubmissionError(
                        f"the zip file holds {len(notebooks)} notebooks (.ipynb); it must hold exactly one")
                if notebooks[0].file_size > MAX_NOTEBOOK_BYTES:
                    raise SubmissionError("the notebook is larger than 32 MB; clear large outputs and resubmit")
                return Path(notebooks[0].filename).name, archive.read(notebooks[0])
        except zipfile.BadZipFile:
            raise SubmissionError("the zip file is damaged; export the notebook again") from None
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise SubmissionError("the notebook is larger than 32 MB; clear large outputs and resubmit")
    return path.name, path.read_bytes()


def parse(name: str, data: bytes, assignment: str) -> Submission:
    """Parse notebook bytes into a Submission, or raise SubmissionError."""
    if not data.strip():
        raise SubmissionError(f"{name} is empty")
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SubmissionError(
            f"{name} is not a Jupyter notebook (it is not valid JSON); submit the .ipynb file "
            "saved from Jupyter") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", []), list):
        raise SubmissionError(f"{name} is not a Jupyter notebook (no list of cells)")
    version = raw.get("nbformat")
    if version != 4:
        raise SubmissionError(
            f"{name} is in notebook format {version!r}; this course uses format 4. Open it in a "
            "current Jupyter, save it, and resubmit")
    cells = ["" if _otter_ignored(c) else _source(c) for c in raw.get("cells", [])
             if isinstance(c, dict) and c.get("cell_type") == "code"]
    if not cells:
        raise SubmissionError(f"{name} has no code cells")
    notes = []
    metadata = raw.get("metadata")
    otter = metadata.get("otter", {}) if isinstance(metadata, dict) else {}
    got = otter.get("assignment_name") if isinstance(otter, dict) else None
    if got is None:
        notes.append(f"note: the notebook has no assignment name in its metadata; graded as '{assignment}'")
    elif got != assignment:
        notes.append(f"note: the notebook says it is assignment '{got}'; graded as '{assignment}'")
    transformer = TransformerManager()
    cells = ["" if _only_grader_calls(c) else _plain_python(transformer, c) for c in cells]
    return Submission(name, data, cells, notes)


def _otter_ignored(cell: dict) -> bool:
    """A cell Otter does not run when grading: tagged `otter_ignore` or with metadata
    `otter.ignore` (e.g. a notebook's long training demo). We skip it too, as Otter would."""
    metadata = cell.get("metadata")
    if not isinstance(metadata, dict):
        return False
    tags = metadata.get("tags")
    otter = metadata.get("otter")
    return (isinstance(tags, list) and "otter_ignore" in tags) or (
        isinstance(otter, dict) and otter.get("ignore") is True)


def _only_grader_calls(source: str) -> bool:
    """`grader.check("q")` / `grader.export()` cells: public checks, not part of grading.

    Otter skips them when grading too; running them in the worker would only cost time.
    """
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return bool(body) and all(
        isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)
        and isinstance(s.value.func, ast.Attribute) and isinstance(s.value.func.value, ast.Name)
        and s.value.func.value.id == "grader" for s in body)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(map(str, source)) if isinstance(source, list) else str(source)


def _plain_python(transformer: TransformerManager, source: str) -> str:
    """`%magic` and `!shell` lines become calls to a get_ipython() that does nothing."""
    try:
        return transformer.transform_cell(source)
    except Exception:  # a broken cell: let the worker report its SyntaxError
        return source


def load(path: Path, assignment: str) -> Submission:
    name, data = read_notebook_bytes(path)
    return parse(name, data, assignment)

