"""Wrong: the one-sided difference (f(x + h e_i) - f(x)) / h, accurate to O(h) only."""

LOSES = {"numerical_gradient"}
HINT = "central difference"

import numpy as np


def numerical_gradient(f, x, h=1e-5):
    x = x.astype(np.float64).copy()
    grad = np.zeros_like(x)
    fx = f(x)
    for idx in np.ndindex(x.shape):
        saved = x[idx]
        x[idx] = saved + h
        grad[idx] = (f(x) - fx) / h
        x[idx] = saved
    return grad
