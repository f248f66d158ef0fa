"""Wrong: momentum as an exponential average, v = mu v + (1 - mu) g (dampening = momentum),
not torch's v = mu v + g."""

LOSES = {"sgd_momentum"}
HINT = "dampening=0"


def sgd_momentum_step(param, grad, velocity, lr, momentum=0.9, weight_decay=0.0):
    g = grad + weight_decay * param
    v = momentum * velocity + (1 - momentum) * g
    return param - lr * v, v
