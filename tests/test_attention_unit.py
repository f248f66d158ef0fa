"""What is specific to the attention unit (tests/test_units.py grades its reference, stub and
corpus like every unit's): the feedback naming each classic bug, follow-through marking of
the composites, a banned call made inside a dependency, and concise feedback.
"""

from __future__ import annotations


import pytest
import torch

from conftest import UnitFiles, feedback, full_marks

UNIT = "attention"  # the unit of conftest's fixtures (unit, reference, grader)
FILES = UnitFiles(UNIT)



def message(report, question: str, check_words: str = "") -> str:
    """The first failed check's message of `question` (whose name contains `check_words`)."""
    q = next(q for q in report.questions if q.name == question)
    return next(c.message for c in q.checks if not c.passed and check_words in c.name)


# --------------------------------------------------------------------------- feedback


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
    from autograder.verdict import Verdict

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
    long = grading.failed(check, Verdict.wrong("\n".join(f"traceback line {i}" for i in range(200)) + "\nHint: the hint"))
    assert len(long.message.splitlines()) <= MAX_LINES and long.message.endswith("Hint: the hint")
