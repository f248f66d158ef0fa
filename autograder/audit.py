"""`python -m autograder audit`: how many plausible wrong programs do a unit's hidden checks catch?

Mutants of the unit's reference (autograder/mutate.py: one small edit each, at most `cap` per
function, sampled deterministically) are graded exactly like student notebooks: each becomes a
notebook with one code cell, graded by `grade.grade` in a sandboxed worker. A mutant is

* **killed** when it loses points;
* **probably equivalent** when it keeps full marks and also passes a *battery*: the same
  hidden checks with `factor` times as many hypothesis examples each (run in the sandbox too:
  a mutant is untrusted-shaped code). Equivalence is judged by the checks' own comparators,
  on the checks' own input strategies: a mutant that differs from the reference only inside
  the tolerance, or only on inputs the spec never draws, counts as equivalent;
* a **survivor** when it keeps full marks but fails the battery: a bug the grading lets
  through. Its report line says where, and the battery's shrunk input is a ready `Example`.

Score = killed / (killed + survivors). A mutant is graded only on the questions whose
functions can reach the edited function (a static call graph of the reference module): the
other questions run identical code, so they would score exactly as the reference does.

Parallelism goes through one narrow seam, `grade_many`, so a pool of warm workers can replace
the thread pool without touching the rest. (Hypothesis is thread-safe since 6.136; the pinned
6.170 runs one check per thread fine.)
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import html
import json
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import nbformat

from . import grade as grading
from . import agreement, mutate, units
from .report import Report
from .spec import Unit

DEFAULT_CAP = 5  # mutants per function: make audit of every unit within 10 minutes on 2 cores
DEFAULT_FACTOR = 4  # battery: this many times each check's max_examples


# --------------------------------------------------------------------------- the seam


def grade_many(unit: Unit, reference: ModuleType, paths: list[Path], jobs: int = 1) -> list[Report]:
    """Grade submission files as `grade.grade` does, `jobs` at a time; reports in order."""
    if jobs <= 1 or len(paths) <= 1:
        return [grading.grade(unit, reference, p) for p in paths]
    with _serial_ast_parse(), ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda p: grading.grade(unit, reference, p), paths))


_PARSE_LOCK = threading.Lock()


@contextlib.contextmanager
def _serial_ast_parse():
    """One `ast.parse` at a time: CPython 3.11's parser fails in concurrent threads with
    "SystemError: AST constructor recursion depth mismatch" (notebook.py parses every cell)."""
    original = ast.parse

    def parse(*args, **kwargs):
        with _PARSE_LOCK:
            return original(*args, **kwargs)

    ast.parse = parse
    try:
        yield
    finally:
        ast.parse = original


@contextlib.contextmanager
def _threadsafe_inputs():
    """Keep hypothesis on the spec's strategies alone for the whole batch.

    grade.run_check swaps a hypothesis global in and out around every check; with several
    grading threads, one thread's restore could land in the middle of another's check. Holding
    the swap for the whole batch makes every nested save/restore a no-op.
    """
    with grading.spec_inputs_only():
        yield


# --------------------------------------------------------------------------- results


@dataclass
class Outcome:
    mutant: mutate.Mutant
    verdict: str  # killed | survived | equivalent
    questions: tuple[str, ...]  # the questions graded (those that can reach the edit)
    lost: tuple[str, ...] = ()  # the questions that lost points (in grading, or in the battery)
    detail: str = ""  # a survivor's battery failure: the input on which it is wrong


@dataclass
class Audit:
    unit: str
    outcomes: list[Outcome]
    generated: int  # mutants before the cap
    cap: int | None
    factor: int
    floor: float | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(o.verdict == verdict for o in self.outcomes)

    @property
    def score(self) -> float | None:
        """killed / non-equivalent mutants, or None when every mutant is equivalent."""
        judged = self.count("killed") + self.count("survived")
        return self.count("killed") / judged if judged else None

    @property
    def below_floor(self) -> bool:
        return self.floor is not None and self.score is not None and self.score < self.floor


# --------------------------------------------------------------------------- running


def questions_reaching(unit: Unit, tree: ast.Module, function: str) -> tuple[str, ...]:
    """The questions whose graded functions can call `function` ("Class.method": the class)."""
    top = function.split(".")[0]
    return tuple(q.name for q in unit.questions if top in mutate.reachable(tree, q.functions))


def narrowed(unit: Unit, questions: tuple[str, ...]) -> Unit:
    return dataclasses.replace(unit, questions=tuple(q for q in unit.questions if q.name in questions))


def auditable(unit: Unit) -> Unit:
    """`unit` without its judged checks (a check with a `judge`, e.g. one that grades a model the
    student's code trains): each mutant would train a model for a minute of CPU, and what such a
    check measures (accuracy on fresh data) is not a comparison a mutant can be equivalent under.
    Questions left with no check are dropped."""
    questions = []
    for q in unit.questions:
        checks = tuple(c for c in q.checks if c.judge is None)
        if checks:
            questions.append(dataclasses.replace(q, checks=checks))
    return dataclasses.replace(unit, questions=tuple(questions))


def battery(unit: Unit, factor: int) -> Unit:
    """The same checks with `factor` times as many drawn inputs each."""
    return dataclasses.replace(unit, questions=tuple(
        dataclasses.replace(q, checks=tuple(dataclasses.replace(c, max_examples=c.max_examples * factor)
                                            for c in q.checks))
        for q in unit.questions))


def candidates(unit: Unit, source: str, cap: int | None = DEFAULT_CAP) -> tuple[list[mutate.Mutant], int]:
    """(the mutants to grade, how many there were before the cap) of the graded functions."""
    tree = ast.parse(source)
    names = mutate.reachable(tree, {f for q in unit.questions for f in q.functions})
    every = mutate.mutants_of(source, names)
    return mutate.sample(every, cap, seed=unit.name), len(every)


FLOOR_SAMPLE = 5  # mutants per unit that `make test` grades against the unit's mutation_floor


def floor_sample(unit: Unit, source: str, size: int = FLOOR_SAMPLE) -> list[mutate.Mutant]:
    """A fixed, quick sample for the floor test: `size` mutants of the computation in the graded
    functions themselves (not argument checks, whose mutants are mostly equivalent on valid
    inputs and cost a battery each), drawn deterministically from the classic operators."""
    graded = {f for q in auditable(unit).questions for f in q.functions}
    every = [m for m in mutate.mutants_of(source, graded) if not m.in_guard and m.operator in mutate.CLASSIC]
    chosen = random.Random(f"floor:{unit.name}").sample(sorted(every, key=lambda m: m.key), min(size, len(every)))
    return sorted(chosen, key=lambda m: (m.line, m.key))


def write_notebook(source: str, unit_name: str, path: Path) -> Path:
    """A submission holding `source` as its only code cell, named like the unit's notebook."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["otter"] = {"assignment_name": unit_name}
    nb.cells = [nbformat.v4.new_code_cell(source)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _lost(report: Report) -> tuple[str, ...]:
    return tuple(q.name for q in report.questions if q.score < q.max_score)


def _grade_grouped(unit: Unit, reference: ModuleType, items: list[tuple[tuple[str, ...], Path]],
                   jobs: int) -> list[Report]:
    """Grade each (questions, path) on just those questions; reports in the order given."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, (questions, _) in enumerate(items):
        groups.setdefault(questions, []).append(index)
    reports: list[Report | None] = [None] * len(items)
    for questions, indexes in groups.items():
        graded = grade_many(narrowed(unit, questions), reference, [items[i][1] for i in indexes], jobs)
        for i, report in zip(indexes, graded):
            reports[i] = report
    return reports


def audit_unit(unit_name: str, *, unit: Unit | None = None, battery_unit: Unit | None = None,
               mutants: list[mutate.Mutant] | None = None, cap: int | None = DEFAULT_CAP,
               factor: int = DEFAULT_FACTOR, jobs: int = 1, check_reference: bool = True,
               workdir: Path | None = None) -> Audit:
    """Grade mutants of solutions/<unit_name>.py with `unit` (default: the unit's own spec).

    `battery_unit` (default: `unit`) supplies the checks the equivalence battery runs, so a
    deliberately weak spec can still be told its survivors apart from equivalent mutants.
    """
    start = time.perf_counter()
    unit = auditable(unit or units.load(unit_name))
    battery_base = auditable(battery_unit or unit)
    reference = units.reference(unit_name)
    source = (units.ROOT / "solutions" / f"{unit_name}.py").read_text()
    tree = ast.parse(source)
    generated = None
    if mutants is None:
        mutants, generated = candidates(unit, source, cap)
    with tempfile.TemporaryDirectory(prefix=f"audit-{unit_name}-") as scratch, _threadsafe_inputs():
        folder = Path(workdir or scratch)
        if check_reference:
            ref = grading.grade(unit, reference, write_notebook(source, unit_name, folder / "reference" / f"{unit_name}.ipynb"))
            if ref.score < ref.max_score:
                raise RuntimeError(f"the reference itself scores {ref.score:g}/{ref.max_score:g} under "
                                   f"its own spec; fix that before auditing:\n{ref.summary()}")
        items = []
        for index, mutant in enumerate(mutants):
            path = write_notebook(mutant.source, unit_name, folder / f"m{index:04d}" / f"{unit_name}.ipynb")
            items.append((questions_reaching(unit, tree, mutant.function), path))
        reports = _grade_grouped(unit, reference, items, jobs)
        outcomes = []
        for mutant, (questions, _), report in zip(mutants, items, reports):
            lost = _lost(report)
            outcomes.append(Outcome(mutant, "killed" if lost else "survived", questions, lost))
        living = [i for i, o in enumerate(outcomes) if o.verdict == "survived"]
        strong = battery(battery_base, factor)
        checked = _grade_grouped(strong, reference, [(questions_reaching(battery_base, tree, outcomes[i].mutant.function),
                                                      items[i][1]) for i in living], jobs)
        for i, report in zip(living, checked):
            lost = _lost(report)
            if lost:
                outcomes[i].lost = lost
                outcomes[i].detail = _first_failure(report)
            else:
                outcomes[i].verdict = "equivalent"
    return Audit(unit_name, outcomes, generated if generated is not None else len(mutants), cap, factor,
                 floor=getattr(unit, "mutation_floor", None), seconds=time.perf_counter() - start)


def _first_failure(report: Report) -> str:
    for question in report.questions:
        for check in question.checks:
            if not check.passed:
                return f"{question.name}: {check.name}\n{check.message}"
    return ""


# --------------------------------------------------------------------------- reports


EQUIVALENT_NOTE = ("Equal to the reference on every input the checks draw, judged by the checks' own "
                   "tolerances. If one of these is a real bug (e.g. it refuses a valid argument the "
                   "strategies never draw), add an Example with that input to the spec.")


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _summary(audit: Audit) -> list[str]:
    killed, survived, equivalent = audit.count("killed"), audit.count("survived"), audit.count("equivalent")
    floor = "" if audit.floor is None else (
        f"; floor {_percent(audit.floor)}: " + ("**BELOW THE FLOOR**" if audit.below_floor else "met"))
    cap = "every mutant" if audit.cap is None else f"at most {audit.cap} per function, sampled deterministically"
    return [
        f"Mutation score: **{_percent(audit.score)}** ({killed} of {killed + survived} non-equivalent "
        f"mutants lose points){floor}.",
        f"Mutants graded: {len(audit.outcomes)} of {audit.generated} generated ({cap}); "
        f"{equivalent} probably equivalent (full marks on a battery of {audit.factor}× each check's "
        f"examples), left out of the score. Audit time: {audit.seconds:.0f} s.",
    ]


def _per_function(audit: Audit) -> list[tuple[str, int, int, int]]:
    rows: dict[str, list[int]] = {}
    for o in audit.outcomes:
        row = rows.setdefault(o.mutant.function, [0, 0, 0])
        row[("killed", "survived", "equivalent").index(o.verdict)] += 1
    return [(name, *counts) for name, counts in rows.items()]


def to_markdown(audit: Audit) -> str:
    lines = [f"# Mutation audit of unit `{audit.unit}`", "", *_summary(audit), ""]
    lines += ["| function | killed | survived | probably equivalent |", "|---|---|---|---|"]
    lines += [f"| `{name}` | {k} | {s} | {e} |" for name, k, s, e in _per_function(audit)]
    survivors = [o for o in audit.outcomes if o.verdict == "survived"]
    lines += ["", f"## Survivors ({len(survivors)}): wrong programs the hidden checks let through", ""]
    if not survivors:
        lines.append("None.")
    for o in survivors:
        first = o.detail.splitlines()[0] if o.detail else ""
        lines.append(f"- {o.mutant.diff()} — caught only by the battery ({first})")
    equivalent = [o for o in audit.outcomes if o.verdict == "equivalent"]
    lines += ["", f"## Probably equivalent ({len(equivalent)}): same results as the reference on the battery", "",
              EQUIVALENT_NOTE, ""]
    lines += [f"- {o.mutant.diff()}" for o in equivalent] or ["None."]
    lines += ["", "## Kill rate, by operator", "",
              "| operator | killed | survived | probably equivalent | kill rate |", "|---|---|---|---|---|"]
    lines += [f"| {op} | {k} | {s} | {e} | {_percent(k / (k + s) if k + s else None)} |"
              for op, (k, s, e) in per_operator(audit).items()]
    return "\n".join(lines) + "\n"


def per_operator(audit: Audit) -> dict[str, tuple[int, int, int]]:
    """operator → (killed, survived, probably equivalent), operators in name order."""
    ops: dict[str, list[int]] = {}
    for o in audit.outcomes:
        ops.setdefault(o.mutant.operator, [0, 0, 0])[("killed", "survived", "equivalent").index(o.verdict)] += 1
    return {op: tuple(counts) for op, counts in sorted(ops.items())}


def operator_line(audit: Audit) -> str:
    """One line of kill rates per operator, e.g. "drop-raise 4/4, inplace 2/3 (1 equivalent)"."""
    parts = []
    for op, (k, s, e) in per_operator(audit).items():
        parts.append(f"{op} {k}/{k + s}" + (f" ({e} equivalent)" if e else ""))
    return "kill rate by operator: " + ", ".join(parts)


def to_html(audit: Audit) -> str:
    def code(text: str) -> str:
        return f"<code>{html.escape(text)}</code>"

    def diff(o: Outcome) -> str:
        m = o.mutant
        return (f"{code(m.function)} line {m.line} ({html.escape(m.operator)}): {code(m.before)} "
                f"&rarr; {code(m.after)}")

    def markup(line: str) -> str:  # the summary's **bold**
        parts = html.escape(line).split("**")
        return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))

    rows = "".join(f"<tr><td>{code(n)}</td><td>{k}</td><td>{s}</td><td>{e}</td></tr>"
                   for n, k, s, e in _per_function(audit))
    survivors = "".join(f"<li>{diff(o)}<pre>{html.escape(o.detail)}</pre></li>"
                        for o in audit.outcomes if o.verdict == "survived") or "<li>None.</li>"
    equivalent = "".join(f"<li>{diff(o)}</li>" for o in audit.outcomes if o.verdict == "equivalent") or "<li>None.</li>"
    killed = "".join(f"<li>{diff(o)} &mdash; loses points on {html.escape(', '.join(o.lost))}</li>"
                     for o in audit.outcomes if o.verdict == "killed")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Mutation audit: {html.escape(audit.unit)}</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}} td,th{{padding:.2em .8em;border-bottom:1px solid #ddd}}
pre{{background:#f6f6f6;padding:.5em;white-space:pre-wrap}} li{{margin:.3em 0}}</style></head><body>
<h1>Mutation audit of unit {code(audit.unit)}</h1>
{''.join(f'<p>{markup(line)}</p>' for line in _summary(audit))}
<table><tr><th>function</th><th>killed</th><th>survived</th><th>probably equivalent</th></tr>{rows}</table>
<h2>Survivors: wrong programs the hidden checks let through</h2><ul>{survivors}</ul>
<h2>Probably equivalent: same results as the reference on the battery</h2><p>{html.escape(EQUIVALENT_NOTE)}</p>
<ul>{equivalent}</ul>
<details><summary>Killed mutants</summary><ul>{killed}</ul></details>
</body></html>
"""


def write_reports(audit: Audit, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{audit.unit}.md", out / f"{audit.unit}.html", out / f"{audit.unit}.json"]
    paths[0].write_text(to_markdown(audit))
    paths[1].write_text(to_html(audit))
    paths[2].write_text(json.dumps({
        "unit": audit.unit, "score": audit.score, "floor": audit.floor, "seconds": round(audit.seconds, 1),
        "generated": audit.generated, "cap": audit.cap, "factor": audit.factor,
        "outcomes": [{"function": o.mutant.function, "operator": o.mutant.operator, "line": o.mutant.line,
                      "before": o.mutant.before, "after": o.mutant.after, "verdict": o.verdict,
                      "lost": list(o.lost)} for o in audit.outcomes],
        "operators": {op: dict(zip(("killed", "survived", "equivalent"), counts))
                      for op, counts in per_operator(audit).items()},
    }, indent=1))
    return paths


# --------------------------------------------------------------------------- command


def audit_command(unit_names: list[str], out: Path, cap: int | None, factor: int, jobs: int) -> int:
    """Audit each unit, write its reports; exit status 1 if a unit falls below its floor."""
    import torch

    from .grade_class import prepare_host

    torch.set_num_threads(1)  # the workers and grading threads already fill the cores
    prepare_host(out)
    below = []
    for name in unit_names:
        result = audit_unit(name, cap=cap, factor=factor, jobs=jobs)
        paths = write_reports(result, out)
        print(f"{name}: mutation score {_percent(result.score)} ({result.count('killed')} killed, "
              f"{result.count('survived')} survived, {result.count('equivalent')} probably equivalent) "
              f"in {result.seconds:.0f} s -> {paths[0]}", flush=True)
        print(f"  {operator_line(result)}", flush=True)
        if result.below_floor:
            below.append(f"{name} ({_percent(result.score)} < floor {_percent(result.floor)})")
        # the students' side: do the public checks flag the wrong corpus's bugs?
        agreed = agreement.measure(name)
        print(agreement.summary(agreed), flush=True)
        if agreed.share is not None and agreed.share < agreement.FLOOR:
            below.append(f"{name} (local checks flag {_percent(agreed.share)} of the wrong corpus < "
                         f"{_percent(agreement.FLOOR)})")
    if below:
        print(f"below the floor: {', '.join(below)}")
        return 1
    return 0
