"""Reading a submission (a notebook, or a zip from `grader.export()`) into code cells.

Runs in the trusted process and never executes anything: it only parses. Whatever is wrong
with the file becomes a `SubmissionError` whose message tells the student what to fix.
"""

from __future__ import annotations

import ast
import contextlib
import json
import signal
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from IPython.core.inputtransformer2 import TransformerManager

MAX_NOTEBOOK_BYTES = 32 << 20
# IPython's transformer is quadratic in a cell's `!`/`%` lines (400 of them: 2 s of CPU): the
# whole conversion of a notebook gets this much wall time, then the rest is left as it is.
TRANSFORM_SECONDS = 10.0


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
    except (UnicodeDecodeError, ValueError, RecursionError):
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
    return Submission(name, data, _converted(cells, notes), notes)


class _OutOfTime(BaseException):
    """Raised by the alarm inside IPython's code, which catches every Exception."""


@contextlib.contextmanager
def _time_bound(seconds: float):
    """Raise _OutOfTime in this thread after `seconds` of wall time (main thread only: signals
    reach no other; the CLI, its pool processes and Gradescope all parse there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(*_):
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, on_alarm)
    # again every 0.1 s: a handler that runs inside a gc callback or a __del__ has its
    # exception swallowed ("Exception ignored in ..."), so one alarm may not stop the work
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.1)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _converted(cells: list[str], notes: list[str]) -> list[str]:
    """Each cell as plain Python: grader-only cells emptied, IPython syntax converted, within
    TRANSFORM_SECONDS for the whole notebook (what is left is sent as it is: such a cell then
    fails with a SyntaxError in the worker, and the others are graded)."""
    transformer = TransformerManager()
    done: list[str] = []
    try:
        with _time_bound(TRANSFORM_SECONDS):
            for cell in cells:
                done.append("" if _only_grader_calls(cell) else _plain_python(transformer, cell))
    except _OutOfTime:
        notes.append(f"note: converting the notebook's `!` and `%` lines took longer than "
                     f"{TRANSFORM_SECONDS:g} s; code cells from {len(done) + 1} on were run as written")
        done.extend(cells[len(done):])
    return done


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
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # e.g. nested too deeply
        return False
    return bool(body) and all(
        isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)
        and isinstance(s.value.func, ast.Attribute) and isinstance(s.value.func.value, ast.Name)
        and s.value.func.value.id == "grader" for s in body)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(map(str, source)) if isinstance(source, list) else str(source)


def _plain_python(transformer: TransformerManager, source: str) -> str:
    """`%magic` and `!shell` lines become calls to a get_ipython() that does nothing. Plain
    Python (every stub cell) is left alone: IPython would not change it, only spend time."""
    try:
        ast.parse(source)
        return source
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    lines = source.splitlines(keepends=True)
    escapes = [i for i, line in enumerate(lines) if line.lstrip()[:1] in ("!", "%") and not line.startswith("%%")]
    if len(escapes) > _MANY_ESCAPES:
        converted = _line_by_line(transformer, lines, escapes)
        if converted is not None:
            return converted
    try:
        return transformer.transform_cell(source)
    except Exception:  # a broken cell: let the worker report its SyntaxError
        return source


# Above this many `!`/`%` lines in a cell, each is converted alone (IPython's whole-cell
# conversion re-reads the cell for each one, so its time grows with their square).
_MANY_ESCAPES = 20


def _line_by_line(transformer: TransformerManager, lines: list[str], escapes: list[int]) -> str | None:
    """The cell with each `!`/`%` line converted on its own; None unless the result is plain
    Python (then the whole cell is converted as usual)."""
    lines = list(lines)
    for i in escapes:
        stripped = lines[i].lstrip()
        indent = lines[i][: len(lines[i]) - len(stripped)]
        try:
            lines[i] = indent + transformer.transform_cell(stripped.rstrip("\n") + "\n")
        except Exception:
            return None
    converted = "".join(lines)
    try:
        ast.parse(converted)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return converted


def load(path: Path, assignment: str) -> Submission:
    name, data = read_notebook_bytes(path)
    return parse(name, data, assignment)

