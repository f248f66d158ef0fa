"""What a TA reads after a class is graded: per-student feedback, and a class report.

* `write_feedback`: ``feedback.md`` and ``feedback.html`` for one submission (the same text as
  the student's results.json on Gradescope: per question, each check, the smallest failing
  input, expected vs. got, the hint), addressed to its students.
* `write_class_report`: ``report/index.html`` with matplotlib PNGs beside it: the score
  histogram, the pass rate per question, and the most frequent failure hints.
"""

from __future__ import annotations

import collections
import html
import statistics
from pathlib import Path

from .report import Report

HISTOGRAM, PASS_RATE, HINTS = "score_histogram.png", "pass_rate.png", "failure_hints.png"


# --------------------------------------------------------------------------- one submission


def feedback_markdown(report: Report, students, status: str) -> str:
    who = ", ".join(s.name or s.email or s.sid for s in students) or report.submission
    lines = [f"# Feedback: {report.unit}, {who}", "",
             f"**Score: {report.score:g} / {report.max_score:g}** (status: {status})", ""]
    lines += [f"> {note}" if "\n" not in note else "```\n" + note + "\n```" for note in report.notes]
    for question in report.questions:
        lines += ["", f"## {question.name}: {question.score:g} / {question.max_score:g}", ""]
        for check in question.checks:
            mark = "passed" if check.passed else "FAILED"
            lines.append(f"- **{mark}** {check.name} ({check.score:g}/{check.max_score:g})")
            if check.message:
                lines += ["", "  ```", *("  " + line for line in check.message.splitlines()), "  ```"]
    if report.printed.strip():
        lines += ["", "## What the notebook printed (last lines)", "", "```", report.printed.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def feedback_html(report: Report, students, status: str) -> str:
    e = html.escape
    who = ", ".join(s.name or s.email or s.sid for s in students) or report.submission
    body = [f"<h1>Feedback: {e(report.unit)}, {e(who)}</h1>",
            f"<p><b>Score: {report.score:g} / {report.max_score:g}</b> (status: {e(status)})</p>"]
    body += [f"<pre class=note>{e(note)}</pre>" for note in report.notes]
    for question in report.questions:
        body.append(f"<h2>{e(question.name)}: {question.score:g} / {question.max_score:g}</h2><ul>")
        for check in question.checks:
            mark = "passed" if check.passed else "FAILED"
            body.append(f"<li class={mark.lower()}><b>{mark}</b> {e(check.name)} "
                        f"({check.score:g}/{check.max_score:g})"
                        + (f"<pre>{e(check.message)}</pre>" if check.message else "") + "</li>")
        body.append("</ul>")
    if report.printed.strip():
        body.append(f"<h2>What the notebook printed (last lines)</h2><pre>{e(report.printed)}</pre>")
    return _page(f"Feedback: {report.unit}, {who}", "\n".join(body))


def write_feedback(report: Report, students, status: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feedback.md").write_text(feedback_markdown(report, students, status))
    (folder / "feedback.html").write_text(feedback_html(report, students, status))


# --------------------------------------------------------------------------- the class


def failure_hints(reports: list[Report]) -> collections.Counter:
    """(question, hint) -> how many submissions got it; the first line when there is no hint."""
    counts: collections.Counter = collections.Counter()
    for report in reports:
        seen = set()
        for question in report.questions:
            for check in question.checks:
                if check.passed or not check.message:
                    continue
                lines = check.message.splitlines()
                hint = next((ln[len("Hint:"):].strip() for ln in lines if ln.startswith("Hint:")), "")
                seen.add((question.name, hint or lines[0].strip()[:120]))
        counts.update(seen)
    return counts


def write_class_report(entries: list[tuple[str, Report, str]], unit, folder: Path,
                       similarity: str = "") -> Path:
    """entries: (submission key, report, status). Writes index.html and its PNGs into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    reports = [r for _, r, _ in entries]
    questions = [(q.name, q.points) for q in unit.questions]
    totals = [r.score for r in reports]
    pass_rate = {name: (sum(r.scores().get(name, 0) >= points for r in reports) / len(reports) if reports else 0)
                 for name, points in questions}
    hints = failure_hints(reports).most_common(10)
    _histogram(totals, unit.points, folder / HISTOGRAM)
    _bars([n for n, _ in questions], [100 * pass_rate[n] for n, _ in questions], "% of submissions with full marks",
          folder / PASS_RATE, vertical=True)
    _bars([f"{q}: {h[:60]}" for (q, h), _ in hints], [c for _, c in hints], "submissions", folder / HINTS)

    e = html.escape
    statuses = collections.Counter(s for _, _, s in entries)
    summary = (f"<p>{len(reports)} submissions of <b>{e(unit.name)}</b> (out of {unit.points:g} points): "
               f"mean {statistics.mean(totals) if totals else 0:.2f}, median "
               f"{statistics.median(totals) if totals else 0:g}; "
               + ", ".join(f"{n} {e(s)}" for s, n in sorted(statuses.items())) + ".</p>")
    rows = "".join(f"<tr><td>{e(q)}</td><td>{e(h)}</td><td>{c}</td></tr>" for (q, h), c in hints)
    subs = "".join(f"<tr><td><a href='../{e(key)}/feedback.html'>{e(key)}</a></td><td>{r.score:g}</td>"
                   f"<td>{e(s)}</td></tr>" for key, r, s in entries)
    body = f"""<h1>Class report: {e(unit.name)}</h1>{summary}
<h2>Scores</h2><img src="{HISTOGRAM}" alt="score histogram">
<h2>Pass rate per question</h2><img src="{PASS_RATE}" alt="pass rate per question">
<h2>Most frequent failure hints</h2><img src="{HINTS}" alt="most frequent failure hints">
<table><tr><th>question</th><th>hint (or first line of the failure)</th><th>submissions</th></tr>{rows}</table>
{f'<h2>Similarity</h2><p><a href="{e(similarity)}">Pairs of submissions to review</a> (stub code excluded).</p>' if similarity else ''}
<h2>Submissions</h2><table><tr><th>submission</th><th>score</th><th>status</th></tr>{subs}</table>"""
    path = folder / "index.html"
    path.write_text(_page(f"Class report: {unit.name}", body))
    return path


def _figure(height: float):
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    return Figure(figsize=(8, height), dpi=100)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})  # no version stamp: same data, same bytes


def _histogram(totals: list[float], points: float, path: Path) -> None:
    fig = _figure(3.5)
    ax = fig.add_subplot()
    ax.hist(totals, bins=min(20, max(1, int(points * 2))), range=(0, points), color="#4477aa", edgecolor="white")
    ax.set_xlabel("total score")
    ax.set_ylabel("submissions")
    _save(fig, path)


def _bars(labels: list[str], values: list[float], xlabel: str, path: Path, vertical: bool = False) -> None:
    fig = _figure(max(2.5, 0.45 * len(labels) + 1))
    ax = fig.add_subplot()
    if not labels:
        ax.text(0.5, 0.5, "no failures", ha="center", va="center")
        ax.set_axis_off()
    elif vertical:
        ax.bar(labels, values, color="#228833")
        ax.set_ylabel(xlabel)
        ax.set_ylim(0, 100)
    else:
        ax.barh(labels[::-1], values[::-1], color="#cc6677")
        ax.set_xlabel(xlabel)
        ax.tick_params(axis="y", labelsize=7)
    _save(fig, path)


def _page(title: str, body: str) -> str:
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}pre{{background:#f4f4f4;padding:.5em;
white-space:pre-wrap}}.failed b{{color:#b00}}.passed b{{color:#070}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left}}</style></head><body>
{body}
</body></html>
"""
