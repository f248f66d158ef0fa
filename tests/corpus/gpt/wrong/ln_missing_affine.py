"""Bug: no affine map: weight and bias are ignored."""

LOSES = {"layer_norm"}
HINT = "without the affine map"


def layer_norm(x, weight, bias, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps)
