"""The attention unit graded end to end: reference, stub, and the corpora of tests/corpus/attention/.

Every corpus submission is the stub notebook (assignments/attention/attention.ipynb) with code
put into it in place of the stub's functions and class (conftest.UnitFiles):

* wrong/*     one classic bug each: points lost on exactly the one question its LOSES names,
              with the first hint its HINT names (a question whose code calls the buggy
              function keeps its points by follow-through marking);
* correct/*   correct code written differently from the reference: full marks;
* hostile/*   a base submission plus hostile cells: exactly the base's scores.

Each corpus entry is graded once per session (shared between pytest-xdist workers); the
public checks run in-process on the reference and on the stubs.
"""

from __future__ import annotations

import ast
import inspect
import json

import pytest
import torch
from torch import nn

from autograder import build, units
from autograder.report import write_results

from conftest import PROJECT, UnitFiles

FILES = UnitFiles("attention")
WRONG, CORRECT, HOSTILE = FILES.corpus_names("wrong"), FILES.corpus_names("correct"), FILES.corpus_names("hostile")
QUESTIONS = FILES.questions
SPEC = PROJECT / "autograder" / "units" / "attention.py"


@pytest.fixture(scope="module")
def grader(grader_for):
    return grader_for("attention")


@pytest.fixture(scope="module")
def unit(grader):
    return grader.unit


def full_marks(unit) -> dict[str, float]:
    return {q.name: q.points for q in unit.questions}


def feedback(report) -> str:
    return json.dumps(report.to_gradescope(), indent=1) + "\n" + "\n".join(report.notes)


def message(report, question: str, check_words: str = "") -> str:
    """The first failed check's message of `question` (whose name contains `check_words`)."""
    q = next(q for q in report.questions if q.name == question)
    return next(c.message for c in q.checks if not c.passed and check_words in c.name)


def secret_lines() -> list[str]:
    """Distinctive code lines of the reference and of the hidden spec (not docstrings, which
    the stub shows) that must never reach a student."""
    stub = FILES.stub.read_text()
    public = (PROJECT / "assignments" / "attention" / "attention_public.py").read_text()
    lines = set()
    for path in (FILES.reference, SPEC):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef):
                body = node.body[1:] if ast.get_docstring(node) else node.body
                for stmt in body:
                    for line in ast.get_source_segment(source, stmt).splitlines():
                        line = line.strip()
                        if len(line) >= 30 and not line.startswith(("#", "raise ValueError", "f\"", "\"")) \
                                and json.dumps(line)[1:-1] not in stub and line not in public:
                            lines.add(line)
    assert len(lines) >= 30
    return sorted(lines)


SECRETS = secret_lines()


def assert_no_secrets(text: str) -> None:
    leaked = [line for line in SECRETS if line in text]
    assert not leaked, f"hidden source reached the student: {leaked[:3]}"


# --------------------------------------------------------------------------- reference and stub


def test_corpus_is_big_enough():
    assert len(WRONG) >= 12 and len(CORRECT) >= 3 and len(HOSTILE) >= 3
    every_question = set().union(*(FILES.load_entry("wrong", n).loses for n in WRONG))
    assert every_question == set(QUESTIONS), "some question has no wrong submission"


def test_reference_scores_full_marks(grader, unit):
    report = grader.cached("reference")
    assert report.status == "ok", report.notes
    assert report.scores() == full_marks(unit), feedback(report)
    assert report.score == report.max_score == 24
    assert not report.notes, report.notes  # every cell of the notebook ran


def test_untouched_stub_scores_zero_with_a_message_per_question(grader, unit):
    report = grader.cached("stub")
    assert report.score == 0 and report.max_score == 24
    assert [q.name for q in report.questions] == list(QUESTIONS)
    for question in report.questions:
        for check in question.checks:
            assert "not implemented" in check.message, (question.name, check.message)
            assert f"`{question.name}`" in check.message
    assert not report.notes, "the stub's own cells must run without errors"


