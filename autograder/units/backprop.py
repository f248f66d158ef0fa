"""Unit `backprop`: backpropagation and optimizers by hand, in NumPy (docs/units/backprop.md).

The hidden checks do not trust the NumPy reference for what they grade: every expected value
is computed in this (trusted) process by torch, the authority the course defines the answers
by: gradients by torch autograd (`torch.relu`, `torch.nn.functional.cross_entropy`, a
two-layer MLP), optimizer steps by `torch.optim.SGD` and `torch.optim.AdamW` (each `Check`'s
`oracle`). Only the numerical gradient is judged against central differences themselves.
tests/test_backprop_unit.py proves that solutions/backprop.py agrees with these oracles.

Optimizer trajectories: a step is a pure function (param, grad, state) -> (param, state), so
the inputs of the optimizer checks are states reached by running torch.optim for 0 to 4
steps on drawn gradients, and the student's next step (parameter AND state) must equal
torch.optim's. Matching torch from every such state is matching its trajectories, step by
step; the explicit examples pin down step 1, where bias correction matters most.

Students write NumPy, so all of torch is banned inside their functions ("torch.*"): calling
torch autograd on the inputs is refused with a message, not rewarded.
"""

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..compare import Close
from ..spec import Call, Check, Example, Hint, Question, Unit
from . import public_checks

public = public_checks("backprop")  # assignments/backprop/backprop_public.py

BANNED = ("torch.*",)

# Everything is float64, and every correct way to compute these values agrees to ~1e-13;
# a real bug (a missing 1/N, a wrong sign, an un-subtracted one-hot) is off by far more.
F64 = Close(rtol=1e-6, atol=1e-8, scale=0.01)
EXAMPLES = 10  # draws per check after the explicit examples: with them, enough for every corpus bug


# ----------------------------------------------------------------------------- the oracles (torch)


