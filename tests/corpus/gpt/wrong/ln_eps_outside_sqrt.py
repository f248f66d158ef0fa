"""Bug: eps added outside the square root: (x - mean) / (sqrt(var) + eps)."""

LOSES = {"layer_norm"}


def layer_norm(x, weight, bias, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    return weight * (x - mu) / (var.sqrt() + eps) + bias