# --------------------------------------------------------------------------- wrong and correct


@pytest.mark.parametrize("name", WRONG)
def test_wrong_submission_loses_points_only_where_declared(grader, unit, name):
    entry = FILES.load_entry("wrong", name)
    report = grader.cached(entry.id)
    assert report.status == "ok", report.notes
    assert not FILES.lost_and_hint(entry, report, full_marks(unit)), feedback(report)
    for question in report.questions:  # every failed check explains itself
        for check in question.checks:
            assert check.passed or check.message.strip(), (question.name, check.name)
    assert_no_secrets(feedback(report))


@pytest.mark.parametrize("name", CORRECT)
def test_correct_variant_scores_full_marks(grader, unit, name):
    report = grader.cached(f"correct/{name}")
    assert report.status == "ok", report.notes
    assert report.scores() == full_marks(unit), feedback(report)


# Which words the feedback of a classic bug must contain: the bug named, not just "wrong".
FEEDBACK = {
    "no_scaling": ("scaled_dot_product_attention", "without a mask", "without the scaling"),
    "scale_multiplied": ("scaled_dot_product_attention", "without a mask", "multiplied by sqrt(d_k)"),
    "scale_by_d_v": ("scaled_dot_product_attention", "without a mask", "1/sqrt(d_v)"),
    "scale_by_d_model": ("multi_head_attention", "self-attention", "sqrt(d_head)"),
    "softmax_over_queries": ("scaled_dot_product_attention", "", "softmax over the queries"),
    "mask_after_softmax": ("scaled_dot_product_attention", "masks broadcast", "before the softmax"),
    "neg_inf_nan_rows": ("scaled_dot_product_attention", "fully masked", "NaN"),
    "large_negative_fill": ("scaled_dot_product_attention", "fully masked", "uniform"),
    "no_max_subtraction": ("scaled_dot_product_attention", "large scores", "subtract each row's maximum"),
    "split_reshape_no_transpose": ("split_heads", "", "then transpose"),
    "merge_reshape_no_transpose": ("merge_heads", "", "transpose [H, T, d] to [T, H, d]"),
    "kv_from_query": ("multi_head_attention", "cross-attention", "from x_kv"),
    "causal_strict": ("MultiHeadSelfAttention", "causal by default", "j <= i"),
    "padding_mask_inverted": ("MultiHeadSelfAttention", "key_padding_mask", "other way round"),
    "misnamed_projection": ("MultiHeadSelfAttention", "causal by default", 'Missing key(s) in state_dict: "out_proj'),
    "banned_torch_sdpa": ("scaled_dot_product_attention", "", "torch.nn.functional.scaled_dot_product_attention"),
    "inplace_scaling": ("scaled_dot_product_attention", "", "modified its input in place"),
}


@pytest.mark.parametrize("name", sorted(FEEDBACK))
def test_feedback_names_the_bug(grader, name):
    question, check_words, words = FEEDBACK[name]
    text = message(grader.cached(f"wrong/{name}"), question, check_words)
    assert words in text, text
    if "in place" not in text and "called" not in text and "raised" not in text:
        assert "Smallest failing input found" in text and "expected:" in text and "got:" in text


# --------------------------------------------------------------------------- follow-through


@pytest.mark.parametrize("name, dependency, number", [("no_scaling", "scaled_dot_product_attention", 1),
                                                      ("split_reshape_no_transpose", "split_heads", 2)])
def test_composites_right_given_the_wrong_dependency_keep_their_points(grader, unit, name, dependency, number):
    """multi_head_attention and the module are the reference's composition of the student's own
    (wrong) dependency: they keep their points, and say why."""
    report = grader.cached(f"wrong/{name}")
    full = full_marks(unit)
    for question in ("multi_head_attention", "MultiHeadSelfAttention"):
        assert report.scores()[question] == full[question], feedback(report)
        q = next(q for q in report.questions if q.name == question)
        said = {c.message for c in q.checks}
        assert f"Correct given your `{dependency}`, which is wrong: see question {number}." in said, said


