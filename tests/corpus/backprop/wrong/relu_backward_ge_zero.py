"""Wrong: the ReLU gradient with the wrong boundary, x >= 0 (1 at exactly 0 instead of 0)."""

LOSES = {"relu"}
HINT = "x > 0, not x >= 0"


def relu_backward(dout, x):
    return dout * (x >= 0)
