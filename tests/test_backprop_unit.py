"""The backprop unit graded end to end, and the wire/compare support it added to the engine.

Students write NumPy here, so this unit is the one that sends NumPy arrays (and NumPy
functions, for the numerical gradient) to the worker and judges NumPy arrays, floats and dicts
of arrays coming back; its hidden checks take their expected values from torch autograd and
torch.optim (`Check.oracle`), not from the reference, and ban all of torch ("torch.*").

Its reference, stub and corpus are graded by tests/test_units.py, like every unit's; here,
what is specific to it: the wire and comparator support, torch banned wholesale, the reference
on torch's trajectories, the feedback naming each classic bug, follow-through of the MLP, and
the public checks catching classic bugs.
"""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import torch

from autograder import followthrough, units
from autograder import worker as wire
from autograder.compare import Close, input_scale, unchanged
from autograder.feedback import describe_value

from conftest import UnitFiles, feedback, full_marks

UNIT = "backprop"
FILES = UnitFiles(UNIT)


def failed_messages(report, question: str) -> str:
    return "\n".join(c.message for q in report.questions if q.name == question for c in q.checks if not c.passed)


# --------------------------------------------------------------------------- engine support


def roundtrip(value):
    blobs: list[bytes] = []
    header = json.loads(json.dumps(wire.encode(value, blobs)))  # through JSON, as on the wire
    return wire.decode(header, blobs)


def test_numpy_values_cross_the_wire_as_numpy():
    value = {"W": np.arange(6.0).reshape(2, 3)[:, ::2], "y": np.array([1, 0]), "s": np.float32(1.5),
             "loss": np.float64(0.25), "empty": np.zeros((0, 3))}
    back = roundtrip((value, [np.var, np.linalg.norm]))
    assert type(back) is tuple and back[1] == [np.var, np.linalg.norm]
    got = back[0]
    for key, array in value.items():
        assert type(got[key]) is type(array) and got[key].dtype == array.dtype and np.array_equal(got[key], array)
    assert roundtrip(torch.ones(2)).dtype == torch.float32  # tensors stay tensors


def test_non_numeric_arrays_and_lookalikes_are_not_rebuilt():
    class Sub(np.ndarray):
        pass

    for value in (np.array(["a"]), np.array([object()]), np.ones(2).view(Sub), lambda x: x):
        assert isinstance(roundtrip(value), wire.Opaque), value
    for name in ("_private", "load.__globals__", "os.system", "no_such_function"):
        with pytest.raises(ValueError):
            wire.decode({"$numpy": name}, [])


def test_compare_judges_arrays_floats_and_dicts():
    close = Close(rtol=1e-6, atol=1e-8, scale=0.0)
    a = np.array([[1.0, 2.0]])
    assert close(a, a + 1e-12, 0.0) is None
    assert "values differ" in close(a, a + 1e-3, 0.0).summary
    assert "expected a numpy.ndarray, got Tensor" in close(a, torch.from_numpy(a), 0.0).summary
    assert "dtype float32" in close(a, a.astype(np.float32), 0.0).summary
    assert "shape (2, 1)" in close(a, a.T, 0.0).summary
    assert close(0.5, np.float32(0.5), 0.0) is None and close(0.5, np.array(0.5), 0.0) is None
    assert "expected a number" in close(0.5, "0.5", 0.0).summary
    assert "NaN" in close(0.5, float("nan"), 0.0).summary
    grads = {"W": a, "b": np.zeros(2)}
    assert close((1.0, grads), (1.0, dict(grads)), 0.0) is None
    assert "output [1]: output ['b']" in close((1.0, grads), (1.0, dict(grads, b=np.ones(2))), 0.0).summary
    assert "keys" in close(grads, {"W": a}, 0.0).summary
    assert input_scale(((a * 7, np.array([3])), {})) == 14.0
    assert unchanged((a,), (a.copy(),)) and not unchanged((a,), (a + 1,))
    assert describe_value(np.var) == "numpy.var" and "array of shape (1, 2), float64" in describe_value(a)


def test_torch_is_banned_wholesale_in_the_worker():
    used: list[str] = []
    with pytest.raises(wire.BannedCallError), wire._banned_mode(["torch.*"], used):
        torch.tensor([1.0], requires_grad=True).sum()
    assert used == ["torch.tensor"]
    with wire._banned_mode(["torch.softmax"], []):  # a plain list still allows the rest
        torch.tensor([1.0]).sum()


# --------------------------------------------------------------------------- the unit itself


def test_torch_is_banned_and_the_expected_values_come_from_torch(unit):
    assert unit.banned == ("torch.*",)
    for question in unit.questions:
        assert question.public and len(question.checks) >= 2
        assert all(c.oracle is not None for c in question.checks) or question.name == "numerical_gradient"


