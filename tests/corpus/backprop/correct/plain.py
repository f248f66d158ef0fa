"""Correct: the straightforward solution a student writes after reading the notebook; the MLP
reuses the layer functions (so a bug in a layer also costs the MLP question)."""

import numpy as np


def numerical_gradient(f, x, h=1e-5):
    x = x.astype(np.float64).copy()
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        saved = x[idx]
        x[idx] = saved + h
        fp = f(x)
        x[idx] = saved - h
        fm = f(x)
        x[idx] = saved
        grad[idx] = (fp - fm) / (2 * h)
    return grad


def linear_forward(x, W, b):
    return x @ W + b


def linear_backward(dout, x, W):
    return dout @ W.T, x.T @ dout, np.sum(dout, axis=0)


def relu_forward(x):
    return np.maximum(0, x)


def relu_backward(dout, x):
    return dout * (x > 0)


def softmax_cross_entropy_forward(logits, y):
    z = logits - np.max(logits, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(y)), y])


def softmax_cross_entropy_backward(logits, y):
    z = logits - np.max(logits, axis=1, keepdims=True)
    p = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    return p / len(y)


def mlp_loss_and_grads(params, X, y):
    pre = linear_forward(X, params["W1"], params["b1"])
    h = relu_forward(pre)
    logits = linear_forward(h, params["W2"], params["b2"])
    loss = softmax_cross_entropy_forward(logits, y)
    dlogits = softmax_cross_entropy_backward(logits, y)
    dh, dW2, db2 = linear_backward(dlogits, h, params["W2"])
    dpre = relu_backward(dh, pre)
    _, dW1, db1 = linear_backward(dpre, X, params["W1"])
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def sgd_momentum_step(param, grad, velocity, lr, momentum=0.9, weight_decay=0.0):
    g = grad + weight_decay * param
    v = momentum * velocity + g
    return param - lr * v, v


def adamw_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    b1, b2 = betas
    p = param * (1 - lr * weight_decay)
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad ** 2
    mhat = m / (1 - b1 ** t)
    vhat = v / (1 - b2 ** t)
    return p - lr * mhat / (np.sqrt(vhat) + eps), m, v
