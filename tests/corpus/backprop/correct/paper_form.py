"""Correct, written differently: the ReLU mask as a float array, the softmax gradient from
probabilities computed with np.exp(logits - max) / sum, the SGD velocity from the textbook
"v = mu v - lr g" form converted back to torch's buffer, and Adam in the paper's efficient
form (step size lr * sqrt(1 - beta2^t) / (1 - beta1^t), eps scaled to match torch)."""

import math

import numpy as np


def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros(x.shape)
    it = np.nditer(x, flags=["multi_index"])
    while not it.finished:
        i = it.multi_index
        e = np.zeros(x.shape)
        e[i] = h
        grad[i] = (f(x + e) - f(x - e)) / (2 * h)
        it.iternext()
    return grad


def linear_forward(x, W, b):
    return np.dot(x, W) + b


def linear_backward(dout, x, W):
    return np.dot(dout, W.T), np.dot(x.T, dout), dout.sum(axis=0)


def relu_forward(x):
    return x * (x > 0)


def relu_backward(dout, x):
    mask = (x > 0).astype(np.float64)
    return mask * dout


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_cross_entropy_forward(logits, y):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=-1))
    return float(np.sum(log_norm - shifted[np.arange(y.shape[0]), y]) / y.shape[0])


def softmax_cross_entropy_backward(logits, y):
    g = _softmax(logits)
    g[np.arange(y.shape[0]), y] -= 1.0
    return g / y.shape[0]


def mlp_loss_and_grads(params, X, y):
    z = linear_forward(X, params["W1"], params["b1"])
    h = relu_forward(z)
    out = linear_forward(h, params["W2"], params["b2"])
    dout = softmax_cross_entropy_backward(out, y)
    dh, dW2, db2 = linear_backward(dout, h, params["W2"])
    _, dW1, db1 = linear_backward(relu_backward(dh, z), X, params["W1"])
    grads = dict(W1=dW1, b1=db1, W2=dW2, b2=db2)
    return softmax_cross_entropy_forward(out, y), grads


def sgd_momentum_step(param, grad, velocity, lr, momentum=0.9, weight_decay=0.0):
    g = grad + weight_decay * param
    v_textbook = momentum * (-lr * velocity) - lr * g  # v <- mu v - lr g, with v = -lr * buffer
    return param + v_textbook, v_textbook / -lr


def adamw_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * np.square(grad)
    alpha = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    eps_hat = eps * math.sqrt(1 - beta2 ** t)
    return param * (1 - lr * weight_decay) - alpha * m / (np.sqrt(v) + eps_hat), m, v
