"""Command line: `python -m autograder {grade,build,audit,notebooks,new} …`; `--help` on each explains it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """\
decoding-gpt-autograder: build Gradescope autograders for the course's units and grade
student notebooks locally with the same trusted, sandboxed grader Gradescope runs.
"""

GRADE_HELP = """\
Grade student submissions of one unit, as Gradescope would, without Docker.

Each SUBMISSION is one of:
  * a notebook (.ipynb) or a zip made by grader.export();
  * a folder: every .ipynb and .zip directly inside it is graded;
  * a Gradescope "Export Submissions" download (Review Grades -> Export Submissions), as the
    zip or unpacked: submission_metadata.yml maps each submission_<id>/ folder to its
    students (name, email, SID; several for a group), and the file graded in each folder is
    the one Gradescope grades, so the scores are Gradescope's.

Student code runs only in sandboxed worker processes, forked from a warm fork server that has
already imported torch; no worker can open an inet socket or read outside its own folder and
the Python installation (seccomp and Landlock, as root or not); when run as root, each worker
also runs as its own unprivileged user (drawn from a large range; $AUTOGRADER_SANDBOX_UID pins
its start), in its own network and IPC namespaces and cgroup. --jobs N grades N
submissions at a time (one trusted grading process and fork server each); one submission's
code can never change another's score.

Resumable: a submission already graded (same autograder version, same file content) is not
graded again unless --force; an interrupted run continues where it stopped.

Writes, under --out:
  grades.csv                      one row per student: name, email, sid, submission,
                                  points per question, total, max, status
                                  (ok | timeout | crash | malformed)
  <submission>/results.json       Gradescope's results schema (per question, with feedback)
  <submission>/feedback.md, .html the same feedback for the student(s), readable
  report/index.html               class report: score histogram, pass rate per question,
                                  most frequent failure hints (PNG plots beside it)
  report/similarity.html          pairs of submissions with similar code (stub excluded)

Exit status: 0 when grading ran (whatever the scores), 2 for a usage error.

Examples:
  python -m autograder grade softmax submissions/ --out grades/softmax
  python -m autograder grade softmax assignment_123_export.zip --out grades/softmax --jobs 2
"""

BUILD_HELP = """\
Build each UNIT into gradescope/dist/<unit>/: autograder.zip (upload to Gradescope as the
assignment's autograder) and student.zip (the notebook, its public checks and requirements,
for students). Without UNIT, builds every unit. Fails if the student bundle would contain
any reference or hidden-check code.
"""

AUDIT_HELP = """\
Measure how many plausible wrong programs each UNIT's hidden checks catch (mutation testing).

Mutants of the reference solutions/<unit>.py (one small edit each: an operator or a
comparison swapped, a constant nudged, a dim= changed, keepdim flipped, a transpose removed,
a term dropped, a call unwrapped, arguments swapped, a mask inverted, a slice shifted by one,
a keyword or argument dropped, a raise check or a cleanup call deleted, a passed-through value
replaced by its default, an op made in-place, ...; at most --cap per function, sampled
deterministically) are graded like student notebooks, in the sandbox. A mutant that keeps
full marks is run again on a battery of --battery times as many hypothesis examples: if it
still matches the reference it is "probably equivalent" and left out of the score; if not,
it is a survivor, a bug the checks let through, listed with the input that exposes it (a ready-made Example).

Prints each unit's score and the kill rate of each operator. Writes, under --out, per unit:
<unit>.md and <unit>.html (score, survivors as one-line diffs with their function,
equivalent mutants, kill rate by operator), and <unit>.json.

Exit status: 0, or 1 when a unit's score is below the mutation_floor its spec declares.

Example:
  python -m autograder audit softmax attention --out audit-report