def test_a_composite_wrong_on_its_own_still_loses_its_points(grader, unit):
    """No scaling in attention AND keys from x_q in multi_head_attention: the second bug is not
    excused by the first (the module, which passes x twice, is right given the others)."""
    entry = FILES.load_entry("wrong", "no_scaling")
    entry.functions["multi_head_attention"] = FILES.load_entry("wrong", "kv_from_query").functions[
        "multi_head_attention"]
    report = grader.entry(entry)
    full = full_marks(unit)
    lost = {q for q, score in report.scores().items() if score < full[q]}
    assert lost == {"scaled_dot_product_attention", "multi_head_attention"}, feedback(report)


def test_a_banned_call_inside_a_dependency_that_passes_on_its_own_is_charged(grader, unit):
    """A banned call made inside `scaled_dot_product_attention` costs only its own question
    (wrong/banned_torch_sdpa); but an attention that is honest when graded, and calls the banned
    function only when multi_head_attention asks, does not excuse multi_head_attention."""
    entry = FILES.load_entry("correct", "plain")
    entry.preamble += "\nimport torch.nn.functional as F\n"
    honest = entry.functions["scaled_dot_product_attention"]
    entry.functions["scaled_dot_product_attention"] = honest.replace(
        "def scaled_dot_product_attention(q, k, v, mask=None):",
        "def scaled_dot_product_attention(q, k, v, mask=None, fast=False):\n"
        "    if fast:\n"
        "        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None\n")
    mha = entry.functions["multi_head_attention"]
    assert "mask)" in mha
    entry.functions["multi_head_attention"] = mha.replace("mask)", "mask, fast=True)", 1)
    report = grader.entry(entry)
    assert report.scores()["scaled_dot_product_attention"] == full_marks(unit)["scaled_dot_product_attention"]
    checks = next(q for q in report.questions if q.name == "multi_head_attention").checks
    # every check that reaches the attention fails (the ValueError check is refused before it)
    assert all(not c.passed for c in checks if "ValueError" not in c.name), feedback(report)
    text = message(report, "multi_head_attention")
    assert "torch.nn.functional.scaled_dot_product_attention (through your `scaled_dot_product_attention`)" \
        in text, text


# --------------------------------------------------------------------------- concise feedback


def test_a_failed_check_fits_in_a_screenful(grader):
    """The single missing sqrt(d_k) once gave 509 lines of feedback: now each failed check says
    its smallest input, expected vs. got and the hint in at most MAX_LINES lines."""
    from autograder.feedback import MAX_LINES

    report = grader.cached("wrong/no_scaling")
    failed = [c for q in report.questions for c in q.checks if not c.passed]
    assert failed and all(len(c.message.splitlines()) <= MAX_LINES for c in failed), feedback(report)
    total = sum(len(q.output().splitlines()) for q in report.questions)
    assert total <= len(failed) * (MAX_LINES + 1) + 20, total


def test_large_outputs_are_summarised_not_printed():
    """A failure on large tensors: shapes, dtypes, ranges, the first differing entries and the
    largest difference; never the tensors themselves, and never more than MAX_LINES lines (a
    long traceback loses its middle, not the hint)."""
    import torch

    from autograder import grade as grading
    from autograder.compare import Close
    from autograder.feedback import MAX_LINES, describe_call
    from autograder.spec import Call, Check

    expected = torch.arange(3000.0).reshape(3, 10, 100)
    got = expected.clone()
    got[1, 2, 3:6] += 0.5
    got[2, 9, 99] += 7.0
    mismatch = Close()(expected, got, 1.0)
    call = Call((torch.zeros(40, 50), torch.ones(60, dtype=torch.bool)), names=("x", "mask"))
    message = f"Smallest failing input found:\n{describe_call(call)}\n{grading._explain(mismatch, 'the hint')}"
    lines = message.splitlines()
    assert len(lines) <= 12, message
    assert "values differ by up to 7 at index (2, 9, 99)" in message and "4 of 3000 values differ" in message
    assert "first differing entries: at (1, 2, 3) got 1203.5, expected 1203" in message
    assert "tensor(" not in message and "60 of 60 True" in message
    check = Check("a check", "f", None)
    long = grading._failed(check, "\n".join(f"traceback line {i}" for i in range(200)) + "\nHint: the hint")
    assert len(long.message.splitlines()) <= MAX_LINES and long.message.endswith("Hint: the hint")


