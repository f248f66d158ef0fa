"""What is specific to the gpt unit (tests/test_units.py grades its reference, stub and corpus
like every unit's).

Training is the expensive part (the reference's `train_sorter` takes ~15 s of CPU time), so the
corpus tests (conftest.Grader.for_entry) grade the reference and the stub with the full unit,
every entry about training (LOSES {train_sorter}, and every hostile entry: each replaces only
correct/plain's train_sorter and ATTACKS it) on the training question alone (the ones that would
run into the 60 s budget declare CPU_SECONDS = 4), and every other entry without the training
question. Here, from the same cached reports: the reference's training message, follow-through,
the training feedback and its partial credit, training determinism, the notebook's training
demo, and the public checks catching classic bugs.

The full-length training run of the reference, timed, is in `make bench` (autograder/bench.py).
"""

from __future__ import annotations

import math

import pytest
import torch

from autograder import notebook, units
from autograder.units import gpt as spec

from conftest import UnitFiles, feedback, full_marks

public = units.public_checks("gpt")

torch.set_num_threads(1)  # as in the sandbox; several threads on a loaded 2-core machine crawl

UNIT = "gpt"  # the unit of conftest's fixtures (unit, reference, grader)
FILES = UnitFiles(UNIT)
TRAIN = "train_sorter"
TEST_BUDGET = 4  # CPU seconds: the CPU_SECONDS of the entries that would otherwise use the whole budget



def report_of(grader, spec_name: str):
    """(report, unit it was graded with) of a corpus entry, as the corpus tests grade it."""
    variant = grader.for_entry(FILES.load_entry(*spec_name.split("/")))
    return variant.cached(spec_name), variant.unit


def message(report, question: str) -> str:
    q = next(q for q in report.questions if q.name == question)
    return "\n".join(c.message for c in q.checks if not c.passed)


def message_all(report, question: str) -> str:
    q = next(q for q in report.questions if q.name == question)
    return "\n".join(c.message for c in q.checks)


def test_reference_trains_on_the_drawn_task(grader):
    assert "of 2000 fresh sequences of the task train_sorter(length=" in message_all(grader.cached("reference"), TRAIN)


@pytest.mark.parametrize("name, dependency, number, questions", [
    ("ln_unbiased_variance", "layer_norm", 1, ("GPT",)),  # the model's LayerNorms call layer_norm
    ("gelu_tanh", "gelu", 2, ("GPT",)),
    ("attention_scaled_by_d_model", "GPT", 4, ("generate",)),  # generate runs the student's GPT
])
def test_composites_right_given_the_wrong_dependency_keep_their_points(grader, name, dependency, number,
                                                                       questions):
    report, unit = report_of(grader, f"wrong/{name}")
    full = full_marks(unit)
    for question in questions:
        assert report.scores()[question] == full[question], feedback(report)
        said = "\n".join(c.message for q in report.questions if q.name == question for c in q.checks)
        assert f"Correct given your `{dependency}`, which is wrong: see question {number}." in said, said


def test_training_names_the_wrong_gpt_it_builds_on(grader):
    """train_sorter opts out of follow-through (its model is judged in the reference GPT): with a
    wrong GPT it loses its points, and says which question must pass first (graded with the
    whole unit, training included)."""
    report = grader.cached("wrong/forward_hardcodes_sorting")
    full = full_marks(grader.unit)
    assert {q for q, score in report.scores().items() if score < full[q]} == {"GPT", TRAIN}, feedback(report)
    text = message(report, TRAIN)
    assert "builds on your `GPT`, which is wrong: see question 4" in text, text


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
def test_training_feedback_says_what_happened(grader, spec_name):
    report, _ = report_of(grader, spec_name)
    assert TRAINING_FEEDBACK[spec_name] in message(report, TRAIN), feedback(report)


def test_partial_credit_follows_the_stated_scale(grader):
    report, _ = report_of(grader, "wrong/train_too_short")
    text = message(report, TRAIN)
    accuracy = float(text.split("sorts ")[1].split("%")[0]) / 100
    assert 0.5 <= accuracy < 0.99
    assert report.scores()[TRAIN] == 4 * spec.credit(accuracy) > 0
    assert [spec.credit(a) for a in (1.0, 0.99, 0.985, 0.95, 0.9, 0.8, 0.6, 0.5, 0.49, 0.0)] == \
        [1, 1, 0.75, 0.75, 0.5, 0.5, 0.25, 0.25, 0, 0]


def test_grading_is_deterministic_training_included(grader):
    """The same submission graded twice gives the same report (its training diverges at the same
    step). What the notebook printed is the student's own output and may be random."""
    entry = FILES.load_entry("wrong", "train_nan_loss")
    first, _ = report_of(grader, entry.id)
    again = grader.for_entry(entry).entry(entry)
    assert "at step" in message(again, TRAIN)
    assert {**again.to_dict(), "printed": ""} == {**first.to_dict(), "printed": ""}


# --------------------------------------------------------------------------- the notebook


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
