"""Reference solution for the `backprop` unit: backpropagation and optimizers by hand, in NumPy.

HIDDEN: this file is the grader's source of truth and is never shipped to students.
The docstrings below are copied verbatim into the stub notebook by
assignments/backprop/make_notebook.py, so they are written for students: they state every
shape and convention the grader expects. The code is not copied anywhere.

Conventions (docs/units/backprop.md): arrays are float64 NumPy arrays, labels int64; a batch
is the first axis; losses are means over the batch, so every gradient already carries the
1/N; a linear layer is x @ W + b with W [D_in, D_out]; the ReLU's gradient at exactly 0 is 0
(as torch's); the optimizers follow torch.optim.SGD and torch.optim.AdamW exactly; no input
is ever modified in place; torch is not used.
"""

import numpy as np

# -----------------------------------------------------------------------------
# gradient checking


def numerical_gradient(f, x, h=1e-5):
    """The gradient of a scalar function `f` at `x`, estimated by central differences.

    For every index i of x (x can have any shape), with e_i the array that is 1 at i and 0
    elsewhere:

        grad[i] = (f(x + h * e_i) - f(x - h * e_i)) / (2 * h)

    Central differences are accurate to O(h^2); the one-sided (f(x + h e_i) - f(x)) / h is
    only O(h) and is not what is asked. Use this to check every analytic gradient you write.

    Args:
        f: a function that takes an array shaped like x and returns a number.
        x: a float64 array of any shape.
        h: the step, a small positive number.

    Returns:
        A float64 array shaped like x. x itself must be unchanged afterwards: perturb a copy
        (or put every entry back exactly as it was).
    """
    x = np.array(x, dtype=np.float64)  # a private copy: we perturb it entry by entry
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        f_plus = f(x)
        x[i] = old - h
        f_minus = f(x)
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


# -----------------------------------------------------------------------------
# layers: each forward has a backward that maps dL/d(output) to dL/d(inputs)


def linear_forward(x, W, b):
    """A fully connected layer: out = x @ W + b.

    Args:
        x: inputs, float64 [N, D_in] (N examples, one per row).
        W: weights, float64 [D_in, D_out] (note: [in, out], so no transpose in the forward).
        b: bias, float64 [D_out], added to every row.

    Returns:
        out: float64 [N, D_out].
    """
    return x @ W + b


def linear_backward(dout, x, W):
    """The gradients of a loss L through out = x @ W + b, given dout = dL/dout.

    Args:
        dout: float64 [N, D_out], the gradient of the loss with respect to the layer's output.
        x: float64 [N, D_in], the layer's input in the forward pass.
        W: float64 [D_in, D_out], the layer's weights.

    Returns:
        (dx, dW, db): dL/dx [N, D_in], dL/dW [D_in, D_out] and dL/db [D_out], each shaped like
        the forward argument it belongs to. The batch mean of the loss is already inside dout,
        so dW and db SUM the contributions of the N examples (do not divide by N again).
    """
    dx = dout @ W.T  # [N, D_out] @ [D_out, D_in]
    dW = x.T @ dout  # [D_in, N] @ [N, D_out]
    db = dout.sum(axis=0)  # b is added to every row
    return dx, dW, db


def relu_forward(x):
    """The rectified linear unit, elementwise: out = max(x, 0).

    Args:
        x: float64 array of any shape.

    Returns:
        out: float64 array shaped like x.
    """
    return np.maximum(x, 0.0)


def relu_backward(dout, x):
    """The gradient through out = relu(x), given dout = dL/dout.

    dx = dout where x > 0, and 0 where x <= 0. At exactly x = 0, where the ReLU has no
    derivative, the gradient is 0 (the convention of torch.relu). Decide from the INPUT x:
    the output is >= 0 everywhere, so it cannot tell x = 0 from x < 0.

    Args:
        dout: float64 array, the gradient of the loss with respect to relu(x).
        x: float64 array shaped like dout, the ReLU's input in the forward pass.

    Returns:
        dx: float64 array shaped like x.
    """
    return dout * (x > 0)


def _log_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)  # exp never overflows: max is 0
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax_cross_entropy_forward(logits, y):
    """The mean cross-entropy loss of softmax(logits) against the integer labels y.

        loss = mean over n of -log(softmax(logits[n])[y[n]])

    It must stay finite and exact for large logits (|logits| up to 1e4): subtract each
    row's maximum before exp (that changes nothing mathematically).

    Args:
        logits: float64 [N, C], one row of class scores per example.
        y: int64 [N], the correct class of each example, in 0 .. C-1.

    Returns:
        loss: a float (a Python float or a NumPy float64 scalar).
    """
    n = logits.shape[0]
    return float(-_log_softmax(logits)[np.arange(n), y].mean())


