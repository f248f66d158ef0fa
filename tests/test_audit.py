"""The mutation audit: its operators, its verdicts on a weak spec, and every unit's floor.

Grading is the expensive part, so the graded tests use small fixed sets of mutants: the weak
spec test five mutants of the softmax reference, each floor test the unit's fixed sample
(audit.floor_sample). The operators are tested on tiny sources, without grading.
"""

from __future__ import annotations

import dataclasses
import textwrap

import pytest
import torch
from hypothesis import strategies as st

from autograder import audit, mutate, units
from autograder.__main__ import main

# --------------------------------------------------------------------------- operators


def afters(source: str, operator: str) -> set[str]:
    """The edited lines that `operator` makes of a tiny function body (`dim` and `eps` have
    defaults, for the default-value operator)."""
    code = ("import math\nimport torch\n\ndef f(x, y, m, n, dim=-1, eps=1e-5):\n"
            + textwrap.indent(textwrap.dedent(source), "    "))
    return {m.after for m in mutate.mutants_of(code) if m.operator == operator}


@pytest.mark.parametrize("operator, source, expected", [
    ("arith", "return x + y", {"return x - y"}),
    ("arith", "return x / y", {"return x * y"}),
    ("arith", "return x @ y", {"return x * y"}),
    ("compare", "return x < y", {"return x <= y"}),
    ("compare", "return x >= y", {"return x > y"}),
    ("compare", "return x == 0", {"return x != 0"}),
    ("constant", "return x + 1e-5", {"return x + 0.0001", "return x + 1e-06"}),
    ("constant", "return -2.0 * x", {"return -1.0 * x", "return -3.0 * x"}),
    ("constant", "return 10000.0 ** x", {"return 100000.0 ** x", "return 1000.0 ** x"}),
    ("constant", "return x[-1]", {"return x[0]", "return x[-2]"}),
    ("constant", "return x * 2", {"return x * 3", "return x * 1"}),
    ("dim", "return x.sum(dim=-1)", {"return x.sum(dim=0)", "return x.sum(dim=-2)"}),
    ("dim", "return x.amax(dim=dim)", {"return x.amax(dim=-1)", "return x.amax(dim=0)"}),
    ("dim", "return x.unsqueeze(1)", {"return x.unsqueeze(2)", "return x.unsqueeze(0)"}),
    ("keepdim", "return x.sum(dim, keepdim=True)", {"return x.sum(dim, keepdim=False)"}),
    ("reshape", "return x.transpose(-2, -1)", {"return x"}),
    ("reshape", "return x.reshape(n, -1).permute(1, 0)", {"return x.reshape(n, -1)", "return x.permute(1, 0)"}),
    ("reshape", "return x.mT", {"return x"}),
    ("swap-args", "return x.permute(0, 2, 1)", {"return x.permute(2, 0, 1)", "return x.permute(0, 1, 2)"}),
    ("drop-term", "return x + y", {"return x", "return y"}),
    ("drop-term", "return x / math.sqrt(n)", {"return x"}),
    ("unwrap", "return torch.sqrt(x)", {"return x"}),
    ("unwrap", "return x.exp()", {"return x"}),
    ("swap-args", "return torch.matmul(x, y)", {"return torch.matmul(y, x)"}),
    ("swap-args", "return x - y", {"return y - x"}),
    ("mask", "return x.masked_fill(m, 0.0)", {"return x.masked_fill(~m, 0.0)"}),
    ("mask", "return torch.where(m, x, y)", {"return torch.where(~m, x, y)"}),
    ("sign", "return x.masked_fill(~m, 0.0)", {"return x.masked_fill(m, 0.0)"}),
    ("slice", "return x[..., 0::2]", {"return x[..., 1::2]", "return x[..., -1::2]", "return x[..., 0:-1:2]"}),
    ("slice", "return x[:, :n]", {"return x[1:, :n]", "return x[:-1, :n]", "return x[:, 1:n]",
                                      "return x[:, :n + 1]", "return x[:, :n - 1]"}),
    ("sibling", "return torch.sin(x)", {"return torch.cos(x)"}),
    ("special-float", 'return x.masked_fill(m, float("-inf"))', {"return x.masked_fill(m, float('inf'))"}),
    ("drop-statement", "x = x - x.amax()\nreturn x", {"pass"}),
    ("drop-kwarg", "return g(x, eps=n, dim=dim)", {"return g(x, dim=dim)", "return g(x, eps=n)"}),
    ("drop-arg", "return g(x, y, n)", {"return g(x, y)"}),
    ("drop-raise", "if n < 0:\n    raise ValueError('n')\nreturn x", {"pass"}),
    ("drop-call", "h = x.register_forward_hook(y)\nh.remove()\nreturn x", {"pass"}),
    ("default-value", "return g(x, dim)", {"return g(x, -1)"}),
    ("default-value", "return g(x, eps=m.eps)", {"return g(x, eps=1e-05)"}),
    ("inplace", "return x.masked_fill(m, 0.0)", {"return x.masked_fill_(m, 0.0)"}),
    ("inplace", "x.mul_(2)\nreturn x", {"x.mul(2)"}),
    ("inplace", "x = x - y\nreturn x", {"x -= y"}),
])
def test_each_operator_makes_the_expected_mutant(operator, source, expected):
    assert afters(source, operator) == expected


