"""Public checks for the `backprop` unit: what `grader.check("<question>")` runs.

You may read this file: it contains no reference solution. Every check is a worked example
whose answer is printed in the notebook, or a property any correct answer has. The main one
is the **gradient check**: your analytic gradients must agree with YOUR OWN
`numerical_gradient` (central differences) on small random inputs, which is how you would
debug backpropagation without any grader. Then: a tiny network's loss must go down when
trained with your gradients, and your optimizers must minimise a simple quadratic.

Passing them all is a good sign, not a guarantee: the grader also compares your functions
with torch autograd and torch.optim on many more inputs (batch size 1, zero inputs, large
logits, ReLU inputs exactly 0, states along optimizer trajectories, other hyper-parameters).

Each check is a plain function that takes your function(s) as keyword arguments named like
the functions in the notebook, e.g. ``linear_gradient_check(linear_forward=linear_forward,
linear_backward=linear_backward, numerical_gradient=numerical_gradient)``, and raises
AssertionError with the failing input when the property does not hold. Random inputs are
drawn by hypothesis with a fixed seed, so a check gives the same verdict every time. The
first line of each docstring is the check's display name.

This module needs only numpy and hypothesis.
"""

import numpy as np
from hypothesis import HealthCheck, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.extra import numpy as hnp

# question name -> its checks, in display order (filled in by @_check below); each question of
# the spec (autograder/units/backprop.py) takes the checks registered under its name
CHECKS = {}


def _check(question):
    """Register the decorated function as a public check of `question` (it is unchanged)."""

    def register(fn):
        CHECKS.setdefault(question, []).append(fn)
        return fn

    return register


_SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=20,
                     verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck), print_blob=False)

# -----------------------------------------------------------------------------
# helpers: calling student code, describing inputs, comparing


def _show(value):
    if isinstance(value, np.ndarray):
        if value.size > 60:
            return f"<array of shape {value.shape}, {value.dtype}>"
        return "np.array(" + np.array2string(value, separator=", ", precision=6) + (
            "" if value.dtype in (np.float64, np.int64) else f", dtype=np.{value.dtype}") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_show(v)}" for k, v in value.items()) + "}"
    if callable(value):
        return getattr(value, "__name__", "f")
    return repr(value)


