"""`python -m autograder grade`: a class of submissions in, grades, feedback and reports out.

The flow: `export.collect` (notebooks, export zips, Gradescope exports → items with their
students) → skip what is already graded (same autograder version, same file content) →
`pool.Graders` (warm sandboxed workers, --jobs N processes) → per submission, as soon as it is
graded: results.json, feedback.md/.html and a state file → grades.csv, the class report and
the similarity report. Interrupted runs resume: only submissions without a state file matching
this version and this content are graded again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from . import export, sandbox, units
from .classreport import write_class_report, write_feedback
from .grade import zero_report
from .report import Report, write_grades_csv, write_results
from .report import overall_status as status

STATE = "graded.json"  # per submission folder: what resuming needs
STARTED = ".grading.json"  # per submission folder, while this process grades it in-process
REPORT_DIR = "report"  # class report, its plots and the similarity report


def prepare_host(out: Path) -> None:
    """As root: let the sandbox user reach Python, and keep it out of the project and results."""
    changed = sandbox.ensure_reachable()
    if changed:
        print(f"note: let the sandbox user traverse {', '.join(changed)} to reach Python", file=sys.stderr)
    venv = Path(sys.prefix).resolve()
    for entry in units.ROOT.iterdir():
        if entry.resolve() != venv:
            sandbox.make_private(entry)
    out.mkdir(parents=True, exist_ok=True)
    sandbox.make_private(out)
    sandbox.become_subreaper()


def grader_version(unit_name: str) -> str:
    """Changes whenever anything that can change a grade changes: the engine, spec, reference."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    files = sorted(p for p in package.rglob("*.py") if p.name != "bench.py")  # bench grades nothing
    files.append(units.ROOT / "solutions" / f"{unit_name}.py")
    files.append(units.public_path(unit_name))  # the spec imports it (e.g. gpt's training task)
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(units.ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def grade_command(unit_name: str, inputs: list[Path], out: Path, quiet: bool = False,
                  jobs: int = 1, force: bool = False) -> int:
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    prepare_host(out)
    with tempfile.TemporaryDirectory(prefix="autograder-inputs-") as staging:  # 0700: root-only
        try:
            items = export.collect(inputs, unit_name, Path(staging))
        except export.InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if not items:
            print("error: no .ipynb or .zip submissions found", file=sys.stderr)
            return 2
        unit = units.load(unit_name)
        version = grader_version(unit_name)
        digests = [item.digest() for item in items]
        reports: dict[int, Report] = {}
        todo, skipped = [], 0
        for index, item in enumerate(items):
            cached = None if force else _load_state(out / item.key, version, digests[index])
            if cached is not None:
                reports[index] = cached
                skipped += 1
            elif not force and _stopped_earlier(out / item.key, version, digests[index]):
                reports[index] = _finish(out, item, zero_report(
                    unit, item.key, "crash", "The grader stopped while grading this submission in an earlier "
                    "run (the whole process ended); it is not graded again. Please tell your instructor."),
                    version, digests[index])
            elif item.path is None:
                reports[index] = _finish(out, item, zero_report(unit, item.key, "malformed", item.problem),
                                         version, digests[index])
            else:
                todo.append(index)
        progress = _Progress(len(items), len(items) - len(todo), quiet)
        if todo:
            from .pool import Graders

            marks: list[Path] = []

            def starting(position: int) -> None:  # one job: the grading happens in this process
                index = todo[position]
                folder = out / items[index].key
                folder.mkdir(parents=True, exist_ok=True)
                marks.append(folder / STARTED)
                marks[-1].write_text(json.dumps({"version": version, "digest": digests[index]}))

            try:
                with Graders(unit_name, jobs) as graders:
                    for position, (data, seconds) in graders.map([items[i].path for i in todo], starting):
                        index = todo[position]
                        report = _finish(out, items[index], Report.from_dict(data), version, digests[index], seconds)
                        reports[index] = report
                        progress.step(items[index].key, report)
            except KeyboardInterrupt:  # stopped by the TA, not by the submission: graded next time
                for mark in marks:
                    mark.unlink(missing_ok=True)
                raise
        progress.close()
        similarity = _similarity(items, unit_name, out / REPORT_DIR)  # while staged files exist
    ordered = [reports[i] for i in range(len(items))]
    rows = [(student, report) for item, report in zip(items, ordered) for student in item.students or [export.Student()]]
    write_grades_csv(rows, unit, out / "grades.csv")
    entries = [(item.key, report, status(report)) for item, report in zip(items, ordered)]
    write_class_report(entries, unit, out / REPORT_DIR, similarity)
    total = sum(r.score for r in ordered)
    print(f"graded {len(ordered)} submission(s) of '{unit_name}' into {out} "
          f"(mean {total / len(ordered):g}/{unit.points:g}; {len(items) - skipped} graded now, "
          f"{skipped} already graded)")
    return 0


def _finish(out: Path, item: export.Item, report: Report, version: str, digest: str,
            seconds: float = 0.0) -> Report:
    """Write everything about one graded submission; the state file last (it marks it done)."""
    report.submission = item.key
    folder = out / item.key
    write_results(report, folder)
    write_feedback(report, item.students, status(report), folder)
    state = {"version": version, "digest": digest, "seconds": round(seconds, 3), "report": report.to_dict(),
             "students": [s.__dict__ for s in item.students]}
    temporary = folder / f".{STATE}.tmp"
    temporary.write_text(json.dumps(state))
    os.replace(temporary, folder / STATE)
    (folder / STARTED).unlink(missing_ok=True)
    return report


def _stopped_earlier(folder: Path, version: str, digest: str) -> bool:
    """Whether an earlier run of this version died while grading this very file in-process (a
    fatal error the grader could not catch): grading it again would stop this run too."""
    try:
        started = json.loads((folder / STARTED).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(started, dict) and started.get("version") == version and started.get("digest") == digest


def _load_state(folder: Path, version: str, digest: str) -> Report | None:
    try:
        state = json.loads((folder / STATE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("version") != version or state.get("digest") != digest:
        return None
    if not (folder / "results.json").is_file():
        return None
    return Report.from_dict(state["report"])


def _similarity(items, unit_name: str, folder: Path) -> str:
    try:
        from .similarity import write_similarity_report
    except ImportError as exc:  # copydetect missing: everything else still works
        print(f"note: no similarity report ({exc})", file=sys.stderr)
        return ""
    try:
        return write_similarity_report(items, unit_name, folder)
    except Exception as exc:  # it reads every student's code: no submission may cost the grades
        print(f"note: no similarity report ({type(exc).__name__}: {exc})", file=sys.stderr)
        return ""


class _Progress:
    """A progress bar with an ETA on a terminal; one plain line per submission otherwise."""

    def __init__(self, total: int, done: int, quiet: bool):
        self.total, self.done, self.quiet = total, done, quiet
        self.start, self.graded = time.monotonic(), 0
        self.bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit="submission", dynamic_ncols=True)

    def step(self, key: str, report: Report) -> None:
        self.done += 1
        self.graded += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f"{key}: {report.score:g}/{report.max_score:g}")
            self.bar.update(1)
        elif not self.quiet:
            rate = (time.monotonic() - self.start) / self.graded
            eta = rate * (self.total - self.done)
            print(f"[{self.done}/{self.total}] {key}: {report.score:g}/{report.max_score:g} "
                  f"({status(report)}); eta {eta:.0f} s", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
