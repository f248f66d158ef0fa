"""Bug: the unbiased variance (divide by D - 1), torch.var's default."""

LOSES = {"layer_norm"}
HINT = "unbiased variance"


def layer_norm(x, weight, bias, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True)
    return weight * (x - mu) / torch.sqrt(var + eps) + bias