def _describe(name, args, kwargs):
    parts = [_show(a) for a in args] + [f"{k}={_show(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _call(fn, name, *args, **kwargs):
    """Call the student's `fn` on copies of the arguments; every failure becomes a clear
    AssertionError. Returns (result, description of the call)."""
    if fn is None:
        raise AssertionError(f"`{name}` is not defined: run the cell that defines it (and keep its name).")
    if not callable(fn):
        raise AssertionError(f"`{name}` should be a function, but it is a {type(fn).__name__}.")
    call = _describe(name, args, kwargs)
    try:
        out = fn(*[_copy(a) for a in args], **{k: _copy(v) for k, v in kwargs.items()})
    except NotImplementedError as exc:
        raise AssertionError(
            f"`{name}` is not implemented yet (it raised NotImplementedError). Replace the "
            f"`raise NotImplementedError(...)` line in its cell with your code, run the cell, "
            f"then run this check again.") from exc
    except Exception as exc:
        raise AssertionError(f"{call} raised {type(exc).__name__}: {exc}") from exc
    return out, call


def _array(out, call, shape, what="the result"):
    """`out` must be a float array of `shape`; returns it as float64."""
    if not isinstance(out, np.ndarray):
        raise AssertionError(f"{call}: {what} is a {type(out).__name__}, expected a numpy array of shape {shape}")
    if out.shape != tuple(shape):
        raise AssertionError(f"{call}: {what} has shape {out.shape}, expected {tuple(shape)}")
    if not np.isfinite(out).all():
        raise AssertionError(f"{call}: {what} contains NaN or inf: {_show(out)}")
    return out.astype(np.float64)


def _number(out, call, what="the loss"):
    try:
        value = float(out)
    except (TypeError, ValueError):
        raise AssertionError(f"{call}: {what} is a {type(out).__name__}, expected a number") from None
    if not np.isfinite(value):
        raise AssertionError(f"{call}: {what} is {value}, expected a finite number")
    return value


def _close(got, expected, call, what, advice, rtol=1e-6, atol=1e-8):
    if not np.allclose(got, expected, rtol=rtol, atol=atol):
        raise AssertionError(f"{call}: wrong {what} ({advice})\n  expected {_show(np.asarray(expected))}\n"
                             f"  got      {_show(np.asarray(got))}")


def _run(prop, probe):
    """Say "not implemented yet" before hypothesis draws anything; then run the property."""
    try:
        probe()
    except AssertionError as exc:
        if "not implemented yet" in str(exc):
            raise
    try:
        prop()
    except Flaky as exc:
        raise AssertionError("your function gave different results on the same input (does it use "
                             f"randomness or global state?): {exc}") from None


def _floats(shape, bound=3.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(-bound, bound, allow_nan=False, allow_subnormal=False))


def _away_from_zero(shape):
    """Values with |x| in [0.1, 3]: a gradient check of the ReLU must not straddle its kink."""
    magnitude = st.floats(0.1, 3.0)
    return hnp.arrays(np.float64, shape, elements=st.tuples(st.booleans(), magnitude).map(
        lambda t: t[1] if t[0] else -t[1]))


def _gradient_check(numerical_gradient, f, x, analytic, call, what):
    """Compare an analytic gradient with the student's own central differences."""
    numeric, ncall = _call(numerical_gradient, "numerical_gradient", f, x)
    numeric = _array(numeric, ncall, x.shape, "the numerical gradient")
    error = np.abs(numeric - analytic) / np.maximum(1.0, np.abs(numeric) + np.abs(analytic))
    if not error.max() <= 1e-5:
        raise AssertionError(
            f"gradient check failed for {what} in {call}:\n  analytic  {_show(analytic)}\n"
            f"  numerical {_show(numeric)}\n  (largest relative error {error.max():.3g}; the two should "
            "agree to about 1e-7. If numerical_gradient passed its own check, the analytic one is wrong.)")


# -----------------------------------------------------------------------------
# numerical_gradient


@_check("numerical_gradient")
def numerical_gradient_worked_examples(numerical_gradient):
    """matches the worked examples in the notebook (sum of squares, product, mean)"""
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    out, call = _call(numerical_gradient, "numerical_gradient", lambda z: np.sum(z**2), x)
    _close(_array(out, call, x.shape), 2 * x, call, "gradient of sum(x**2)",
           "it is 2x; central differences are exact for quadratics up to rounding", rtol=1e-6, atol=1e-6)
    x = np.array([2.0, 3.0, 4.0])
    out, call = _call(numerical_gradient, "numerical_gradient", np.prod, x)
    _close(_array(out, call, x.shape), [12.0, 8.0, 6.0], call, "gradient of prod(x)",
           "d(x0 x1 x2)/dx0 = x1 x2", atol=1e-6)
    # f(x) = x0^3 with h = 0.1: central (f(x+h) - f(x-h)) / 2h = 3 x0^2 + h^2 = 3.01 at x0 = 1
    x = np.array([1.0])
    out, call = _call(numerical_gradient, "numerical_gradient", lambda z: z[0] ** 3, x, h=0.1)
    _close(_array(out, call, x.shape), [3.01], call, "central difference with h = 0.1",
           "(f(x + h) - f(x - h)) / (2h) = 3.01 here; the one-sided (f(x + h) - f(x)) / h gives 3.31",
           atol=1e-9)


@_check("numerical_gradient")
def numerical_gradient_of_linear_functions_is_exact(numerical_gradient):
    """for f(x) = sum(c * x) it returns c, for x of any shape, and leaves x unchanged"""

    @_SETTINGS
    @given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3).flatmap(lambda s: st.tuples(_floats(s), _floats(s))))
    def prop(xc):
        x, c = xc
        before = x.copy()
        f = lambda z: float(np.sum(c * z))  # noqa: E731
        call = f"numerical_gradient(lambda z: np.sum(c * z), {_show(x)}) with c = {_show(c)}"
        try:
            out = numerical_gradient(f, x)
        except Exception as exc:
            raise AssertionError(f"{call} raised {type(exc).__name__}: {exc}") from exc
        _close(_array(out, call, x.shape), c, call, "gradient", "the gradient of sum(c * x) is c, "
               "entry by entry: perturb ONE entry at a time, for every index of x", atol=1e-6)
        if not np.array_equal(x, before):
            raise AssertionError(f"{call} changed x to {_show(x)}: perturb a copy, or restore each entry")

    _run(prop, lambda: _call(numerical_gradient, "numerical_gradient", np.sum, np.ones(2)))


