"""The students' local checks (`grader.check`) agree with the hidden grade.

- A banned call is reported by grader.check in the words of the hidden grader, whether the
  banned function is called by name or its work is reached another way (softmax's five
  banned-call entries, two of them seen only at the ATen level); so is a side effect (torch's
  default dtype or grad mode left changed).
- Per unit, the local checks flag at least agreement.FLOOR (90%) of the wrong corpus entries
  (autograder/agreement.py; `make audit` prints the same figure). By default on a sample of
  two entries per unit (`sample`), every one of which must be flagged; the whole corpus,
  about a minute per unit, with AUTOGRADER_SLOW_TESTS=1.
"""

from __future__ import annotations

import os

import pytest

from autograder import agreement, build, units
from autograder.corpus import UnitFiles

SLOW = os.environ.get("AUTOGRADER_SLOW_TESTS") == "1"
BANNED_ENTRIES = ["banned_torch_softmax", "banned_tensor_method", "banned_functional_alias",
                  "banned_aten_operator", "banned_private_entry_point"]
# (unit, wrong entry) whose hidden loss is a side effect: grader.check says what the grader says
SIDE_EFFECT_ENTRIES = [("softmax", "softmax_sets_default_dtype"), ("interp", "lens_grad_mode_off")]


def sample(unit_name: str, size: int = 2) -> list[str]:
    """The default suite's sample of a unit's wrong entries, every one of which the local checks
    must flag: its first `size` entries (in name order) whose question has no CPU-budget check
    (a training run, which a public check cannot repeat in seconds)."""
    spec = units.load(unit_name)
    budgeted = {q.name for q in spec.questions if any(c.cpu_seconds for c in q.checks)}
    files = UnitFiles(unit_name)
    names = [n for n in files.corpus_names("wrong") if not files.load_entry("wrong", n).loses & budgeted]
    return names[:size]


def _grader_check_message(unit, question, env) -> str:
    """What grader.check(question) says, run by Otter on the bundle's test file."""
    from otter.test_files.exception_test import ExceptionTestFile

    units.public_checks(unit.name)  # importable by its top-level name, as the test file imports it
    source = build.student_test_file(question, unit.public_module, unit.banned_for(question))
    test_file = ExceptionTestFile.from_string(source, path=f"tests/{question.name}.py")
    test_file.run(env)
    (result,) = test_file.test_case_results
    assert not result.passed
    return result.message.rsplit("AssertionError: ", 1)[-1].strip()


@pytest.mark.parametrize("name", BANNED_ENTRIES)
def test_grader_check_reports_a_banned_call_as_the_hidden_grader_does(grader, name):
    files = UnitFiles("softmax")
    unit = units.load("softmax")
    entry = files.load_entry("wrong", name)
    env = agreement.namespace_of(files, files.entry_notebook(entry))
    report = grader.cached(f"wrong/{name}")
    for question in (q for q in unit.questions if q.name in entry.loses):
        local = _grader_check_message(unit, question, env)
        assert " called torch." in local, local
        # (the ValueError check's invalid inputs never reach the banned call: it fails otherwise)
        hidden = [c for q in report.questions if q.name == question.name for c in q.checks
                  if "ValueError" not in c.name]
        assert hidden and all(not c.passed and c.message.startswith(local) for c in hidden), (local, hidden)


@pytest.mark.parametrize(("unit_name", "name"), SIDE_EFFECT_ENTRIES)
def test_grader_check_reports_a_side_effect_as_the_hidden_grader_does(grader_for, unit_name, name):
    files = UnitFiles(unit_name)
    unit = units.load(unit_name)
    entry = files.load_entry("wrong", name)
    env = agreement.namespace_of(files, files.entry_notebook(entry))
    report = grader_for(unit_name).cached(f"wrong/{name}")
    (question,) = (q for q in unit.questions if q.name in entry.loses)
    local = _grader_check_message(unit, question, env)
    assert "has a side effect" in local, local
    hidden = [c.message for q in report.questions if q.name == question.name for c in q.checks if not c.passed]
    assert hidden and all(local in message for message in hidden), (local, hidden)


@pytest.mark.parametrize("unit_name", sorted(units.names()))
def test_local_checks_flag_the_sample(unit_name):
    names = sample(unit_name)
    assert names, f"{unit_name} has no wrong entry outside its CPU-budget questions"
    result = agreement.measure(unit_name, names)
    assert not result.missed, agreement.summary(result)


@pytest.mark.skipif(not SLOW, reason="runs every wrong corpus entry's public checks: AUTOGRADER_SLOW_TESTS=1")
@pytest.mark.parametrize("unit_name", sorted(units.names()))
def test_local_checks_flag_most_wrong_entries(unit_name):
    result = agreement.measure(unit_name)
    assert result.share is not None and result.share >= agreement.FLOOR, agreement.summary(result)


def test_a_persistent_mask_buffer_is_named_with_the_fix():
    """nanoGPT's register_buffer mask breaks strict loading: the GPT check says which key and how to fix it."""
    import torch

    gpt_public = units.public_checks("gpt")

    reference = units.reference("gpt")

    class MaskedAttention(reference.CausalSelfAttention):
        def __init__(self, config):
            super().__init__(config)
            self.register_buffer("bias", torch.ones(config.n_ctx, config.n_ctx).tril())

    class Block(reference.Block):
        def __init__(self, config):
            super().__init__(config)
            self.attn = MaskedAttention(config)

    class GPT(reference.GPT):
        def __init__(self, config):
            super().__init__(config)
            self.blocks = torch.nn.ModuleList([Block(config) for _ in range(config.n_layers)])

    with pytest.raises(AssertionError) as failure:
        gpt_public.state_dict_keys_are_fixed(GPTConfig=reference.GPTConfig, GPT=GPT)
    assert "blocks.0.attn.bias" in str(failure.value) and "persistent=False" in str(failure.value)
    gpt_public.state_dict_keys_are_fixed(GPTConfig=reference.GPTConfig, GPT=reference.GPT)  # the fix's baseline
    assert set(reference.GPT(reference.GPTConfig(**gpt_public.SMALL)).state_dict()) == \
        set(gpt_public.state_dict_keys(gpt_public.SMALL["n_layers"]))


def test_a_training_loop_that_never_ends_is_stopped(monkeypatch):
    """gpt's train_sorter check stops a loop that ignores `steps` (wrong/training_never_ends) and
    says so, instead of hanging the student's kernel."""
    import time

    gpt_public = units.public_checks("gpt")

    monkeypatch.setattr(gpt_public, "TRAIN_CHECK_SECONDS", 0.5)

    def train_sorter(steps=600, seed=0, length=6, digits=10):
        end = time.monotonic() + 30  # (bounded, so that a broken stop fails the test, not hangs it)
        while time.monotonic() < end:
            pass
        return None, []

    with pytest.raises(AssertionError, match=r"still running after 0.5 s: does it stop after `steps` steps"):
        gpt_public.train_sorter_returns_model_and_losses(train_sorter=train_sorter, GPTConfig=None, GPT=None)