def test_reference_follows_torch_along_whole_trajectories(reference):
    """The NumPy reference's optimizers, chained over 25 steps, stay on torch.optim's trajectory
    (the hidden checks compare single steps from states on such trajectories)."""
    from autograder.units.backprop import torch_adamw_trajectory, torch_sgd_trajectory

    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(3, 2)) for _ in range(25)]
    param = rng.normal(size=(3, 2))
    p, v = param, np.zeros_like(param)
    for g in grads:
        p, v = reference.sgd_momentum_step(p, g, v, 0.05, momentum=0.9, weight_decay=0.1)
    expected = torch_sgd_trajectory(param, grads, np.zeros_like(param), 0.05, 0.9, 0.1)
    np.testing.assert_allclose(p, expected[0], rtol=1e-10)
    np.testing.assert_allclose(v, expected[1], rtol=1e-10)
    p, m, v = param, np.zeros_like(param), np.zeros_like(param)
    for t, g in enumerate(grads, 1):
        p, m, v = reference.adamw_step(p, g, m, v, t, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.3)
    zeros = np.zeros_like(param)
    for got, want in zip((p, m, v), torch_adamw_trajectory(param, grads, zeros, zeros, 1, 0.05, (0.8, 0.99), 1e-6, 0.3)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


# --------------------------------------------------------------------------- feedback


@pytest.mark.parametrize("spec_name, question, words", [
    ("wrong/numgrad_forward_difference", "numerical_gradient", "one-sided difference"),
    ("wrong/numgrad_changes_x", "numerical_gradient", "modified its input in place"),
    ("wrong/relu_backward_ge_zero", "relu", "use x > 0, not x >= 0"),
    ("wrong/relu_mask_from_output", "relu", "mask from the output"),
    ("wrong/ce_backward_no_onehot", "softmax_cross_entropy", "subtract 1 at the correct class"),
    ("wrong/ce_backward_summed", "softmax_cross_entropy", "divide by N"),
    ("wrong/mlp_summed_over_batch", "mlp", "MEAN over the batch"),
    ("wrong/sgd_dampened", "sgd_momentum", "adds the whole gradient"),
    ("wrong/sgd_lr_in_velocity", "sgd_momentum", "without lr"),
    ("wrong/adam_no_bias_correction", "adamw", "bias correction"),
    ("wrong/adamw_l2_penalty", "adamw", "decoupled"),
    ("wrong/banned_torch_autograd", "mlp", "which this question does not allow"),
])
def test_feedback_names_the_bug(grader, spec_name, question, words):
    message = failed_messages(grader.cached(spec_name), question)
    assert words in message, message


@pytest.mark.parametrize("name, dependency, number", [("relu_backward_ge_zero", "relu_backward", 3),
                                                      ("linear_dx_missing_transpose", "linear_backward", 2)])
def test_mlp_right_given_the_wrong_layer_keeps_its_points(grader, name, dependency, number):
    """The MLP of correct/plain.py calls the student's layers: the reference's MLP over their
    (wrong) layer is what it computes, so it keeps its points, even where the layer raises
    (linear_dx_missing_transpose's ValueError on non-square weights)."""
    report = grader.cached(f"wrong/{name}")
    assert report.scores()["mlp"] == full_marks(grader.unit)["mlp"], feedback(report)
    said = {c.message for q in report.questions if q.name == "mlp" for c in q.checks}
    assert f"Correct given your `{dependency}`, which is wrong: see question {number}." in said, said


# --------------------------------------------------------------------------- public checks


def _public_checks():
    return [(q.name, check) for q in units.load(UNIT).questions for check in q.public]


def _call_public(check, namespace):
    check(**{p: namespace[p] for p in inspect.signature(check).parameters})


@pytest.mark.parametrize("name", ["relu_backward_ge_zero", "ce_backward_no_onehot", "adam_no_bias_correction",
                                  "adamw_l2_penalty"])
def test_public_checks_catch_classic_bugs_without_a_reference(reference, name):
    """The gradient checks (against the student's own numerical gradient) and worked examples
    catch the classic bugs before submission."""
    entry = FILES.load_entry("wrong", name)
    namespace = dict(vars(reference))
    exec(compile(entry.preamble + "\n" + "\n".join(entry.functions.values()), name, "exec"), namespace)
    failed = set()
    for question, check in _public_checks():
        try:
            _call_public(check, namespace)
        except AssertionError:
            failed.add(question)
    # the public checks run in the student's kernel, without follow-through: a question built on
    # the buggy one (the MLP on a wrong layer) may fail there too
    unit = units.load(UNIT)
    own = {f for q in unit.questions if q.name in entry.loses for f in q.functions}
    built_on = {q.name for q in unit.questions
                if own & set(followthrough.dependencies(unit, q, reference))}
    assert failed and entry.loses <= failed <= entry.loses | built_on, failed
