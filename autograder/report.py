"""Grading results, and how they are written: Gradescope's results.json and grades.csv."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .verdict import Kind


# How Gradescope renders results.json's texts. Its default for the top-level output is not
# plain text (a traceback's lines and indentation are lost); ours are plain text throughout:
# feedback quotes code and tracebacks, which Markdown would mangle (`*`, `_`, indentation).
OUTPUT_FORMATS = {"output_format": "text", "test_output_format": "text", "test_name_format": "text"}

@dataclass
class CheckResult:
    name: str
    passed: bool
    score: float
    max_score: float
    message: str = ""  # on failure: the input, expected vs. got, the hint
    kind: Kind | None = None  # what became of it (verdict.Kind); by default passed or wrong

    def __post_init__(self):
        self.kind = Kind(self.kind) if self.kind is not None else Kind.PASSED if self.passed else Kind.WRONG


@dataclass
class QuestionResult:
    name: str
    checks: list[CheckResult]

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 5)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.checks), 5)

    def output(self) -> str:
        lines = []
        for check in self.checks:
            mark = "passed" if check.passed else "FAILED"
            lines.append(f"[{mark}] {check.name} ({check.score:g}/{check.max_score:g})")
            if check.message:
                lines.extend("    " + line for line in check.message.splitlines())
        return "\n".join(lines)


@dataclass
class Report:
    unit: str
    submission: str
    questions: list[QuestionResult] = field(default_factory=list)
    status: str = "ok"  # ok | malformed | crash | timeout
    notes: list[str] = field(default_factory=list)  # for the student: metadata, failed cells
    printed: str = ""  # the tail of what the notebook printed
    cells_lost: list[Kind] = field(default_factory=list)  # what ended each cell that lost the worker

    @property
    def score(self) -> float:
        return round(sum(q.score for q in self.questions), 5)

    @property
    def max_score(self) -> float:
        return round(sum(q.max_score for q in self.questions), 5)

    def scores(self) -> dict[str, float]:
        return {q.name: q.score for q in self.questions}

    def summary(self) -> str:
        lines = [f"Unit '{self.unit}', submission {self.submission}: {self.score:g} / {self.max_score:g}"]
        lines += self.notes
        return "\n".join(lines)

    def to_gradescope(self) -> dict:
        """Gradescope's results.json schema: a test per question, all visible to the student."""
        return {
            "score": self.score,
            **OUTPUT_FORMATS,
            "output": self.summary(),
            "tests": [
                {
                    "name": q.name,
                    "score": q.score,
                    "max_score": q.max_score,
                    "status": "passed" if q.score == q.max_score else "failed",
                    "output": q.output(),
                    "visibility": "visible",
                }
                for q in self.questions
            ],
        }

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Report":
        """The report `to_dict` gave (e.g. read back from JSON)."""
        questions = [QuestionResult(q["name"], [CheckResult(**c) for c in q["checks"]]) for q in data["questions"]]
        return cls(**{**data, "questions": questions, "cells_lost": [Kind(k) for k in data.get("cells_lost", [])]})


def overall_status(report: Report) -> str:
    """ok | malformed | crash | timeout: what went wrong with the submission as a whole. A
    submission graded to the end is `timeout` if a cell or a call ran past its time limit."""
    if report.status != "ok":
        return report.status
    kinds = [*report.cells_lost, *(c.kind for q in report.questions for c in q.checks)]
    return "timeout" if Kind.TIMED_OUT in kinds else "ok"


def write_results(report: Report, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "results.json"
    path.write_text(json.dumps(report.to_gradescope(), indent=2))
    return path


def write_grades_csv(rows: list, unit, path: Path) -> None:
    """One row per student: rows are (student, report); a group's students share a report.

    Columns: name, email, sid, submission, one per question (the unit's order), total, max,
    status (ok | malformed | crash | timeout).
    """
    questions = [q.name for q in unit.questions]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "email", "sid", "submission", *questions, "total", "max", "status"])
        for student, report in rows:
            scores = report.scores()
            writer.writerow([student.name, student.email, student.sid, report.submission,
                             *(f"{scores.get(q, 0):g}" for q in questions),
                             f"{report.score:g}", f"{report.max_score:g}", overall_status(report)])