"""


def _add_audit_command(commands, unit_names: list[str]) -> None:
    from .audit import DEFAULT_CAP, DEFAULT_FACTOR

    audit = commands.add_parser("audit", help="measure the hidden checks by mutation testing",
                                description=AUDIT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    audit.add_argument("units", metavar="UNIT", nargs="*", help=f"units to audit (default: all of {', '.join(unit_names)})")
    audit.add_argument("--out", type=Path, default=Path("audit-report"), help="output folder (default: ./audit-report)")
    audit.add_argument("--cap", type=int, default=DEFAULT_CAP,
                       help=f"at most this many mutants per function (default {DEFAULT_CAP}; 0: every mutant)")
    audit.add_argument("--battery", type=int, default=DEFAULT_FACTOR, metavar="N",
                       help=f"equivalence battery: N times each check's examples (default {DEFAULT_FACTOR})")
    audit.add_argument("--jobs", type=int, default=2, help="mutants graded at once (default 2)")


def _run_audit_command(parser, args, unit_names: list[str]) -> int:
    from .audit import audit_command

    unknown = [u for u in args.units if u not in unit_names]
    if unknown:
        parser.error(f"unknown unit(s) {', '.join(unknown)}; units: {', '.join(unit_names)}")
    if args.cap < 0 or args.battery < 1 or args.jobs < 1:
        parser.error("--cap must be >= 0, --battery and --jobs >= 1")
    return audit_command(args.units or unit_names, args.out, args.cap or None, args.battery, args.jobs)


def main(argv: list[str] | None = None) -> int:
    from . import units

    parser = argparse.ArgumentParser(prog="python -m autograder", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    grade = commands.add_parser("grade", help="grade submissions locally", description=GRADE_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    grade.add_argument("unit", metavar="UNIT", help=f"the unit to grade: one of {', '.join(units.names())}")
    grade.add_argument("submissions", metavar="SUBMISSION", nargs="+", type=Path,
                       help="notebooks, export zips, folders of them, or Gradescope exports")
    grade.add_argument("--out", type=Path, default=Path("grades"), help="output folder (default: ./grades)")
    grade.add_argument("--quiet", action="store_true", help="print only the summary line")
    grade.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                       help="grade N submissions in parallel (default 1; about one per core)")
    grade.add_argument("--force", action="store_true",
                       help="grade every submission again, even those already graded in --out")

    build = commands.add_parser("build", help="build Gradescope and student zips", description=BUILD_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    build.add_argument("units", metavar="UNIT", nargs="*", help="units to build (default: all)")
    build.add_argument("--dist", type=Path, default=Path("gradescope/dist"), help="output folder")

    notebooks = commands.add_parser("notebooks", help="regenerate the stub notebooks",
                                    description="Regenerate assignments/<unit>/<unit>.ipynb from each unit's "
                                    "make_notebook.py (every unit by default). The build refuses a stale one.")
    notebooks.add_argument("units", metavar="UNIT", nargs="*", help="units (default: all)")

    from .scaffold import HELP as NEW_HELP

    new = commands.add_parser("new", help="write the skeleton of a new unit", description=NEW_HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    new.add_argument("unit", metavar="UNIT", help="the new unit's name (a Python identifier, lower case)")
    new.add_argument("--project", type=Path, default=None, help="the project to write into (default: this one)")

    _add_audit_command(commands, units.names())

    args = parser.parse_args(argv)
    if args.command == "audit":
        return _run_audit_command(parser, args, units.names())
    if args.command == "grade":
        from .grade_class import grade_command

        if args.unit not in units.names():
            parser.error(f"unknown unit {args.unit!r}; units: {', '.join(units.names())}")
        if args.jobs < 1:
            parser.error("--jobs must be at least 1")
        try:
            return grade_command(args.unit, args.submissions, args.out, quiet=args.quiet, jobs=args.jobs,
                                 force=args.force)
        finally:  # nothing a submission started outlives the command, not even as a dying process
            from . import sandbox

            sandbox.kill_strays()
    if args.command == "notebooks":
        from . import notebooks as stubs

        unknown = [u for u in args.units if u not in units.names()]
        if unknown:
            parser.error(f"unknown unit(s) {', '.join(unknown)}; units: {', '.join(units.names())}")
        for name in args.units or units.names():
            print(f"wrote {stubs.regenerate(name).relative_to(units.ROOT)}")
        return 0
    if args.command == "new":
        from .scaffold import ScaffoldError, write_unit

        try:
            written = write_unit(args.unit, args.project)
        except ScaffoldError as exc:
            parser.error(str(exc))
        for path in written:
            print(f"wrote {path}")
        return 0
    if args.command == "build":
        from .build import build_units

        unknown = [u for u in args.units if u not in units.names()]
        if unknown:
            parser.error(f"unknown unit(s) {', '.join(unknown)}; units: {', '.join(units.names())}")
        return build_units(args.units or units.names(), args.dist)
    return 2


if __name__ == "__main__":
    sys.exit(main())