# -----------------------------------------------------------------------------
# linear


@_check("linear")
def linear_worked_example(linear_forward, linear_backward):
    """matches the worked example in the notebook"""
    x, W, b = np.array([[1.0, 2.0]]), np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]]), np.array([0.5, 0.0, 1.0])
    out, call = _call(linear_forward, "linear_forward", x, W, b)
    _close(_array(out, call, (1, 3)), [[5.5, 2.0, 0.0]], call, "output", "out = x @ W + b")
    dout = np.array([[1.0, -1.0, 2.0]])
    grads, call = _call(linear_backward, "linear_backward", dout, x, W)
    if not isinstance(grads, tuple) or len(grads) != 3:
        raise AssertionError(f"{call} must return a tuple (dx, dW, db)")
    for got, want, name, shape in zip(grads, ([[-1.0, 1.0]], [[1.0, -1.0, 2.0], [2.0, -2.0, 4.0]], [1.0, -1.0, 2.0]),
                                      ("dx", "dW", "db"), ((1, 2), (2, 3), (3,))):
        _close(_array(got, call, shape, name), want, call, name, "dx = dout @ W.T, dW = x.T @ dout, "
               "db = dout summed over the batch")


@_check("linear")
def linear_gradient_check(linear_forward, linear_backward, numerical_gradient):
    """dx, dW and db agree with your numerical_gradient of sum(dout * linear_forward(x, W, b))"""

    @_SETTINGS
    @given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.data())
    def prop(n, d_in, d_out, data):
        x, W, b = data.draw(_floats((n, d_in))), data.draw(_floats((d_in, d_out))), data.draw(_floats((d_out,)))
        dout = data.draw(_floats((n, d_out)))
        grads, call = _call(linear_backward, "linear_backward", dout, x, W)
        if not isinstance(grads, tuple) or len(grads) != 3:
            raise AssertionError(f"{call} must return a tuple (dx, dW, db)")
        dx, dW, db = (_array(g, call, s, name) for g, s, name in zip(grads, (x.shape, W.shape, b.shape), ("dx", "dW", "db")))
        # L = sum(dout * out), so dL/dout = dout: the gradient linear_backward computes
        loss = lambda out: float(np.sum(dout * out))  # noqa: E731
        _gradient_check(numerical_gradient, lambda z: loss(linear_forward(z, W, b)), x, dx, call, "dx")
        _gradient_check(numerical_gradient, lambda z: loss(linear_forward(x, z, b)), W, dW, call, "dW")
        _gradient_check(numerical_gradient, lambda z: loss(linear_forward(x, W, z)), b, db, call, "db")

    _run(prop, lambda: _call(linear_backward, "linear_backward", np.ones((1, 1)), np.ones((1, 1)), np.ones((1, 1))))


# -----------------------------------------------------------------------------
# relu


@_check("relu")
def relu_worked_example(relu_forward, relu_backward):
    """matches the worked example in the notebook (the gradient at exactly 0 is 0)"""
    x = np.array([-1.0, 0.0, 2.0, -0.5, 3.0])
    out, call = _call(relu_forward, "relu_forward", x)
    _close(_array(out, call, x.shape), [0.0, 0.0, 2.0, 0.0, 3.0], call, "output", "max(x, 0)")
    dout = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    dx, call = _call(relu_backward, "relu_backward", dout, x)
    _close(_array(dx, call, x.shape), [0.0, 0.0, 30.0, 0.0, 50.0], call, "gradient",
           "dx = dout where x > 0 and 0 elsewhere; at exactly x = 0 the convention is 0")


