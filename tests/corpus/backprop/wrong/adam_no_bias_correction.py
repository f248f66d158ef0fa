"""Wrong: Adam without bias correction (m and v used as they are)."""

LOSES = {"adamw"}
HINT = "bias correction"

import numpy as np


def adamw_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    b1, b2 = betas
    p = param * (1 - lr * weight_decay)
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad ** 2
    return p - lr * m / (np.sqrt(v) + eps), m, v