def _t(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _np(t):
    return t.detach().numpy().copy()


def torch_linear_forward(x, W, b):
    return _np(_t(x) @ _t(W) + _t(b))


def torch_linear_backward(dout, x, W):
    x, W = _t(x, True), _t(W, True)
    b = torch.zeros(W.shape[1], dtype=torch.float64, requires_grad=True)
    with torch.enable_grad():  # the grader calls oracles under no_grad
        (x @ W + b).backward(_t(dout))
    return _np(x.grad), _np(W.grad), _np(b.grad)


def torch_relu_forward(x):
    return _np(torch.relu(_t(x)))


def torch_relu_backward(dout, x):
    x = _t(x, True)
    with torch.enable_grad():
        torch.relu(x).backward(_t(dout))
    return _np(x.grad)


def torch_cross_entropy_forward(logits, y):
    return F.cross_entropy(_t(logits), torch.from_numpy(np.asarray(y))).item()


def torch_cross_entropy_backward(logits, y):
    logits = _t(logits, True)
    with torch.enable_grad():
        F.cross_entropy(logits, torch.from_numpy(np.asarray(y))).backward()
    return _np(logits.grad)


def torch_mlp_loss_and_grads(params, X, y):
    p = {k: _t(v, True) for k, v in params.items()}
    with torch.enable_grad():
        h = torch.relu(_t(X) @ p["W1"] + p["b1"])
        loss = F.cross_entropy(h @ p["W2"] + p["b2"], torch.from_numpy(np.asarray(y)))
        loss.backward()
    return loss.item(), {k: _np(p[k].grad) for k in ("W1", "b1", "W2", "b2")}


def torch_sgd_step(param, grad, velocity, lr, momentum=0.9, weight_decay=0.0):
    return torch_sgd_trajectory(param, [grad], velocity, lr, momentum, weight_decay)


def torch_sgd_trajectory(param, grads, velocity, lr, momentum=0.9, weight_decay=0.0):
    """torch.optim.SGD's steps from (param, velocity) along `grads`: (param, velocity) after them."""
    p = torch.nn.Parameter(_t(param))
    opt = torch.optim.SGD([p], lr=lr, momentum=momentum, dampening=0, weight_decay=weight_decay,
                          nesterov=False)
    opt.state[p]["momentum_buffer"] = _t(velocity)  # zeros before step 1: torch's clone(g) then
    for grad in grads:
        p.grad = _t(grad)
        opt.step()
    return _np(p), _np(opt.state[p]["momentum_buffer"])


def torch_adamw_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    return torch_adamw_trajectory(param, [grad], m, v, t, lr, betas, eps, weight_decay)


def torch_adamw_trajectory(param, grads, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    """torch.optim.AdamW's steps t, t+1, ... from (param, m, v) along `grads`: (param, m, v) after them."""
    p = torch.nn.Parameter(_t(param))
    opt = torch.optim.AdamW([p], lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
    opt.state[p].update(step=torch.tensor(float(t - 1)), exp_avg=_t(m), exp_avg_sq=_t(v))
    for grad in grads:
        p.grad = _t(grad)
        opt.step()
    state = opt.state[p]
    return _np(p), _np(state["exp_avg"]), _np(state["exp_avg_sq"])


# ----------------------------------------------------------------------------- inputs


def arrays(shape, bound=5.0, zeros=False):
    """float64 arrays with values in [-bound, bound]; with `zeros`, many entries exactly 0."""
    values = st.floats(-bound, bound, allow_nan=False, allow_subnormal=False)
    if zeros:
        values = st.one_of(st.just(0.0), values)
    return hnp.arrays(np.float64, shape, elements=values)


def labels(n, c):
    return hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1))


SIZES = st.integers(1, 5)  # batch size 1 is drawn often: hypothesis shrinks towards it
FUNCTIONS = st.sampled_from([np.var, np.std, np.linalg.norm, np.prod, np.sum, np.mean])
STEPS = st.sampled_from([1e-2, 1e-3, 1e-4])


@st.composite
def numgrad_inputs(draw, explicit_h):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    x = draw(arrays(shape, 3.0))
    kwargs = {"h": draw(STEPS)} if explicit_h else {}
    return Call((draw(FUNCTIONS), x), kwargs, names=("f", "x"))


@st.composite
def linear_inputs(draw, backward, zeros=False):
    n, d_in, d_out = draw(SIZES), draw(SIZES), draw(SIZES)
    x, W = draw(arrays((n, d_in), zeros=zeros)), draw(arrays((d_in, d_out)))
    if backward:
        return Call((draw(arrays((n, d_out))), x, W), names=("dout", "x", "W"))
    return Call((x, W, draw(arrays((d_out,)))), names=("x", "W", "b"))


@st.composite
def relu_inputs(draw, backward):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    x = draw(arrays(shape, zeros=True))  # ReLU exactly at 0, often
    if backward:
        return Call((draw(arrays(shape)), x), names=("dout", "x"))
    return Call((x,), names=("x",))


@st.composite
def logit_inputs(draw, bound):
    n, c = draw(SIZES), draw(st.integers(1, 6))
    return Call((draw(arrays((n, c), bound)), draw(labels(n, c))), names=("logits", "y"))


@st.composite
def mlp_inputs(draw, zeros=False):
    n, d, h, c = draw(SIZES), draw(SIZES), draw(SIZES), draw(st.integers(1, 4))
    params = {"W1": draw(arrays((d, h), 2.0)), "b1": draw(arrays((h,), 2.0, zeros=zeros)),
              "W2": draw(arrays((h, c), 2.0)), "b2": draw(arrays((c,), 2.0))}
    return Call((params, draw(arrays((n, d), 3.0, zeros=zeros)), draw(labels(n, c))),
                names=("params", "X", "y"))


LRS = st.sampled_from([1e-3, 1e-2, 0.1, 0.5, 1.0])


@st.composite
def sgd_inputs(draw, decay):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4))
    lr, momentum = draw(LRS), draw(st.sampled_from([0.9, 0.5, 0.99, 0.1]))
    wd = draw(st.sampled_from([1e-2, 0.1, 0.5, 1e-4])) if decay else 0.0
    history = draw(st.lists(arrays(shape), max_size=4))  # a point on torch.optim.SGD's own trajectory
    param, velocity = torch_sgd_trajectory(draw(arrays(shape)), history, np.zeros(shape), lr, momentum, wd)
    kwargs = {"momentum": momentum} | ({"weight_decay": wd} if decay else {})
    return Call((param, draw(arrays(shape, zeros=True)), velocity, lr), kwargs,
                names=("param", "grad", "velocity", "lr"))


