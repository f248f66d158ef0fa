"""Wrong (cheating): the MLP's gradients from torch autograd instead of backpropagation by
hand. All of torch is banned inside the student's functions: the question scores 0."""

LOSES = {"mlp"}
HINT = "called torch.tensor"

import torch


def mlp_loss_and_grads(params, X, y):
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.relu(torch.tensor(X) @ p["W1"] + p["b1"])
    loss = torch.nn.functional.cross_entropy(h @ p["W2"] + p["b2"], torch.tensor(y))
    loss.backward()
    return loss.item(), {k: t.grad.numpy() for k, t in p.items()}
