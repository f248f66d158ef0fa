"""Hypothesis strategies for tensors: small by default, so shrunk failures stay readable."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FLOAT_DTYPES = (torch.float32, torch.float64)
_NUMPY = {torch.float32: np.float32, torch.float64: np.float64, torch.bool: np.bool_}


def dtypes() -> st.SearchStrategy[torch.dtype]:
    return st.sampled_from(FLOAT_DTYPES)


def shapes(min_dims: int = 1, max_dims: int = 4, min_side: int = 1, max_side: int = 5):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def floats(shape, dtype: torch.dtype, bound: float) -> st.SearchStrategy[torch.Tensor]:
    """A tensor of `shape` with finite values in [-bound, bound], exactly representable in dtype."""
    width = 32 if dtype == torch.float32 else 64
    elements = st.floats(-bound, bound, width=width, allow_nan=False, allow_infinity=False,
                         allow_subnormal=False)
    return hnp.arrays(_NUMPY[dtype], shape, elements=elements).map(torch.from_numpy)


def bools(shape) -> st.SearchStrategy[torch.Tensor]:
    return hnp.arrays(np.bool_, shape).map(torch.from_numpy)


@st.composite
def broadcast_shape(draw, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts against `shape`: some leading dims dropped, some sizes set to 1."""
    keep = draw(st.integers(1, len(shape)))
    trailing = shape[len(shape) - keep:]
    return tuple(draw(st.sampled_from([1, n])) if n > 1 else n for n in trailing)


def tensor(values, dtype=torch.float32) -> torch.Tensor:
    """A literal tensor, for explicit examples in specs."""
    return torch.tensor(values, dtype=dtype)
