"""The gpt unit graded end to end: reference, stub, and the corpora of tests/corpus/gpt/.

Training is the expensive part (the reference's `train_sorter` takes ~15 s of CPU time), so:

* the reference is graded with the full unit, training included: it must reach >= 99% on
  fresh data (full marks, 18/18);
* forward_hardcodes_sorting (a bug in GPT) is also graded with the full unit: the training
  question, which does not follow through, must then name `GPT` as the question to fix first;
* every other entry about training (LOSES is {train_sorter}, and every hostile entry: each
  replaces only correct/plain's train_sorter) is graded on the training question alone: its
  training is short or stops early, and the ones that would run into the 60 s budget get a
  4 s budget here (TEST_BUDGET);
* every other entry (a bug in a function or a module; the correct variants) is graded with
  the unit minus its training question: its LOSES is one of the other five questions.

The full-length training run of the reference, timed, is in `make bench` (autograder/bench.py).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import math

import nbformat
import pytest
import torch

from autograder import notebook, units
from autograder.units import gpt as spec
from autograder.units import gpt_public as public

from conftest import PROJECT, Grader, UnitFiles

torch.set_num_threads(1)  # as in the sandbox; several threads on a loaded 2-core machine crawl

FILES = UnitFiles("gpt")
WRONG, CORRECT, HOSTILE = FILES.corpus_names("wrong"), FILES.corpus_names("correct"), FILES.corpus_names("hostile")
QUESTIONS = FILES.questions
TRAIN = "train_sorter"
TEST_BUDGET = 4  # CPU seconds, for the entries that would otherwise use the whole budget
OVER_BUDGET = {"wrong/training_never_ends", "hostile/raises_its_cpu_limit", "hostile/train_in_forked_child"}
FULL_UNIT: set[str] = set()


def only_training(entry) -> bool:
    return entry.id not in FULL_UNIT and (entry.kind == "hostile" or entry.loses == {TRAIN})


@pytest.fixture(scope="module")
def grader(grader_for):
    return grader_for("gpt")


@pytest.fixture(scope="module")
def unit(grader):
    return grader.unit


def _variant(grader, folder, keep, budget=None) -> Grader:
    """The unit with the questions `keep(name)` selects (and a training budget), its own cache."""
    questions = tuple(
        dataclasses.replace(q, checks=tuple(dataclasses.replace(c, cpu_seconds=budget) for c in q.checks))
        if budget and q.name == TRAIN else q for q in grader.unit.questions if keep(q.name))
    shared = grader.shared / folder  # its own cache of reports: they differ from the full unit's
    shared.mkdir(exist_ok=True)
    return Grader(dataclasses.replace(grader.unit, questions=questions), grader.reference, grader.tmp, shared, FILES)


@pytest.fixture(scope="module")
def graders(grader):
    return {
        "full": grader,
        "no-training": _variant(grader, "gpt-no-training", lambda q: q != TRAIN),
        "training": _variant(grader, "gpt-training", lambda q: q == TRAIN),
        "training-small-budget": _variant(grader, "gpt-training-small-budget", lambda q: q == TRAIN, TEST_BUDGET),
    }


def report_of(entry, graders):
    """(report, unit it was graded with) of a corpus entry, graded once per session."""
    if entry.id in OVER_BUDGET:
        which = "training-small-budget"
    elif only_training(entry):
        which = "training"
    else:
        which = "full" if entry.id in FULL_UNIT else "no-training"
    return graders[which].cached(entry.id), graders[which].unit


def full_marks(unit) -> dict[str, float]:
    return {q.name: q.points for q in unit.questions}


def feedback(report) -> str:
    return json.dumps(report.to_gradescope(), indent=1) + "\n" + "\n".join(report.notes)


def message(report, question: str) -> str:
    q = next(q for q in report.questions if q.name == question)
    return "\n".join(c.message for c in q.checks if not c.passed)


def secret_lines() -> list[str]:
    """Code lines of the reference and the hidden spec (not docstrings) that must never reach a
    student."""
    stub = FILES.stub.read_text()
    public_text = (PROJECT / "autograder" / "units" / "gpt_public.py").read_text()
    lines = set()
    for path in (FILES.reference, PROJECT / "autograder" / "units" / "gpt.py"):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef):
                body = node.body[1:] if ast.get_docstring(node) else node.body
                for stmt in body:
                    for line in ast.get_source_segment(source, stmt).splitlines():
                        line = line.strip()
                        if len(line) >= 30 and not line.startswith(("#", "raise ValueError", "f\"", "\"", "return 0.0")) \
                                and json.dumps(line)[1:-1] not in stub and line not in public_text:
                            lines.add(line)
    assert len(lines) >= 20
    return sorted(lines)


SECRETS = secret_lines()


def assert_no_secrets(text: str) -> None:
    leaked = [line for line in SECRETS if line in text]
    assert not leaked, f"hidden source reached the student: {leaked[:3]}"


# --------------------------------------------------------------------------- reference and stub


def test_corpus_is_big_enough():
    assert len(WRONG) >= 12 and len(CORRECT) >= 3 and len(HOSTILE) >= 2
    every_question = set().union(*(FILES.load_entry("wrong", n).loses for n in WRONG))
    assert every_question == set(QUESTIONS), "some question has no wrong submission"


@pytest.fixture(scope="module")
def reference_report(grader):
    return grader.cached("reference")


def test_reference_trains_to_full_marks(reference_report, unit):
    report = reference_report
    assert report.status == "ok", report.notes
    assert report.scores() == full_marks(unit), feedback(report)
    assert report.score == report.max_score == 19.5
    assert not report.notes, report.notes  # every cell ran (the training demo is otter_ignore'd)
    assert "of 2000 fresh sequences of the task train_sorter(length=" in message_all(report, TRAIN)
    assert_no_secrets(feedback(report))


def message_all(report, question: str) -> str:
    q = next(q for q in report.questions if q.name == question)
    return "\n".join(c.message for c in q.checks)


def test_untouched_stub_scores_zero_with_a_message_per_question(grader, unit):
    report = grader.cached("stub")
    assert report.score == 0 and report.max_score == 19.5
    assert [q.name for q in report.questions] == list(QUESTIONS)
    for question in report.questions:
        for check in question.checks:
            assert "not implemented" in check.message, (question.name, check.message)
    assert not report.notes, "the stub's own cells must run without errors"


# --------------------------------------------------------------------------- the corpus


@pytest.mark.parametrize("name", WRONG)
def test_wrong_submission_loses_points_only_where_declared(graders, name):
    entry = FILES.load_entry("wrong", name)
    report, unit = report_of(entry, graders)
    assert report.status == "ok", report.notes
    assert not FILES.lost_and_hint(entry, report, full_marks(unit)), feedback(report)
    for question in report.questions:
        for check in question.checks:
            assert check.passed or check.message.strip(), (question.name, check.name)
    assert_no_secrets(feedback(report))


@pytest.mark.parametrize("name, dependency, number, questions", [
    ("ln_unbiased_variance", "layer_norm", 1, ("GPT",)),  # the model's LayerNorms call layer_norm
    ("gelu_tanh", "gelu", 2, ("GPT",)),
    ("attention_scaled_by_d_model", "GPT", 4, ("generate",)),  # generate runs the student's GPT
])
def test_composites_right_given_the_wrong_dependency_keep_their_points(graders, name, dependency, number,
                                                                       questions):
    report, unit = report_of(FILES.load_entry("wrong", name), graders)
    full = full_marks(unit)
    for question in questions:
        assert report.scores()[question] == full[question], feedback(report)
        said = "\n".join(c.message for q in report.questions if q.name == question for c in q.checks)
        assert f"Correct given your `{dependency}`, which is wrong: see question {number}." in said, said


def test_training_names_the_wrong_gpt_it_builds_on(graders):
    """train_sorter opts out of follow-through (its model is judged in the reference GPT): with a
    wrong GPT it loses its points, and says which question must pass first."""
    report = graders["full"].cached("wrong/forward_hardcodes_sorting")
    full = full_marks(graders["full"].unit)
    assert {q for q, score in report.scores().items() if score < full[q]} == {"GPT", TRAIN}, feedback(report)
    text = message(report, TRAIN)
    assert "builds on your `GPT`, which is wrong: see question 4" in text, text


@pytest.mark.parametrize("name", CORRECT)
def test_correct_variant_scores_full_marks(graders, name):
    entry = FILES.load_entry("correct", name)
    report, unit = report_of(entry, graders)
    assert report.status == "ok", report.notes
    assert report.scores() == full_marks(unit), feedback(report)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_training_scores_zero_with_a_message(graders, name):
    """(Each hostile entry replaces only train_sorter of correct/plain, which scores full marks.)"""
    entry = FILES.load_entry("hostile", name)
    report, unit = report_of(entry, graders)
    assert report.scores() == {TRAIN: 0}, feedback(report)
    assert message(report, TRAIN).strip()
    assert_no_secrets(feedback(report))


# Which words the training question's feedback must contain.
TRAINING_FEEDBACK = {
    "wrong/train_too_short": "sorts 8",
    "wrong/train_nan_loss": "training diverged: the loss is nan",
    "wrong/training_never_ends": f"budget of {TEST_BUDGET} s of CPU time",
    "wrong/train_wrong_sizes": "does not fit GPT(GPTConfig(**sort_sizes(",
    "wrong/train_returns_hardcoded_sorter": "sorts 0.0%",
    "hostile/raises_its_cpu_limit": f"more than its budget of {TEST_BUDGET} s",
    "hostile/fake_state_dict": "state_dict holds something other than tensors",
    "hostile/exit_in_training": "exited (status 3)",
    "hostile/train_in_forked_child": f"more than its budget of {TEST_BUDGET} s of CPU time",
    "hostile/pretrained_weights": "does not fit GPT(GPTConfig(**sort_sizes(",
    "hostile/forked_child_answers": "stopped while answering a graded call",
}


@pytest.mark.parametrize("spec_name", sorted(TRAINING_FEEDBACK))
def test_training_feedback_says_what_happened(graders, spec_name):
    entry = FILES.load_entry(*spec_name.split("/"))
    report, _ = report_of(entry, graders)
    assert TRAINING_FEEDBACK[spec_name] in message(report, TRAIN), feedback(report)


def test_partial_credit_follows_the_stated_scale(graders):
    report, _ = report_of(FILES.load_entry("wrong", "train_too_short"), graders)
    text = message(report, TRAIN)
    accuracy = float(text.split("sorts ")[1].split("%")[0]) / 100
    assert 0.5 <= accuracy < 0.99
    assert report.scores()[TRAIN] == 4 * spec.credit(accuracy) > 0
    assert [spec.credit(a) for a in (1.0, 0.99, 0.985, 0.95, 0.9, 0.8, 0.6, 0.5, 0.49, 0.0)] == \
        [1, 1, 0.75, 0.75, 0.5, 0.5, 0.25, 0.25, 0, 0]


def test_grading_is_deterministic_training_included(graders):
    """The same submission graded twice gives the same report (its training diverges at the same
    step). What the notebook printed is the student's own output and may be random."""
    entry = FILES.load_entry("wrong", "train_nan_loss")
    first, _ = report_of(entry, graders)
    again = graders["training"].entry(entry)
    assert "at step" in message(again, TRAIN)
    assert {**again.to_dict(), "printed": ""} == {**first.to_dict(), "printed": ""}