@st.composite
def adam_inputs(draw, decay):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4))
    kwargs = {"lr": draw(st.sampled_from([1e-3, 1e-2, 0.1, 0.5])),
              "betas": draw(st.sampled_from([(0.9, 0.999), (0.8, 0.99), (0.5, 0.9), (0.0, 0.99)])),
              "eps": draw(st.sampled_from([1e-8, 1e-6, 1e-3, 0.1])),
              "weight_decay": draw(st.sampled_from([1e-2, 0.1, 0.5, 1.0])) if decay else 0.0}
    if decay and draw(st.booleans()):
        del kwargs["weight_decay"]  # the default, 1e-2, as torch.optim.AdamW's
    history = draw(st.lists(arrays(shape), max_size=4))  # a point on torch.optim.AdamW's own trajectory
    zeros = np.zeros(shape)
    param, m, v = torch_adamw_trajectory(draw(arrays(shape)), history, zeros, zeros, 1, **kwargs)
    return Call((param, draw(arrays(shape, zeros=True)), m, v, len(history) + 1), kwargs,
                names=("param", "grad", "m", "v", "t"))


# ----------------------------------------------------------------------------- diagnosing bugs
# A hint recomputes what a classic bug returns for the failing input and speaks only when the
# student's output is that (and the right answer is not), so it never claims a symptom the
# output lacks.


def _same(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-9))


def _bug(variant, text):
    def applies(call, expected, got):
        wrong = variant(*call.args, **call.kwargs)
        return _same(got, wrong) and not _same(expected, wrong)

    return Hint(applies, text)


def _shape_hint(index, text):
    def applies(call, expected, got):
        return (isinstance(got, tuple) and len(got) == len(expected) and hasattr(got[index], "shape")
                and got[index].shape != expected[index].shape)

    return Hint(applies, text)


def _forward_difference(f, x, h=1e-5):
    x = np.array(x, dtype=np.float64)
    grad, f0 = np.zeros_like(x), f(x)
    for i in np.ndindex(x.shape):
        up = x.copy()
        up[i] += h
        grad[i] = (f(up) - f0) / h
    return grad


def _numgrad_over(divisor):
    def variant(f, x, h=1e-5):
        x = np.array(x, dtype=np.float64)
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            up, down = x.copy(), x.copy()
            up[i] += h
            down[i] -= h
            grad[i] = (f(up) - f(down)) / (divisor * h)
        return grad

    return variant


NUMGRAD_HINTS = (
    _bug(_forward_difference, "you used the one-sided difference (f(x + h e_i) - f(x)) / h; use the "
         "central difference (f(x + h e_i) - f(x - h e_i)) / (2h), accurate to O(h^2) instead of O(h)"),
    _bug(_numgrad_over(1), "the central difference spans 2h, from x - h to x + h: divide by 2 * h, not h"),
)


def _onehot(y, c):
    return np.eye(c)[np.asarray(y)]


