"""Wrong: the ReLU mask taken from the output, relu(x) >= 0, which is true everywhere."""

LOSES = {"relu"}
HINT = "mask from the output"

import numpy as np


def relu_backward(dout, x):
    out = np.maximum(x, 0)
    return dout * (out >= 0)
