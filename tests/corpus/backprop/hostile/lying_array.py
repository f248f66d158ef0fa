"""Hostile: return an ndarray subclass whose comparisons always say "equal" and whose
isfinite/allclose lie, hoping the grader compares with ==. Only plain arrays cross the wire:
a subclass is reported as a wrong type, so it gains nothing over the broken base."""

BASE = "wrong/relu_mask_from_output"
ATTACKS = {"mlp"}  # the lying array flows into the MLP, whose answer is then of the wrong type (no follow-through)

# %% functions
import numpy as np


class Agreeable(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)

    def __ne__(self, other):
        return np.zeros(self.shape, dtype=bool)

    def all(self, *args, **kwargs):
        return True


def relu_backward(dout, x):
    return (dout * (x > 0)).view(Agreeable)
