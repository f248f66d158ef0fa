"""Submissions built from a unit's stub notebook: the reference's, and the test corpus's.

A realistic submission is the stub notebook (assignments/<unit>/<unit>.ipynb) with the
student's code in it: each stub function's definition is replaced by the student's, every
other cell (prose, demos, ``grader.check`` cells, ``grader.export``) is kept. The corpus files
under tests/corpus/<unit>/ describe such submissions (tests/corpus/README.md). The tests and
`make bench` build their notebooks here, so that Otter, the CLI and the Gradescope tree all
grade what a student would hand in.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import nbformat

from . import units
from .feedback import MAX_LINES

PROJECT = Path(__file__).resolve().parents[1]
HEADER_NAMES = {"LOSES", "HINT", "BASE", "LIMITS", "ATTACKS", "CPU_SECONDS", "SAMPLE"}


# Placeholders for hostile cells too large to keep in a corpus file as text.
GENERATED = {
    "__LONG_SUM__": "1" + " + 1" * 200_000,  # one expression too deep for ast.parse's recursion
    "__SHELL_ESCAPES__": "\n".join(f"!echo {i}" for i in range(400)),  # IPython's transformer: quadratic
}


@dataclasses.dataclass
class Entry:
    """One corpus file: a submission described as code to put into the stub notebook.

    wrong/*.py and correct/*.py hold plain module code: its functions named like the unit's
    replace the stub's (a wrong file holds only its buggy function(s): the others come from
    correct/plain.py), everything else (imports, helpers) goes in front of the first of them.
    hostile/*.py start from the submission named by BASE and add cells, split by ``# %% WHERE``
    lines: ``first`` (a new first code cell), ``last`` (a new cell at the end) or ``functions``
    (module code whose functions replace the base's).
    """

    kind: str  # wrong | correct | hostile
    name: str
    path: Path
    loses: frozenset[str] = frozenset()  # wrong: the one question that must lose points
    base: str = ""  # hostile: "wrong/x" or "correct/y"
    limits: dict = dataclasses.field(default_factory=dict)  # overrides of unit.limits
    preamble: str = ""
    functions: dict[str, str] = dataclasses.field(default_factory=dict)
    first: list[str] = dataclasses.field(default_factory=list)
    last: list[str] = dataclasses.field(default_factory=list)
    hint: str = ""  # wrong: words the first hint of its LOSES question's feedback must contain
    # hostile: the questions its cells attack (e.g. a training run that cheats its budget): they
    # must score 0 (graded on them alone if they have a CPU budget); every other question keeps
    # the base's score
    attacks: frozenset[str] = frozenset()
    cpu_seconds: float | None = None  # replaces every check's CPU budget (a short one, for the suite)
    # wrong: the unit's sample wrong entry, graded in a simulated Gradescope tree
    # (tests/test_units.py) and both with and without the fast path (tests/test_fast_path.py)
    sample: bool = False

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"


class UnitFiles:
    """A unit's stub notebook, reference and corpus, and submissions built from them.

    The student names come from the unit's spec (every question's `functions`); a corpus file's
    top-level functions and classes with those names replace the stub's definitions.
    """

    def __init__(self, name: str):
        spec = units.load(name)
        self.name = name
        self.corpus = PROJECT / "tests" / "corpus" / name
        self.stub = PROJECT / "assignments" / name / f"{name}.ipynb"
        self.reference = PROJECT / "solutions" / f"{name}.py"
        self.functions = tuple(f for q in spec.questions for f in q.functions)
        self.questions = tuple(q.name for q in spec.questions)

    def split_module(self, source: str) -> tuple[dict, str, dict[str, str]]:
        """(header constants, preamble, {student name: source}) of plain module code."""
        tree = ast.parse(source)
        lines = source.splitlines(keepends=True)
        header, preamble, functions = {}, [], {}
        for i, node in enumerate(tree.body):
            start = (node.decorator_list[0].lineno if getattr(node, "decorator_list", None) else node.lineno) - 1
            text = "".join(lines[start:node.end_lineno])
            if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # the file's docstring: what the bug is, not part of the submission
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and getattr(node.targets[0], "id", "") in HEADER_NAMES:
                header[node.targets[0].id] = ast.literal_eval(node.value)
            elif self._is_student_definition(node):
                functions[node.name] = text
            else:
                preamble.append(text)
        return header, "\n".join(preamble), functions

    def _is_student_definition(self, node) -> bool:
        return isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in self.functions

    def load_entry(self, kind: str, name: str) -> Entry:
        path = self.corpus / kind / f"{name}.py"
        text = path.read_text()
        if kind != "hostile":
            header, preamble, functions = self.split_module(text)
            entry = Entry(kind, name, path, frozenset(header.get("LOSES", ())), preamble=preamble,
                          functions=functions, limits=header.get("LIMITS", {}),
                          cpu_seconds=header.get("CPU_SECONDS"), sample=header.get("SAMPLE", False))
            if kind == "wrong":
                # one bug costs exactly its own question (follow-through marking spares the others)
                assert isinstance(header.get("LOSES"), set) and len(header["LOSES"]) == 1, \
                    f"{path} must declare the one question it loses: LOSES = {{\"question\"}}"
                assert not set(entry.loses) - set(self.questions), f"{path}: unknown question in LOSES"
                assert isinstance(header.get("HINT"), str) and header["HINT"].strip(), \
                    f"{path} must declare HINT = \"words of the first hint its feedback gives\""
                entry.hint = header["HINT"]
                base = self.load_entry("correct", "plain")
                assert set(functions) <= set(base.functions), path
                entry.functions = {**base.functions, **functions}
                entry.preamble = base.preamble + "\n\n" + preamble
            return entry
        chunks = re.split(r"^# %%[ \t]*(\w*)[^\n]*\n", text, flags=re.M)
        header, _, _ = self.split_module(chunks[0])
        assert "BASE" in header, f"{path} must declare BASE"
        base_kind, base_name = header["BASE"].split("/")
        base = self.load_entry(base_kind, base_name)
        entry = Entry(kind, name, path, base.loses, header["BASE"], {**base.limits, **header.get("LIMITS", {})},
                      base.preamble, dict(base.functions), attacks=frozenset(header.get("ATTACKS", ())),
                      cpu_seconds=header.get("CPU_SECONDS", base.cpu_seconds))
        assert not entry.attacks - set(self.questions), f"{path}: unknown question in ATTACKS"
        for where, code in zip(chunks[1::2], chunks[2::2]):
            code = code.strip("\n") + "\n"
            if where == "first":
                entry.first.append(code)
            elif where == "last":
                entry.last.append(code)
            elif where == "functions":
                _, preamble, functions = self.split_module(code)
                entry.preamble += "\n\n" + preamble
                entry.functions.update(functions)
            else:
                raise AssertionError(f"{path}: unknown cell place {where!r}")
        return entry

    def lost_and_hint(self, entry: Entry, report, full: dict[str, float]) -> list[str]:
        """What is wrong with a wrong entry's report, graded with the questions `full` (name ->
        points): it must lose points on its LOSES question only (when graded), the first hint
        of that question's feedback must contain its HINT words, and no failed check's message
        may be longer than feedback.MAX_LINES lines. Empty when all is right."""
        problems = []
        lost = {q for q, score in report.scores().items() if score < full[q]}
        if lost != set(entry.loses) & set(full):
            problems.append(f"{entry.id} loses {sorted(lost)}, declared {sorted(entry.loses)}")
        for question in report.questions:
            for check in question.checks:  # concise feedback: every failed check in a screenful
                if not check.passed and len(check.message.splitlines()) > MAX_LINES:
                    problems.append(f"{entry.id}: {question.name} / {check.name}: a message of "
                                    f"{len(check.message.splitlines())} lines")
            if question.name in entry.loses and question.name in lost:
                hint = first_hint(question)
                if entry.hint.lower() not in hint.lower():
                    problems.append(f"{entry.id}: the first hint of {question.name} does not say "
                                    f"{entry.hint!r}: {hint!r}")
        return problems

    def corpus_names(self, kind: str) -> list[str]:
        return sorted(p.stem for p in (self.corpus / kind).glob("*.py"))

    def sample(self, judged: bool = True) -> Entry:
        """The unit's sample wrong entry: the one marked SAMPLE = True, else the first. With
        judged=False, one whose question has no judged check (they have no fast path)."""
        spec = units.load(self.name)
        unjudged = {q.name for q in spec.questions if not any(c.judge for c in q.checks)}
        wrong = [self.load_entry("wrong", n) for n in self.corpus_names("wrong")]
        if not judged:
            wrong = [e for e in wrong if e.loses <= unjudged]
        return next((e for e in wrong if e.sample), wrong[0])

    def stub_notebook(self) -> nbformat.NotebookNode:
        """The stub notebook as students receive it."""
        return nbformat.read(self.stub, as_version=4)

    def _definitions(self, source: str) -> list[ast.AST]:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return []
        return [n for n in tree.body if self._is_student_definition(n)]

    def submission_notebook(self, functions: dict[str, str], preamble: str = "", first=(), last=(),
                            substitutions: dict[str, str] | None = None) -> nbformat.NotebookNode:
        """The stub with the given definitions in place of the stub's, as a student would.

        Each stub cell's definition of a student name is replaced by `functions[name]` (names
        not given keep their NotImplementedError stub); `preamble` goes in front of the first
        replaced definition; `first` cells go before every code cell, `last` cells at the end.
        `substitutions` replaces placeholders (e.g. __PROJECT__) in every added source.
        """
        subs = substitutions or {}

        def fill(text: str) -> str:
            for key, value in subs.items():
                text = text.replace(key, value)
            return text

        nb = self.stub_notebook()
        need_preamble = bool(preamble.strip())
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            defs = [d for d in self._definitions(cell.source) if d.name in functions]
            if not defs:
                continue
            lines = cell.source.splitlines(keepends=True)
            for d in sorted(defs, key=lambda d: d.lineno, reverse=True):
                start = (d.decorator_list[0].lineno if d.decorator_list else d.lineno) - 1
                lines[start:d.end_lineno] = [fill(functions[d.name]).rstrip("\n") + "\n"]
            if need_preamble:
                lines.insert(0, fill(preamble).strip("\n") + "\n\n\n")
                need_preamble = False
            cell.source = "".join(lines)
            cell.outputs, cell.execution_count = [], None
        missing = set(functions) - {d.name for c in nb.cells if c.cell_type == "code"
                                    for d in self._definitions(c.source)}
        assert not missing, f"the stub notebook does not define {missing}"
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        for source in reversed(list(first)):
            nb.cells.insert(code[0], nbformat.v4.new_code_cell(fill(source)))
        for source in last:
            nb.cells.append(nbformat.v4.new_code_cell(fill(source)))
        return nb

    def entry_notebook(self, entry: Entry, out_dir: Path | str = "/nonexistent-out") -> nbformat.NotebookNode:
        subs = {"__PROJECT__": str(PROJECT), "__OUT__": str(out_dir), **GENERATED}
        return self.submission_notebook(entry.functions, entry.preamble, entry.first, entry.last, subs)

    def reference_notebook(self) -> nbformat.NotebookNode:
        """The stub completed with the reference's own code (its helpers in front)."""
        _, preamble, functions = self.split_module(self.reference.read_text())
        return self.submission_notebook(functions, preamble)


def first_hint(question) -> str:
    """The first hint a question's feedback gives: the `Hint:` of its first failed check, or,
    without one, that check's whole message (a banned call, an in-place change, a ValueError)."""
    message = next((c.message for c in question.checks if not c.passed), "")
    for line in message.splitlines():
        if line.strip().startswith("Hint:"):
            return line.strip().removeprefix("Hint:").strip()
    return message
