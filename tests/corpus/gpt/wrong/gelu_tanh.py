"""Bug: the tanh approximation of GELU (GPT-2's original code) instead of the exact one."""

LOSES = {"gelu"}
HINT = "tanh approximation"


def gelu(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