@_check("relu")
def relu_gradient_check(relu_forward, relu_backward, numerical_gradient):
    """relu_backward agrees with your numerical_gradient (inputs away from the kink at 0)"""

    @_SETTINGS
    @given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4).flatmap(lambda s: st.tuples(_away_from_zero(s), _floats(s))))
    def prop(xd):
        x, dout = xd
        dx, call = _call(relu_backward, "relu_backward", dout, x)
        dx = _array(dx, call, x.shape)
        _gradient_check(numerical_gradient, lambda z: float(np.sum(dout * relu_forward(z))), x, dx, call, "dx")

    _run(prop, lambda: _call(relu_backward, "relu_backward", np.ones(1), np.ones(1)))


# -----------------------------------------------------------------------------
# softmax_cross_entropy


@_check("softmax_cross_entropy")
def cross_entropy_worked_example(softmax_cross_entropy_forward, softmax_cross_entropy_backward):
    """uniform logits give loss log(C) and gradient (1/C - onehot) / N"""
    logits, y = np.zeros((2, 4)), np.array([1, 3])
    loss, call = _call(softmax_cross_entropy_forward, "softmax_cross_entropy_forward", logits, y)
    _close(_number(loss, call), np.log(4.0), call, "loss", "every class has probability 1/4, so -log(1/4)")
    d, call = _call(softmax_cross_entropy_backward, "softmax_cross_entropy_backward", logits, y)
    want = (np.full((2, 4), 0.25) - np.eye(4)[y]) / 2
    _close(_array(d, call, (2, 4)), want, call, "gradient", "(softmax - onehot(y)) / N")


@_check("softmax_cross_entropy")
def cross_entropy_stays_finite_for_large_logits(softmax_cross_entropy_forward, softmax_cross_entropy_backward):
    """large logits (1000, -1e4) give the exact, finite loss and gradient"""
    logits, y = np.array([[1000.0, 0.0], [-1e4, -1e4 + 2.0]]), np.array([1, 0])
    loss, call = _call(softmax_cross_entropy_forward, "softmax_cross_entropy_forward", logits, y)
    want = (1000.0 + np.log1p(np.exp(-2.0)) + 2.0) / 2  # -log p: 1000 for row 0, 2 + log(1 + e^-2) for row 1
    _close(_number(loss, call), want, call, "loss", "subtract each row's max before exp: exp(1000) "
           "overflows and exp(-1e4) underflows to 0")
    d, call = _call(softmax_cross_entropy_backward, "softmax_cross_entropy_backward", logits, y)
    _array(d, call, (2, 2))


@_check("softmax_cross_entropy")
def cross_entropy_gradient_check(softmax_cross_entropy_forward, softmax_cross_entropy_backward, numerical_gradient):
    """the backward agrees with your numerical_gradient of the forward; its rows sum to 0"""

    @_SETTINGS
    @given(st.integers(1, 4), st.integers(1, 5), st.data())
    def prop(n, c, data):
        logits = data.draw(_floats((n, c)))
        y = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
        d, call = _call(softmax_cross_entropy_backward, "softmax_cross_entropy_backward", logits, y)
        d = _array(d, call, (n, c))
        if not np.allclose(d.sum(axis=1), 0.0, atol=1e-9):
            raise AssertionError(f"{call}: every row of the gradient must sum to 0 (softmax sums to 1 and "
                                 f"the one-hot to 1), got row sums {_show(d.sum(axis=1))}")
        f = lambda z: _number(softmax_cross_entropy_forward(z, y), call)  # noqa: E731
        _gradient_check(numerical_gradient, f, logits, d, call, "dlogits")

    _run(prop, lambda: _call(softmax_cross_entropy_backward, "softmax_cross_entropy_backward",
                             np.zeros((1, 2)), np.array([0])))


# -----------------------------------------------------------------------------
# mlp


