"""Bug: eps added outside the square root: (x - mean) / (sqrt(var) + eps).

The student's GPT normalises with this layer_norm: its logits differ from the reference's (a
drawn config with d_model = 2 has a row of small variance), but they are the reference GPT's
with this layer_norm, so GPT keeps its points (follow-through)."""

LOSES = {"layer_norm"}
HINT = "eps added outside the square root"


def layer_norm(x, weight, bias, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    return weight * (x - mu) / (var.sqrt() + eps) + bias