# --------------------------------------------------------------------------- the notebook


def test_notebook_is_generated_from_the_reference_and_the_public_task():
    import importlib.util

    spec_ = importlib.util.spec_from_file_location("make_gpt_notebook", PROJECT / "assignments/gpt/make_notebook.py")
    module = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(module)
    built = nbformat.writes(module.build())
    assert built.strip() == FILES.stub.read_text().strip(), "regenerate: python assignments/gpt/make_notebook.py"


def test_training_demo_is_skipped_when_grading_and_plots_the_loss():
    nb = FILES.stub_notebook()
    demo = [c for c in nb.cells if c.cell_type == "code" and "plt.plot(losses)" in c.source]
    assert len(demo) == 1 and demo[0].metadata.get("tags") == ["otter_ignore"]
    assert "sorter, losses = train_sorter()" in demo[0].source
    submission = notebook.load(FILES.stub, "gpt")
    assert "plt.plot(losses)" not in "\n".join(submission.cells)
    assert f"{spec.TRAIN_CPU_SECONDS} s of CPU time" in FILES.stub.read_text()


# --------------------------------------------------------------------------- public checks


def _module_of(entry):
    """Corpus code as a module, with the notebook's task code (trusted code: our corpus)."""
    namespace = {"__name__": f"corpus_{entry.name}"}
    exec(compile(entry.preamble + "\n\n" + "\n\n".join(entry.functions.values()), entry.id, "exec",
                 dont_inherit=True), namespace)
    return _with_task(namespace)