def _tiny_problem(seed=0, n=12, d=3, h=8, c=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.argmax(X @ rng.normal(size=(d, c)), axis=1)  # a linearly separable labelling
    params = {"W1": rng.normal(size=(d, h)) * 0.5, "b1": np.zeros(h) + 0.1,
              "W2": rng.normal(size=(h, c)) * 0.5, "b2": np.zeros(c)}
    return params, X, y


@_check("mlp")
def mlp_gradient_check(mlp_loss_and_grads, numerical_gradient):
    """every gradient agrees with your numerical_gradient of the loss"""
    for seed in range(3):
        params, X, y = _tiny_problem(seed, n=4, d=3, h=5, c=3)
        out, call = _call(mlp_loss_and_grads, "mlp_loss_and_grads", params, X, y)
        if not isinstance(out, tuple) or len(out) != 2 or not isinstance(out[1], dict):
            raise AssertionError(f"{call} must return (loss, grads) with grads a dict")
        loss, grads = _number(out[0], call), out[1]
        if set(grads) != set(params):
            raise AssertionError(f"{call}: grads has keys {sorted(grads)}, expected {sorted(params)}")
        for key in ("W1", "b1", "W2", "b2"):
            analytic = _array(grads[key], call, params[key].shape, f"grads[{key!r}]")

            def f(z, key=key):
                return _number(mlp_loss_and_grads(dict(params, **{key: z}), X, y)[0], call)

            _gradient_check(numerical_gradient, f, params[key], analytic, call, f"grads[{key!r}]")
        if not loss > 0:
            raise AssertionError(f"{call}: a cross-entropy loss is > 0, got {loss}")


@_check("mlp")
def mlp_loss_is_a_batch_mean(mlp_loss_and_grads):
    """with W2 = 0 and b2 = 0 every class is equally likely: the loss is log C for any batch size"""
    for n in (1, 4, 9):
        params, X, y = _tiny_problem(n, n=n, d=3, h=5, c=3)
        params = dict(params, W2=np.zeros_like(params["W2"]), b2=np.zeros_like(params["b2"]))
        out, call = _call(mlp_loss_and_grads, "mlp_loss_and_grads", params, X, y)
        if not isinstance(out, tuple) or len(out) != 2:
            raise AssertionError(f"{call} must return (loss, grads)")
        loss = _number(out[0], call)
        if not abs(loss - np.log(3)) < 1e-9:
            raise AssertionError(f"{call}: uniform predictions over 3 classes give a mean loss of log 3 = "
                                 f"{np.log(3):.6f} whatever the batch size (N = {n}); got {loss:.6f}"
                                 + (f" = {loss / np.log(3):.3g} x log 3: a sum instead of a mean?" if loss > 1.5 else ""))


@_check("mlp")
def mlp_loss_decreases(mlp_loss_and_grads):
    """50 steps of gradient descent with your gradients lower the loss of a tiny problem"""
    params, X, y = _tiny_problem()
    first = None
    for step in range(50):
        out, call = _call(mlp_loss_and_grads, "mlp_loss_and_grads", params, X, y)
        loss, grads = _number(out[0], call), out[1]
        first = loss if first is None else first
        params = {k: params[k] - 0.5 * grads[k] for k in params}
    final = _number(mlp_loss_and_grads(params, X, y)[0], call)
    if not final < 0.5 * first:
        raise AssertionError(f"gradient descent (lr 0.5, 50 steps) took the loss from {first:.4f} to "
                             f"{final:.4f}; with correct gradients it falls below half")


# -----------------------------------------------------------------------------
# optimizers


def _quadratic_descent(step, init_state, steps=100):
    """Minimise 0.5 * sum(a * p**2) from p = [3, -2, 1]; returns the final |p|."""
    a, p = np.array([1.0, 4.0, 0.5]), np.array([3.0, -2.0, 1.0])
    state = init_state(p)
    for t in range(1, steps + 1):
        p, state = step(p, a * p, state, t)
    return np.abs(p).max()


@_check("sgd_momentum")
def sgd_worked_example(sgd_momentum_step):
    """matches the worked example: two steps, then weight decay"""
    p, v = np.array([1.0, -2.0]), np.zeros(2)
    g = np.array([0.5, 1.0])
    (p1, v1), call = _call(sgd_momentum_step, "sgd_momentum_step", p, g, v, 0.1, momentum=0.9)
    _close(_array(v1, call, (2,), "velocity"), g, call, "velocity after step 1", "velocity = 0.9 * 0 + grad")
    _close(_array(p1, call, (2,), "param"), [0.95, -2.1], call, "param after step 1", "param - lr * velocity")
    (p2, v2), call = _call(sgd_momentum_step, "sgd_momentum_step", p1, g, v1, 0.1, momentum=0.9)
    _close(_array(v2, call, (2,), "velocity"), 1.9 * g, call, "velocity after step 2",
           "momentum * velocity + grad = 0.9 * g + g, without lr")
    _close(_array(p2, call, (2,), "param"), [0.855, -2.29], call, "param after step 2", "param - lr * velocity")
    (p3, v3), call = _call(sgd_momentum_step, "sgd_momentum_step", p, np.zeros(2), v, 0.1, momentum=0.9,
                           weight_decay=0.5)
    _close(_array(v3, call, (2,), "velocity"), 0.5 * p, call, "velocity with weight decay",
           "g = grad + weight_decay * param goes into the velocity")


@_check("sgd_momentum")
def sgd_minimises_a_quadratic(sgd_momentum_step):
    """100 steps minimise a quadratic (momentum 0.9)"""
    _call(sgd_momentum_step, "sgd_momentum_step", np.ones(1), np.ones(1), np.zeros(1), 0.1)

    def step(p, g, v, t):
        out, call = _call(sgd_momentum_step, "sgd_momentum_step", p, g, v, 0.05, momentum=0.9)
        return out

    final = _quadratic_descent(step, np.zeros_like)
    if not final < 0.05:
        raise AssertionError(f"after 100 steps of sgd_momentum_step (lr 0.05, momentum 0.9) on "
                             f"0.5 * sum(a * p**2), max |p| is {final:.3g}, not below 0.05")


@_check("adamw")
def adam_first_step_is_lr_times_sign(adamw_step):
    """step 1 with weight_decay=0 moves each parameter by about lr (bias correction)"""
    p, g = np.array([1.0, -2.0, 0.5]), np.array([0.1, -3.0, 0.001])
    (p1, m1, v1), call = _call(adamw_step, "adamw_step", p, g, np.zeros(3), np.zeros(3), 1, lr=0.1, weight_decay=0.0)
    _close(_array(p1, call, (3,), "param"), p - 0.1 * np.sign(g), call, "param after step 1",
           "with bias correction m_hat = g and v_hat = g**2 at t = 1, so the step is lr * g / (|g| + eps)", rtol=1e-5)
    _close(_array(m1, call, (3,), "m"), 0.1 * g, call, "m after step 1", "m = beta1 * 0 + (1 - beta1) * g: "
           "return m itself, not the bias-corrected m_hat")
    _close(_array(v1, call, (3,), "v"), 0.001 * g**2, call, "v after step 1", "v = (1 - beta2) * g**2")


@_check("adamw")
def adamw_decay_is_decoupled(adamw_step):
    """with a zero gradient at step 1, only the decay moves the parameter: param * (1 - lr * wd)"""
    p = np.array([1.0, -2.0])
    (p1, _, _), call = _call(adamw_step, "adamw_step", p, np.zeros(2), np.zeros(2), np.zeros(2), 1,
                             lr=0.1, weight_decay=0.5)
    _close(_array(p1, call, (2,), "param"), p * 0.95, call, "param", "AdamW shrinks the parameter by "
           "(1 - lr * weight_decay) and does NOT add weight_decay * param to the gradient (that is L2)")


@_check("adamw")
def adamw_minimises_a_quadratic(adamw_step):
    """100 steps (lr 0.1, weight_decay 0) minimise a quadratic"""
    _call(adamw_step, "adamw_step", np.ones(1), np.ones(1), np.zeros(1), np.zeros(1), 1)

    def step(p, g, state, t):
        (p, m, v), call = _call(adamw_step, "adamw_step", p, g, state[0], state[1], t, lr=0.1, weight_decay=0.0)
        return p, (m, v)

    final = _quadratic_descent(step, lambda p: (np.zeros_like(p), np.zeros_like(p)))
    if not final < 0.2:
        raise AssertionError(f"after 100 steps of adamw_step (lr 0.1) on 0.5 * sum(a * p**2), max |p| "
                             f"is {final:.3g}, not below 0.2")
