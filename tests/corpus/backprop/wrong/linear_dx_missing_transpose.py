"""Wrong: dx = dout @ W, the missing transpose (shapes only agree when W is square)."""

LOSES = {"linear"}
HINT = "raised ValueError"


def linear_backward(dout, x, W):
    return dout @ W, x.T @ dout, dout.sum(axis=0)
