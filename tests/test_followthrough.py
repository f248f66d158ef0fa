"""Follow-through marking's dependencies (autograder/followthrough.py), found without grading.

Each unit's composite questions build on the earlier questions' functions found in the
reference's code (or declared in the spec); the graded behaviour is tested per unit
(tests/test_units.py: a bug costs only its own question; tests/test_<unit>_unit.py: the composites say
"correct given your `X`").
"""

from __future__ import annotations

import pytest

from autograder import followthrough, units

EXPECTED = {
    "attention": {"multi_head_attention": ("scaled_dot_product_attention", "split_heads", "merge_heads"),
                  "MultiHeadSelfAttention": ("multi_head_attention",)},
    "gpt": {"GPT": ("layer_norm", "gelu"), "generate": ("GPT",), "train_sorter": ("GPT",)},
    "backprop": {"mlp": ("linear_forward", "linear_backward", "relu_forward", "relu_backward",
                         "softmax_cross_entropy_forward", "softmax_cross_entropy_backward")},
    "interp": {"find_induction_heads": ("attention_patterns", "induction_scores")},
    "positional": {"alibi_bias": ("alibi_slopes",)},
    "softmax": {},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dependencies_are_the_earlier_functions_the_reference_calls(name):
    unit, reference = units.load(name), units.reference(name)
    found = {q.name: followthrough.dependencies(unit, q, reference) for q in unit.questions}
    assert {q: d for q, d in found.items() if d} == EXPECTED[name]
    for index, question in enumerate(unit.questions):  # a declared dependency is graded earlier
        earlier = {f for q in unit.questions[:index] for f in q.functions}
        assert set(question.depends or ()) <= earlier, question.name


def test_same_layout_refuses_what_reference_code_was_not_written_for():
    import numpy as np
    import torch

    same = followthrough.same_layout
    assert same((torch.zeros(2, 3), 1.5), (torch.ones(2, 3), 2.0))
    assert same(torch.zeros(2, 3), torch.zeros(3, 2))  # e.g. the dimensions in another order
    assert not same(torch.zeros(2, 3), torch.zeros(2, 4))
    assert not same(torch.zeros(2), torch.zeros(2, dtype=torch.float64))
    assert not same({"a": np.zeros(2)}, {"a": np.zeros(2), "b": 1})
    assert not same(1.0, True) and not same((torch.zeros(1),), [torch.zeros(1), 0])
