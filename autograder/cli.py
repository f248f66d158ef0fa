"""`python -m autograder grade`: many submissions, one results.json each, one grades.csv."""

from __future__ import annotations

import sys
from pathlib import Path

from . import sandbox, units
from .grade import grade
from .report import Report, write_grades_csv, write_results

SUFFIXES = (".ipynb", ".zip")


def expand(inputs: list[Path]) -> list[Path]:
    """Files as given; folders contribute the notebooks and zips directly inside them."""
    found: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        else:
            found.append(path)
    return found


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


def grade_command(unit_name: str, inputs: list[Path], out: Path, quiet: bool = False) -> int:
    submissions = expand(inputs)
    missing = [str(p) for p in submissions if not p.exists()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if not submissions:
        print("error: no .ipynb or .zip submissions found", file=sys.stderr)
        return 2
    prepare_host(out)
    unit, reference = units.load(unit_name), units.reference(unit_name)
    stems = _unique_stems(submissions)

    def one(index: int) -> Report:
        report = grade(unit, reference, submissions[index])
        write_results(report, out / stems[index])
        if not quiet:
            print(f"{stems[index]}: {report.score:g}/{report.max_score:g} ({report.status})", flush=True)
        return report

    reports = [one(i) for i in range(len(submissions))]
    for report, stem in zip(reports, stems):
        report.submission = stem
    write_grades_csv(reports, out / "grades.csv")
    total = sum(r.score for r in reports)
    print(f"graded {len(reports)} submission(s) of '{unit_name}' into {out} "
          f"(mean {total / len(reports):g}/{unit.points:g})")
    return 0


def _unique_stems(paths: list[Path]) -> list[str]:
    stems, seen = [], {}
    for path in paths:
        stem = path.stem
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return stems