def softmax_cross_entropy_backward(logits, y):
    """The gradient of softmax_cross_entropy_forward(logits, y) with respect to the logits.

        dlogits[n] = (softmax(logits[n]) - onehot(y[n])) / N

    The one-hot is subtracted because the loss is -log p[y]; the 1/N is there because the
    loss is a mean over the batch. Stable for |logits| up to 1e4, like the forward.

    Args:
        logits: float64 [N, C].
        y: int64 [N], in 0 .. C-1.

    Returns:
        dlogits: float64 [N, C]. Each row sums to 0.
    """
    n = logits.shape[0]
    dlogits = np.exp(_log_softmax(logits))  # the probabilities [N, C]
    dlogits[np.arange(n), y] -= 1.0
    return dlogits / n


# -----------------------------------------------------------------------------
# a two-layer MLP: linear -> relu -> linear -> softmax cross-entropy


def mlp_loss_and_grads(params, X, y):
    """The loss of a two-layer MLP classifier and the gradient of every parameter.

        h      = relu(X @ W1 + b1)          # [N, H]
        logits = h @ W2 + b2                # [N, C]
        loss   = softmax_cross_entropy_forward(logits, y)

    Args:
        params: a dict with keys "W1" [D, H], "b1" [H], "W2" [H, C], "b2" [C] (float64).
        X: float64 [N, D], one example per row.
        y: int64 [N], labels in 0 .. C-1.

    Returns:
        (loss, grads): the loss (a float) and a dict with the same keys as params, where
        grads[k] = dloss/dparams[k] has the shape of params[k]. params is not modified.
    """
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    # forward, keeping what the backward needs
    z1 = linear_forward(X, W1, b1)  # [N, H] pre-activations
    a1 = relu_forward(z1)  # [N, H]
    scores = linear_forward(a1, W2, b2)  # [N, C]
    loss = softmax_cross_entropy_forward(scores, y)
    # backward, in the reverse order
    dscores = softmax_cross_entropy_backward(scores, y)  # [N, C], carries the 1/N
    da1, dW2, db2 = linear_backward(dscores, a1, W2)
    dz1 = relu_backward(da1, z1)
    _, dW1, db1 = linear_backward(dz1, X, W1)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


# -----------------------------------------------------------------------------
# optimizers: one step each, state in and state out (nothing is updated in place)


def sgd_momentum_step(param, grad, velocity, lr, momentum=0.9, weight_decay=0.0):
    """One step of SGD with momentum, exactly as torch.optim.SGD(params, lr, momentum,
    dampening=0, weight_decay, nesterov=False) takes it:

        g        = grad + weight_decay * param     # L2 weight decay goes into the gradient
        velocity = momentum * velocity + g         # torch's "momentum_buffer"
        param    = param - lr * velocity

    The velocity starts as zeros before the first step (torch starts its buffer at g, the
    same thing when dampening = 0). Note where lr goes: it scales the step, not the velocity.

    Args:
        param: float64 array, the parameter before the step.
        grad: float64 array shaped like param, dL/dparam at param.
        velocity: float64 array shaped like param, the velocity after the previous step.
        lr: learning rate (> 0); momentum: in [0, 1); weight_decay: >= 0.

    Returns:
        (new_param, new_velocity), both shaped like param. The inputs are not modified.
    """
    d_p = grad + weight_decay * param  # torch's name for the direction it steps along
    new_velocity = momentum * velocity + d_p
    return param - lr * new_velocity, new_velocity


def adamw_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    """One step of AdamW, exactly as torch.optim.AdamW(params, lr, betas, eps, weight_decay)
    takes it (with weight_decay=0 it is Adam):

        param = param * (1 - lr * weight_decay)    # decoupled: NOT added to the gradient
        m     = beta1 * m + (1 - beta1) * grad
        v     = beta2 * v + (1 - beta2) * grad**2
        m_hat = m / (1 - beta1**t)                 # bias correction: m and v start at 0
        v_hat = v / (1 - beta2**t)
        param = param - lr * m_hat / (sqrt(v_hat) + eps)

    Args:
        param: float64 array, the parameter before the step.
        grad: float64 array shaped like param.
        m, v: float64 arrays shaped like param, the first and second moment estimates after
            the previous step (zeros before the first step).
        t: the number of this step, counting from 1 (an int).
        lr, betas=(beta1, beta2), eps, weight_decay: as in torch.optim.AdamW.

    Returns:
        (new_param, new_m, new_v), each shaped like param. The inputs are not modified.
    """
    beta1, beta2 = betas
    decayed = param * (1 - lr * weight_decay)  # AdamW's decay happens before, and apart from, Adam
    m_new = beta1 * m + (1 - beta1) * grad  # moving averages of the gradient and its square
    v_new = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m_new / (1 - beta1**t)  # both averages start at 0: correct their bias towards 0
    v_hat = v_new / (1 - beta2**t)
    return decayed - lr * m_hat / (np.sqrt(v_hat) + eps), m_new, v_new
