"""Wrong: weight decay as an L2 penalty added to the gradient (Adam's), not decoupled
(AdamW's); right when weight_decay = 0, so only the decay check can tell."""

LOSES = {"adamw"}
HINT = "decoupled"
SAMPLE = True  # the unit's sample wrong entry: graded in a Gradescope tree and both ways by the fast path

import numpy as np


def adamw_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    b1, b2 = betas
    g = grad + weight_decay * param
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g ** 2
    mhat = m / (1 - b1 ** t)
    vhat = v / (1 - b2 ** t)
    return param - lr * mhat / (np.sqrt(vhat) + eps), m, v
