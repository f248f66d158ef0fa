"""Hostile: make every comparison function in the student's process say "equal" (torch.allclose,
torch.testing.assert_close, torch.equal, Tensor.equal/allclose, numpy's allclose and friends),
and make NaN look finite. Comparisons happen in the trusted process, so this gains nothing."""

BASE = "wrong/neg_inf_nan_rows"

# %% last
import numpy as np
import torch


def _yes(*args, **kwargs):
    return True


def _quiet(*args, **kwargs):
    return None


torch.allclose = _yes
torch.equal = _yes
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
torch.isnan = lambda t: torch.zeros_like(t, dtype=torch.bool)
torch.testing.assert_close = _quiet
torch.Tensor.equal = _yes
torch.Tensor.allclose = _yes
np.allclose = _yes
np.array_equal = _yes
np.testing.assert_allclose = _quiet
np.testing.assert_array_equal = _quiet