def _with_task(namespace):
    for name in ("SORT_LENGTH", "SORT_DIGITS", "SORT_SIZES", "sort_sizes", "sort_batch"):
        namespace[name] = getattr(public, name)
    namespace["SORT_CONFIG"] = namespace["GPTConfig"](**public.SORT_SIZES)
    return namespace


def _public_checks():
    return [(q, check) for q, checks in public.CHECKS.items() for check in checks]


def _args(check, namespace):
    import inspect

    return {p: namespace.get(p) for p in inspect.signature(check).parameters}


@pytest.fixture(scope="module")
def reference_namespace():
    ref = units.reference("gpt")
    return _with_task(vars(ref))


@pytest.mark.parametrize("question,check", _public_checks(), ids=lambda v: getattr(v, "__name__", v))
def test_public_check_passes_on_the_reference(reference_namespace, question, check):
    torch.manual_seed(0)
    check(**_args(check, reference_namespace))


@pytest.mark.parametrize("question,check", _public_checks(), ids=lambda v: getattr(v, "__name__", v))
def test_public_check_fails_on_the_stub_with_a_message(question, check):
    namespace = {"__name__": "stub", "dataclass": dataclasses.dataclass, "torch": torch, "nn": torch.nn,
                 "math": math}
    for cell in FILES.stub_notebook().cells:
        if cell.cell_type == "code" and "grader" not in cell.source and "try:" not in cell.source \
                and "SORT_CONFIG" not in cell.source and "otter_ignore" not in cell.metadata.get("tags", []):
            exec(compile(cell.source, "stub", "exec", dont_inherit=True), namespace)
    with pytest.raises(AssertionError, match="not implemented|not defined"):
        check(**_args(check, namespace))


