"""Wrong: perturbs x itself and "restores" it by adding h back once, so x ends up changed
(x[i] - h instead of x[i]): the caller's array is modified in place."""

LOSES = {"numerical_gradient"}
HINT = "modified its input in place"

import numpy as np


def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        x[idx] += h
        fp = f(x)
        x[idx] -= 2 * h
        fm = f(x)
        grad[idx] = (fp - fm) / (2 * h)
    return grad
