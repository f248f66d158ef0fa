"""Wrong: a self-contained MLP whose loss and gradients are summed over the batch instead of
averaged (correct layer functions, the 1/N forgotten in the MLP's own loss)."""

LOSES = {"mlp"}
HINT = "MEAN over the batch"

import numpy as np


def mlp_loss_and_grads(params, X, y):
    pre = X @ params["W1"] + params["b1"]
    h = np.maximum(pre, 0)
    logits = h @ params["W2"] + params["b2"]
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(len(y)), y].sum()
    dlogits = np.exp(logp)
    dlogits[np.arange(len(y)), y] -= 1
    dh = dlogits @ params["W2"].T
    dpre = dh * (pre > 0)
    return loss, {"W1": X.T @ dpre, "b1": dpre.sum(0), "W2": h.T @ dlogits, "b2": dlogits.sum(0)}