# a public check that catches each of these classic bugs without the reference
PUBLIC_CATCHES = {
    "ln_unbiased_variance": "layer_norm_rows_are_standardised",
    "ln_missing_affine": "layer_norm_applies_weight_and_bias",
    "gelu_tanh": "gelu_worked_examples",
    "ce_sum": "cross_entropy_worked_example",
    "ce_ignores_ignore_index": "ignored_positions_do_not_matter",
    "non_causal": "model_is_causal",
    "tied_lm_head": "state_dict_keys_are_fixed",
    "generate_no_crop": "generate_crops_the_context",
    "missing_residual": "tiny_gpt_overfits_one_batch",
}


@pytest.mark.parametrize("name", sorted(PUBLIC_CATCHES))
def test_public_checks_catch_classic_bugs(name):
    namespace = _module_of(FILES.load_entry("wrong", name))
    check = next(c for _, c in _public_checks() if c.__name__ == PUBLIC_CATCHES[name])
    torch.manual_seed(0)
    with pytest.raises(AssertionError):
        check(**_args(check, namespace))


def test_sort_batch_is_the_minGPT_task():
    inputs, targets = public.sort_batch(5, torch.Generator().manual_seed(0))
    assert inputs.shape == targets.shape == (5, 2 * public.SORT_LENGTH - 1)
    digits = inputs[:, :public.SORT_LENGTH]
    assert torch.equal(targets[:, public.SORT_LENGTH - 1:], digits.sort(dim=1).values)
    assert (targets[:, :public.SORT_LENGTH - 1] == -100).all()
    assert math.isclose(spec.EVAL_SEQUENCES, 2000)


def test_student_bundle_has_stubs_and_no_hidden_code():
    """What `python -m autograder build gpt` ships to students passes the leak check (the task's
    code comes from the public module, the stubs carry only signatures and docstrings)."""
    from autograder import build

    unit = units.load("gpt")
    files = build.student_files(unit, PROJECT)
    build.check_no_leaks(unit, files, PROJECT)
    assert {f"tests/{q}.py" for q in QUESTIONS} <= set(files)
    notebook_json = json.loads(files["gpt.ipynb"])
    assert notebook_json["metadata"]["otter"]["assignment_name"] == "gpt"
    assert_no_secrets("\n".join(f.decode(errors="replace") for f in files.values()))