def _probs(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


LINEAR_HINTS = (
    _bug(lambda dout, x, W: (dout @ W, x.T @ dout, dout.sum(0)), "dx = dout @ W.T: the gradient flows "
         "back through the TRANSPOSE of W ([N, D_out] @ [D_out, D_in])"),
    _bug(lambda dout, x, W: (dout @ W.T, (x.T @ dout).T, dout.sum(0)), "dW = x.T @ dout, shaped "
         "[D_in, D_out] like W; you returned its transpose"),
    _bug(lambda dout, x, W: (dout @ W.T, x.T @ dout, dout.mean(0)), "db sums dout over the batch: the "
         "1/N of the mean loss is already inside dout, so do not average again"),
    _bug(lambda dout, x, W: (dout @ W.T, x.T @ dout / len(x), dout.sum(0) / len(x)), "dW and db sum "
         "over the batch: the 1/N of the mean loss is already inside dout"),
    _shape_hint(1, "dW must have W's shape [D_in, D_out]: dW = x.T @ dout"),
    _shape_hint(0, "dx must have x's shape [N, D_in]: dx = dout @ W.T"),
)

RELU_HINTS = (
    _bug(lambda dout, x: dout * (x >= 0), "at exactly x = 0 the gradient is 0 (torch's convention): "
         "use x > 0, not x >= 0"),
    _bug(lambda dout, x: dout * (np.maximum(x, 0) >= 0), "you took the mask from the output, which is "
         ">= 0 everywhere, so every gradient passed: the mask is x > 0, from the input x"),
    _bug(lambda dout, x: (x > 0).astype(np.float64), "multiply the mask by the incoming gradient dout "
         "(the chain rule): dx = dout * (x > 0)"),
)

CE_FORWARD_HINTS = (
    _bug(lambda logits, y: float(len(y) * torch_cross_entropy_forward(logits, y)),
         "the loss is the MEAN over the batch of -log p[y], not the sum"),
    Hint(lambda call, expected, got: isinstance(got, (float, np.floating)) and not np.isfinite(got),
         "inf or NaN: exp overflows for large logits; subtract each row's maximum before exp "
         "(log-sum-exp), which changes nothing mathematically"),
)

CE_BACKWARD_HINTS = (
    _bug(lambda logits, y: _probs(logits) / len(y), "the gradient of -log softmax(z)[y] is "
         "softmax(z) - onehot(y): subtract 1 at the correct class"),
    _bug(lambda logits, y: _probs(logits) - _onehot(y, logits.shape[1]), "the loss is a mean over the "
         "batch, so its gradient has a factor 1/N: divide by N"),
    _bug(lambda logits, y: (_onehot(y, logits.shape[1]) - _probs(logits)) / len(y),
         "the sign is flipped: dlogits = (softmax(logits) - onehot(y)) / N"),
)


def _mlp_summed(params, X, y):
    loss, grads = torch_mlp_loss_and_grads(params, X, y)
    return loss * len(y), {k: g * len(y) for k, g in grads.items()}


def _mlp_grads_summed(params, X, y):
    loss, grads = torch_mlp_loss_and_grads(params, X, y)
    return loss, {k: g * len(y) for k, g in grads.items()}


def _mlp_relu_at_zero(params, X, y):
    """The MLP's loss and gradients with a ReLU whose gradient is 1 at exactly 0 (x >= 0)."""
    pre = X @ params["W1"] + params["b1"]
    h = np.maximum(pre, 0.0)
    scores = h @ params["W2"] + params["b2"]
    loss = torch_cross_entropy_forward(scores, y)
    dscores = torch_cross_entropy_backward(scores, y)
    dpre = (dscores @ params["W2"].T) * (pre >= 0)
    return loss, {"W1": X.T @ dpre, "b1": dpre.sum(0), "W2": h.T @ dscores, "b2": dscores.sum(0)}


MLP_HINTS = (
    _bug(_mlp_relu_at_zero, "some hidden pre-activations are exactly 0 here, and your ReLU passes the "
         "gradient there: its gradient at 0 is 0 (mask with x > 0, from the ReLU's input)"),
    _bug(_mlp_summed, "the loss is the MEAN over the batch (and so are its gradients), not the sum"),
    _bug(_mlp_grads_summed, "your gradients are N times too large: the loss is a mean over the batch, "
         "so every gradient carries a 1/N (put it in dlogits once, not nowhere)"),
)


def _sgd_dampened(param, grad, velocity, lr, momentum=0.9, weight_decay=0.0):
    v = momentum * velocity + (1 - momentum) * (grad + weight_decay * param)
    return param - lr * v, v


def _sgd_lr_in_velocity(param, grad, velocity, lr, momentum=0.9, weight_decay=0.0):
    v = momentum * velocity + lr * (grad + weight_decay * param)
    return param - v, v


def _sgd_decay_outside(param, grad, velocity, lr, momentum=0.9, weight_decay=0.0):
    v = momentum * velocity + grad
    return param - lr * (v + weight_decay * param), v


SGD_HINTS = (
    _bug(_sgd_dampened, "torch's SGD (dampening=0) adds the whole gradient: velocity = momentum * "
         "velocity + g, not an average with weights (momentum, 1 - momentum)"),
    _bug(_sgd_lr_in_velocity, "the velocity is torch's momentum buffer, momentum * velocity + g, "
         "without lr: lr multiplies the step, param - lr * velocity"),
    _bug(_sgd_decay_outside, "torch's SGD adds weight_decay * param to the gradient BEFORE the momentum "
         "(g = grad + weight_decay * param), so the decay is carried by the velocity too"),
)


def _adam(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
          correct=True, decay="decoupled", eps_inside=False):
    beta1, beta2 = betas
    if decay == "decoupled":
        param = param * (1 - lr * weight_decay)
    elif decay == "l2":
        grad = grad + weight_decay * param
    m, v = m * beta1 + grad * (1 - beta1), v * beta2 + grad * grad * (1 - beta2)
    m_hat, v_hat = (m / (1 - beta1**t), v / (1 - beta2**t)) if correct else (m, v)
    denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
    new = param - lr * m_hat / denom
    if decay == "after":
        new = new * (1 - lr * weight_decay)
    return new, m, v


def _adam_bug(**bug):
    return lambda *args, **kwargs: _adam(*args, **kwargs, **bug)


ADAM_HINTS = (
    _bug(_adam_bug(correct=False), "divide m by (1 - beta1**t) and v by (1 - beta2**t) (bias "
         "correction): m and v start at 0, so without it the first steps are far too small/large"),
    _bug(_adam_bug(decay="l2"), "AdamW's weight decay is decoupled: shrink the parameter, param * (1 - "
         "lr * weight_decay), instead of adding weight_decay * param to the gradient (that is Adam's L2)"),
    _bug(_adam_bug(decay="none"), "apply the weight decay: param * (1 - lr * weight_decay), before the "
         "Adam update"),
    _bug(_adam_bug(decay="after"), "torch.optim.AdamW decays the parameter BEFORE the Adam update: "
         "param * (1 - lr * weight_decay), then subtract lr * m_hat / (sqrt(v_hat) + eps)"),
    _bug(_adam_bug(eps_inside=True), "eps goes outside the square root: sqrt(v_hat) + eps"),
)


# ----------------------------------------------------------------------------- explicit examples


def _a(values):
    return np.array(values, dtype=np.float64)


def _ex(call):
    return Example(call, "")  # a classic-bug input; its diagnosis comes from the check's hints


X23, W34 = _a([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]), _a([[1.0, 0.0, -1.0, 2.0], [0.5, 1.0, 1.0, -1.0],
                                                         [2.0, -0.5, 0.0, 1.0]])
SQUARE = _a([[1.0, 2.0], [3.0, 4.0]])

numgrad_examples = (
    _ex(Call((np.var, _a([1.0, 2.0, 4.0])), {"h": 1e-2}, names=("f", "x"))),
    _ex(Call((np.linalg.norm, _a([[3.0, 4.0], [0.0, -1.0]])), {"h": 1e-3}, names=("f", "x"))),
    _ex(Call((np.prod, _a([[2.0, 3.0], [0.5, 1.0]])), names=("f", "x"))),
)
linear_backward_examples = (
    _ex(Call((_a([[1.0, 0.0, -1.0, 2.0], [0.5, 0.5, 0.5, 0.5]]), X23, W34), names=("dout", "x", "W"))),
    _ex(Call((_a([[1.0, -1.0]]), _a([[2.0, 1.0]]), SQUARE), names=("dout", "x", "W"))),  # batch 1
    _ex(Call((_a([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.zeros((3, 2)), SQUARE), names=("dout", "x", "W"))),
)
relu_examples = (
    _ex(Call((_a([1.0, 2.0, 3.0, 4.0]), _a([-1.0, 0.0, 0.5, 0.0])), names=("dout", "x"))),
    _ex(Call((_a([[2.0, -3.0], [1.0, 1.0]]), _a([[-2.0, 1.0], [-0.5, 3.0]])), names=("dout", "x"))),
)
Y3 = np.array([0, 2, 1])
LOGITS3 = _a([[2.0, 1.0, 0.1], [0.5, 0.5, 0.5], [-1.0, 3.0, 0.0]])
ce_examples = (
    _ex(Call((LOGITS3, Y3), names=("logits", "y"))),
    _ex(Call((_a([[1.0, -1.0]]), np.array([1])), names=("logits", "y"))),  # batch size 1
)
ce_large_examples = (
    _ex(Call((_a([[1000.0, 0.0, -1000.0], [-1e4, 1e4, 0.0]]), np.array([1, 1])), names=("logits", "y"))),
    _ex(Call((_a([[-1e4, -1e4 + 1.0]]), np.array([0])), names=("logits", "y"))),
)
P_SMALL = {"W1": _a([[1.0, -1.0, 0.5], [0.5, 2.0, -1.0]]), "b1": _a([0.0, 0.1, -0.2]),
           "W2": _a([[1.0, 0.0], [-1.0, 2.0], [0.5, 0.5]]), "b2": _a([0.1, -0.1])}
mlp_examples = (
    _ex(Call((P_SMALL, _a([[1.0, 2.0], [-1.0, 0.5], [0.0, 1.0]]), np.array([0, 1, 1])), names=("params", "X", "y"))),
    _ex(Call((P_SMALL, _a([[0.5, -0.5]]), np.array([1])), names=("params", "X", "y"))),  # batch size 1
)
P_ZERO = dict(P_SMALL, b1=np.zeros(3))
mlp_zero_examples = (  # zero inputs and zero bias: every hidden pre-activation is exactly 0
    _ex(Call((P_ZERO, np.zeros((2, 2)), np.array([0, 1])), names=("params", "X", "y"))),
)


def _sgd_call(param, grad, velocity, lr, **kwargs):
    return Call((_a(param), _a(grad), _a(velocity), lr), kwargs, names=("param", "grad", "velocity", "lr"))


sgd_examples = (
    _ex(_sgd_call([1.0, -2.0], [0.5, 1.0], [0.0, 0.0], 0.1, momentum=0.9)),  # step 1
    _ex(_sgd_call([1.0, -2.0], [0.5, 1.0], [1.0, -3.0], 0.1, momentum=0.9)),
)
sgd_decay_examples = (
    _ex(_sgd_call([1.0, -2.0], [0.0, 0.0], [1.0, -1.0], 0.1, momentum=0.9, weight_decay=0.5)),
)


def _adam_call(param, grad, m, v, t, **kwargs):
    return Call((_a(param), _a(grad), _a(m), _a(v), t), kwargs, names=("param", "grad", "m", "v", "t"))


adam_examples = (  # step 1: bias correction turns the first step into about lr * sign(grad)
    _ex(_adam_call([1.0, -2.0, 0.5], [0.1, -3.0, 0.0], [0.0] * 3, [0.0] * 3, 1, lr=0.1, weight_decay=0.0)),
    _ex(_adam_call([1.0, -2.0], [0.5, 0.5], [0.2, -0.1], [0.01, 0.3], 3, lr=0.01, eps=1e-3, weight_decay=0.0)),
)
adamw_examples = (  # zero gradient: only the decoupled decay moves the parameter
    _ex(_adam_call([1.0, -2.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], 1, lr=0.1, weight_decay=0.5)),
    _ex(_adam_call([1.0, -2.0], [0.3, -0.4], [0.1, 0.1], [0.02, 0.05], 4, lr=0.5, weight_decay=1.0)),
)


# ----------------------------------------------------------------------------- questions


def _check(name, function, inputs, points, oracle, examples=(), hints=(), compare=F64):
    return Check(name, function, inputs, points=points, examples=examples, compare=compare, hints=hints,
                 max_examples=EXAMPLES, oracle=oracle)


numgrad_q = Question(
    "numerical_gradient", functions=("numerical_gradient",),
    checks=(
        _check("central differences with the default h, NumPy functions of any shape", "numerical_gradient",
               numgrad_inputs(explicit_h=False), 1, None, numgrad_examples[2:], NUMGRAD_HINTS),
        _check("central differences with other steps h", "numerical_gradient", numgrad_inputs(explicit_h=True),
               1, None, numgrad_examples[:2], NUMGRAD_HINTS),
    ))

linear_q = Question(
    "linear", functions=("linear_forward", "linear_backward"),
    checks=(
        _check("linear_forward matches torch", "linear_forward", linear_inputs(False), 1, torch_linear_forward),
        _check("linear_backward matches torch autograd (batch size 1 and zero inputs included)", "linear_backward",
               linear_inputs(True, zeros=True), 2, torch_linear_backward, linear_backward_examples, LINEAR_HINTS),
    ))

relu_q = Question(
    "relu", functions=("relu_forward", "relu_backward"),
    checks=(
        _check("relu_forward matches torch", "relu_forward", relu_inputs(False), 0.5, torch_relu_forward),
        _check("relu_backward matches torch autograd, with inputs exactly 0", "relu_backward", relu_inputs(True),
               1.5, torch_relu_backward, relu_examples, RELU_HINTS),
    ))

ce_q = Question(
    "softmax_cross_entropy", functions=("softmax_cross_entropy_forward", "softmax_cross_entropy_backward"),
    checks=(
        _check("forward matches torch's cross_entropy (|logits| <= 5)", "softmax_cross_entropy_forward",
               logit_inputs(5.0), 1, torch_cross_entropy_forward, ce_examples, CE_FORWARD_HINTS),
        _check("forward stays exact for large logits (up to 1e4)", "softmax_cross_entropy_forward",
               logit_inputs(1e4), 0.5, torch_cross_entropy_forward, ce_large_examples, CE_FORWARD_HINTS),
        _check("backward matches torch autograd (|logits| <= 5)", "softmax_cross_entropy_backward",
               logit_inputs(5.0), 1, torch_cross_entropy_backward, ce_examples, CE_BACKWARD_HINTS),
        _check("backward stays exact for large logits (up to 1e4)", "softmax_cross_entropy_backward",
               logit_inputs(1e4), 0.5, torch_cross_entropy_backward, ce_large_examples, CE_BACKWARD_HINTS),
    ))

mlp_q = Question(
    "mlp", functions=("mlp_loss_and_grads",),
    checks=(
        _check("loss and every gradient match torch autograd", "mlp_loss_and_grads", mlp_inputs(), 2,
               torch_mlp_loss_and_grads, mlp_examples, MLP_HINTS),
        _check("zero inputs: hidden units exactly at the ReLU's kink", "mlp_loss_and_grads",
               mlp_inputs(zeros=True), 1, torch_mlp_loss_and_grads, mlp_zero_examples, MLP_HINTS),
    ))

sgd_q = Question(
    "sgd_momentum", functions=("sgd_momentum_step",),
    checks=(
        _check("matches torch.optim.SGD(momentum) along its trajectories", "sgd_momentum_step",
               sgd_inputs(decay=False), 1, torch_sgd_step, sgd_examples, SGD_HINTS),
        _check("with weight_decay, matches torch.optim.SGD", "sgd_momentum_step", sgd_inputs(decay=True), 1,
               torch_sgd_step, sgd_decay_examples, SGD_HINTS),
    ))

adamw_q = Question(
    "adamw", functions=("adamw_step",),
    checks=(
        _check("weight_decay=0 (Adam) matches torch.optim.AdamW along its trajectories", "adamw_step",
               adam_inputs(decay=False), 1.5, torch_adamw_step, adam_examples, ADAM_HINTS),
        _check("decoupled weight decay matches torch.optim.AdamW", "adamw_step", adam_inputs(decay=True), 1.5,
               torch_adamw_step, adamw_examples, ADAM_HINTS),
    ))

UNIT = Unit(
    name="backprop",
    questions=(numgrad_q, linear_q, relu_q, ce_q, mlp_q, sgd_q, adamw_q),
    banned=BANNED,
    mutation_floor=0.9,  # make audit: 100% (51 killed, 3 probably equivalent); make test checks a sample
)
