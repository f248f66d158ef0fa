"""Bug: the sigmoid approximation x * sigmoid(1.702 x) instead of the exact GELU."""

LOSES = {"gelu"}
HINT = "sigmoid approximation"


def gelu(x):
    return x * torch.sigmoid(1.702 * x)
