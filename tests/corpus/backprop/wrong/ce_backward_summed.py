"""Wrong: the gradient of the summed loss, not the batch mean (no 1/N)."""

LOSES = {"softmax_cross_entropy"}
HINT = "factor 1/N"

import numpy as np


def softmax_cross_entropy_backward(logits, y):
    z = logits - np.max(logits, axis=1, keepdims=True)
    p = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    return p
