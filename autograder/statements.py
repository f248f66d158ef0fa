"""What students are told is graded, written from a unit's spec (never by hand).

The student bundle's README and the notebooks' "How it is graded" sections use these, so a
statement about grading (which questions, their points, what each hidden check tries, which
calls are banned) changes when the spec does, and never says more than the grader does.
"""

from __future__ import annotations

from .spec import Unit


def _points(value: float) -> str:
    return f"{value:g}"


def graded_table(unit: Unit) -> str:
    """A markdown table: per question, what it grades, its points and its hidden checks."""
    rows = ["| question | graded names | points | the hidden checks (points each) |", "|---|---|---|---|"]
    for question in unit.questions:
        checks = "; ".join(f"{c.name} ({_points(c.points)})" for c in question.checks).replace("|", "\\|")
        names = ", ".join(f"`{f}`" for f in question.functions)
        rows.append(f"| `{question.name}` | {names} | {_points(question.points)} | {checks} |")
    rows.append(f"| **total** | | **{_points(unit.points)}** | |")
    return "\n".join(rows)


def banned_sentence(unit: Unit) -> str:
    """Which calls score 0, per question, or that none are banned."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for question in unit.questions:
        groups.setdefault(tuple(unit.banned_for(question)), []).append(question.name)
    parts = []
    for banned, questions in groups.items():
        if not banned:
            continue
        names = ", ".join(f"`{b}`" for b in banned)
        parts.append(f"in {', '.join(f'`{q}`' for q in questions)}: {names}")
    if not parts:
        return "No call is banned."
    return ("A function that calls a banned function fails every check that calls it, and "
            "grader.check reports the call. Banned " + "; ".join(parts) + ".")