def test_grading_twice_gives_identical_results(grader):
    """The same submission graded again (possibly by the other pytest worker, after other
    submissions) gets the same results: scores, messages, shrunk inputs."""
    entry = FILES.load_entry("wrong", "kv_from_query")
    first, second = grader.cached(entry.id), grader.entry(entry)
    assert json.dumps(first.to_gradescope()) == json.dumps(second.to_gradescope())
    assert first.notes == second.notes


# --------------------------------------------------------------------------- hostile


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_submission_gains_nothing(grader, unit, name, leftovers, tmp_path):
    entry = FILES.load_entry("hostile", name)
    report = grader.entry(entry, out_dir=tmp_path)
    assert not leftovers, "processes survived grading"
    base = grader.cached(entry.base)
    assert report.scores() == base.scores(), feedback(report)
    assert_no_secrets(feedback(report))
    path = write_results(report, tmp_path / "out")
    results = json.loads(path.read_text())
    assert [t["name"] for t in results["tests"]] == list(QUESTIONS)
    assert results["score"] == pytest.approx(sum(base.scores().values()))


# --------------------------------------------------------------------------- public checks


def _public_checks():
    public = units.load("attention")
    return [(q.name, check) for q in public.questions for check in q.public]


def _call_public(check, namespace):
    params = inspect.signature(check).parameters
    check(**{p: namespace[p] for p in params})


@pytest.fixture(scope="module")
def reference_module():
    return units.reference("attention")


@pytest.mark.parametrize("question,check", _public_checks(), ids=lambda v: getattr(v, "__name__", v))
def test_public_check_passes_on_the_reference(reference_module, question, check):
    _call_public(check, vars(reference_module))


def _stub_namespace() -> dict:
    """The stub notebook's definitions, executed in-process (our own file: they only raise)."""
    namespace = {"torch": torch, "nn": nn, "math": __import__("math")}
    for cell in FILES.stub_notebook().cells:
        if cell.cell_type == "code" and any(f"def {n}(" in cell.source or f"class {n}(" in cell.source
                                            for n in FILES.functions):
            exec(compile(cell.source, "<stub>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("question,check", _public_checks(), ids=lambda v: getattr(v, "__name__", v))
def test_public_check_says_not_implemented_on_the_stub(question, check):
    with pytest.raises(AssertionError, match="not implemented yet"):
        _call_public(check, _stub_namespace())


# --------------------------------------------------------------------------- the student bundle


def test_student_bundle_has_stubs_and_no_hidden_code():
    """What `python -m autograder build attention` ships to students: the stub notebook, the
    public checks and an Otter test per question, with no line of the reference or the spec."""
    unit = units.load("attention")
    files = build.student_files(unit, PROJECT)
    build.check_no_leaks(unit, files, PROJECT)
    assert {f"tests/{q}.py" for q in QUESTIONS} <= set(files)
    notebook = json.loads(files["attention.ipynb"])
    assert notebook["metadata"]["otter"]["assignment_name"] == "attention"
    sources = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    for name in QUESTIONS:
        index = next(i for i, s in enumerate(sources) if f"def {name}(" in s or f"class {name}(" in s)
        assert "raise NotImplementedError" in sources[index]
        assert sources[index + 2] == f'grader.check("{name}")'
    assert_no_secrets("\n".join(f.decode(errors="replace") for f in files.values()))
