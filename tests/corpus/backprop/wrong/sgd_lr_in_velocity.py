"""Wrong: momentum applied to the wrong term: the learning rate goes into the velocity
(v = mu v + lr g, param - v), so the velocity returned is lr times torch's buffer."""

LOSES = {"sgd_momentum"}
HINT = "without lr"


def sgd_momentum_step(param, grad, velocity, lr, momentum=0.9, weight_decay=0.0):
    v = momentum * velocity + lr * (grad + weight_decay * param)
    return param - v, v