def test_docstrings_messages_and_argument_names_are_left_alone():
    code = textwrap.dedent('''
        def f(x, n=2):
            """Scale by 2."""
            if x is None:
                raise ValueError(f"x must be a tensor, got {x!r} (n={n + 1})")
            return check(x, "x")
    ''')
    found = mutate.mutants_of(code)
    assert found, "the condition and the call are still mutated"
    # the whole check may go (drop-raise), but its message is never edited
    assert all("Scale" not in m.before and "must be" not in m.before for m in found if m.operator != "drop-raise")
    assert all("must be" not in m.after for m in found)
    assert not [m for m in found if m.operator == "swap-args"]  # ("x", x) is a name, not a bug


def test_every_mutant_is_a_valid_distinct_program_with_a_one_line_diff():
    source = (units.ROOT / "solutions" / "positional.py").read_text()
    found = mutate.mutants_of(source)
    assert len({m.source for m in found}) == len(found) and source not in {m.source for m in found}
    for m in found:
        compile(m.source, "mutant", "exec")
        assert "\n" not in m.diff() and m.function in m.diff()
        assert m.before in source.replace("\n", " ") or m.before.split("  #")[0] in " ".join(source.split())


def test_methods_are_named_by_their_class_and_sampling_is_deterministic_and_capped():
    source = (units.ROOT / "solutions" / "attention.py").read_text()
    found = mutate.mutants_of(source)
    assert "MultiHeadSelfAttention.forward" in {m.function for m in found}
    first, again = mutate.sample(found, 3, "attention"), mutate.sample(mutate.mutants_of(source), 3, "attention")
    assert [m.key for m in first] == [m.key for m in again]
    counts: dict[str, int] = {}
    for m in first:
        counts[m.function] = counts.get(m.function, 0) + 1
    assert max(counts.values()) == 3


def test_only_questions_that_reach_the_edit_are_graded():
    unit = units.load("attention")
    import ast

    tree = ast.parse((units.ROOT / "solutions" / "attention.py").read_text())
    assert audit.questions_reaching(unit, tree, "merge_heads") == tuple(
        q.name for q in unit.questions if {"merge_heads", "multi_head_attention", "MultiHeadSelfAttention"}
        & set(q.functions))
    assert "scaled_dot_product_attention" not in audit.questions_reaching(unit, tree, "MultiHeadSelfAttention.forward")


# --------------------------------------------------------------------------- reports and CLI


