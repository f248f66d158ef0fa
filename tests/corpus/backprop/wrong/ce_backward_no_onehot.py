"""Wrong: the softmax gradient without subtracting the one-hot target."""

LOSES = {"softmax_cross_entropy"}
HINT = "onehot(y)"

import numpy as np


def softmax_cross_entropy_backward(logits, y):
    z = logits - np.max(logits, axis=1, keepdims=True)
    p = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
    return p / len(y)