def test_reports_list_survivors_as_diffs_and_leave_equivalent_mutants_out_of_the_score(tmp_path):
    code = "def f(x):\n    return x + 1\n"
    a, b, c = mutate.mutants_of(code)[:3]
    result = audit.Audit("toy", [audit.Outcome(a, "killed", ("q",), ("q",)),
                                 audit.Outcome(b, "survived", ("q",), ("q",), "q: check\nSmallest failing input"),
                                 audit.Outcome(c, "equivalent", ("q",))], generated=3, cap=None, factor=4, floor=0.9)
    assert result.score == 0.5 and result.below_floor
    markdown, page = audit.to_markdown(result), audit.to_html(result)
    assert "**50.0%**" in markdown and b.diff() in markdown and "BELOW THE FLOOR" in markdown
    assert "Probably equivalent (1)" in markdown and c.diff() in markdown
    assert "<html" in page and "Smallest failing input" in page
    paths = audit.write_reports(result, tmp_path)
    assert [p.name for p in paths] == ["toy.md", "toy.html", "toy.json"]
    # the kill rate of each operator: killed / (killed + survived), equivalent mutants apart
    rates = audit.per_operator(result)
    assert sum(map(sum, rates.values())) == 3
    line = audit.operator_line(result)
    for op, (killed, survived, equivalent) in rates.items():
        assert f"{op} {killed}/{killed + survived}" in line and f"| {op} | {killed} | {survived} |" in markdown


def test_audit_command_has_help_and_refuses_unknown_units(capsys):
    with pytest.raises(SystemExit) as exit_help:
        main(["audit", "--help"])
    assert exit_help.value.code == 0 and "probably equivalent" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_unknown:
        main(["audit", "nonsense"])
    assert exit_unknown.value.code == 2 and "unknown unit" in capsys.readouterr().err


# --------------------------------------------------------------------------- graded


def weak(unit):
    """One fixed input per question: its first check, on its first explicit example only."""
    questions = []
    for question in unit.questions:
        check = question.checks[0]
        fixed = dataclasses.replace(check, inputs=st.just(check.examples[0].call), examples=(), max_examples=1)
        questions.append(dataclasses.replace(question, checks=(fixed,)))
    return dataclasses.replace(unit, questions=tuple(questions))


def pick(found, function, operator, before, after):
    return next(m for m in found if m.function == function and m.operator == operator
                and before in m.before and after in m.after)


def test_a_weak_spec_scores_low_and_its_survivors_are_killed_by_the_full_spec(host):
    torch.manual_seed(0)
    unit = units.load("softmax")
    found = mutate.mutants_of((units.ROOT / "solutions" / "softmax.py").read_text())
    mutants = [
        pick(found, "softmax", "drop-statement", "z = z - z.amax", "pass"),  # no max subtraction: overflow
        pick(found, "masked_softmax", "drop-statement", "m = m.masked_fill", "pass"),  # NaN in fully masked rows
        pick(found, "causal_mask", "drop-term", "", "return j <= i "),  # top-left aligned when Lq != Lk
        pick(found, "softmax", "arith", "", "out = e * e.sum"),  # caught by any input
        pick(found, "causal_mask", "compare", "", "return j < i"),  # no diagonal: caught by any input
    ]
    # battery = the full spec at its own strength: a survivor is a mutant the full spec kills
    result = audit.audit_unit("softmax", unit=weak(unit), battery_unit=unit, factor=1, mutants=mutants,
                              check_reference=False)
    verdicts = {o.mutant.diff(): o.verdict for o in result.outcomes}
    assert list(verdicts.values()) == ["survived", "survived", "survived", "killed", "killed"], verdicts
    assert result.score == 2 / 5
    report = audit.to_markdown(result)
    for outcome in result.outcomes[:3]:
        assert outcome.lost and "Smallest failing input" in outcome.detail  # the Example to add
        assert outcome.mutant.diff() in report


@pytest.mark.parametrize("unit_name", units.names())
def test_each_unit_meets_its_mutation_floor_on_a_fixed_sample(host, unit_name):
    torch.manual_seed(0)
    unit = units.load(unit_name)
    assert unit.mutation_floor is not None, f"{unit_name}'s spec declares no mutation_floor"
    sample = audit.floor_sample(unit, (units.ROOT / "solutions" / f"{unit_name}.py").read_text())
    result = audit.audit_unit(unit_name, mutants=sample, check_reference=False)
    assert result.score is not None, "every sampled mutant is equivalent: the sample tests nothing"
    survivors = "\n".join(o.mutant.diff() for o in result.outcomes if o.verdict == "survived")
    assert not result.below_floor, f"{unit_name}: {result.score:.0%} < floor {unit.mutation_floor:.0%}:\n{survivors}"
