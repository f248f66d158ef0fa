"""Reference solution for the `softmax` unit: softmax, log-softmax, masking.

HIDDEN: this file is the grader's source of truth and is never shipped to students.
The docstrings below are copied verbatim into the stub notebook by
assignments/softmax/make_notebook.py, so they are written for students: they state every
convention and every ValueError the grader expects. The code is not copied anywhere.

Conventions (docs/student-api.md): any number of leading batch dims, the result has the input's
dtype and device, inputs are never modified in place, masks are bool with True = keep,
a fully masked row gives all zeros (never NaN), results stay finite for float32 logits up
to 1e4 in magnitude. None of torch's own softmax/log_softmax functions are used.
"""

import operator

import torch

# float16/bfloat16 have a tiny exponent range and ~3 significant digits: we do the arithmetic
# in float32 and round once at the end, like PyTorch's own kernels do.
_LOW_PRECISION = (torch.float16, torch.bfloat16)


# -----------------------------------------------------------------------------
# argument checking: every invalid argument is a ValueError that names the problem


def _check_logits(x, name="x"):
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.dim() == 0:
        raise ValueError(f"{name} must have at least one dimension, got a 0-d tensor")


def _check_dim(x, dim):
    # returns dim as a non-negative index; negative dims count from the end, as in torch
    if isinstance(dim, bool):
        raise ValueError(f"dim must be an int, got {dim!r}")
    try:
        dim = operator.index(dim)
    except TypeError:
        raise ValueError(f"dim must be an int, got {type(dim).__name__}") from None
    if not -x.dim() <= dim < x.dim():
        raise ValueError(f"dim={dim} is out of range for a tensor with {x.dim()} dimensions "
                         f"(valid: {-x.dim()} to {x.dim() - 1})")
    return dim % x.dim()


def _check_size(value, name):
    # a non-negative Python int (or anything int-like, e.g. numpy.int64); bool is refused
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an int, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an int, got {type(value).__name__}") from None
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _upcast(x):
    return x.float() if x.dtype in _LOW_PRECISION else x


# -----------------------------------------------------------------------------
# softmax and log-softmax


def softmax(x, dim=-1):
    """Numerically stable softmax of `x` along dimension `dim`.

        softmax(x)_i = exp(x_i) / sum_j exp(x_j)

    Args:
        x: floating-point tensor of any shape [..., n, ...] with at least one dimension
           (float32 or float64; float16/bfloat16 also work, but the grader does not test them).
        dim: the dimension to normalise over; negative values count from the end
             (dim=-1 is the last dimension).

    Returns:
        A tensor of the same shape, dtype and device as `x`, whose values along `dim` are
        in [0, 1] and sum to 1. It stays finite for logits as large as 1e4 in float32.
        `x` is not modified.

    Raises:
        ValueError: if `x` is not a floating-point tensor, is 0-dimensional, or if `dim`
            is not an int in the range [-x.dim(), x.dim() - 1].
    """
    _check_logits(x)
    dim = _check_dim(x, dim)
    if x.numel() == 0:
        return torch.empty_like(x)
    z = _upcast(x)
    # softmax(x) = softmax(x - c) for any constant c. With c = max(x) every exponent is
    # <= 0, so exp never overflows (exp(89) is already inf in float32), and the largest
    # term is exp(0) = 1, so the sum is >= 1 and we never divide by 0.
    z = z - z.amax(dim=dim, keepdim=True)  # [..., n, ...] - [..., 1, ...]
    e = z.exp()
    out = e / e.sum(dim=dim, keepdim=True)
    return out.to(x.dtype)


def log_softmax(x, dim=-1):
    """Numerically stable log-softmax of `x` along dimension `dim`.

        log_softmax(x)_i = x_i - log(sum_j exp(x_j))

    computed without ever taking the log of a probability, so it stays finite wherever
    the true value is finite: log_softmax([0., -1e4]) is [0., -1e4], whereas
    log(softmax(x)) would give log(0) = -inf for the second entry.

    Args:
        x: floating-point tensor of any shape [..., n, ...] with at least one dimension
           (float32 or float64; float16/bfloat16 also work, but the grader does not test them).
        dim: the dimension to normalise over; negative values count from the end.

    Returns:
        A tensor of the same shape, dtype and device as `x`, with values <= 0 whose
        exponentials sum to 1 along `dim`. `x` is not modified.

    Raises:
        ValueError: if `x` is not a floating-point tensor, is 0-dimensional, or if `dim`
            is not an int in the range [-x.dim(), x.dim() - 1].
    """
    _check_logits(x)
    dim = _check_dim(x, dim)
    if x.numel() == 0:
        return torch.empty_like(x)
    z = _upcast(x)
    # log(sum_j exp(x_j)) = m + log(sum_j exp(x_j - m)) with m = max(x): the sum is in
    # [1, n], so its log is tame, and x - m is exact-ish and never overflows.
    z = z - z.amax(dim=dim, keepdim=True)  # [..., n, ...], all <= 0
    out = z - z.exp().sum(dim=dim, keepdim=True).log()
    return out.to(x.dtype)


# -----------------------------------------------------------------------------
# masking


def masked_softmax(x, mask, dim=-1):
    """Softmax of `x` along `dim` over the positions where `mask` is True only.

    Masked-out positions (mask False) get probability exactly 0.0 and have no influence
    on the others: the kept positions of each slice along `dim` sum to 1. A slice in
    which every position is masked out gives all zeros (not NaN).

    Args:
        x: floating-point tensor [..., n, ...] with at least one dimension.
        mask: torch.bool tensor, True = keep. It must broadcast to x's shape without
              changing it (it may have fewer dimensions, e.g. a [Lq, Lk] mask for scores
              of shape [B, H, Lq, Lk], or size-1 dimensions, e.g. [B, 1, 1, Lk]), and be
              on the same device as `x`.
        dim: the dimension to normalise over; negative values count from the end.

    Returns:
        A tensor of the same shape, dtype and device as `x`. Neither `x` nor `mask` is
        modified.

    Raises:
        ValueError: if `x` is not a floating-point tensor or is 0-dimensional; if `dim` is
            out of range; if `mask` is not a tensor of dtype torch.bool; if `mask` does not
            broadcast to x's shape (or would make the result larger than `x`); if `mask`
            is on another device.
    """
    _check_logits(x)
    dim = _check_dim(x, dim)
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"mask must be a torch.Tensor of dtype torch.bool, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must have dtype torch.bool (True = keep), got {mask.dtype}")
    try:
        shape = torch.broadcast_shapes(mask.shape, x.shape)
    except RuntimeError:
        shape = None
    if shape != x.shape:
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to "
                         f"x's shape {tuple(x.shape)}")
    if mask.device != x.device:
        raise ValueError(f"mask is on {mask.device} but x is on {x.device}")
    if x.numel() == 0:
        return torch.empty_like(x)

    z = _upcast(x)
    # A masked logit becomes -inf: it can never be the max, and exp(-inf) is exactly 0,
    # so masked positions get exactly 0 and add nothing to the sum.
    z = z.masked_fill(~mask, float("-inf"))  # new tensor; x is untouched
    m = z.amax(dim=dim, keepdim=True)  # [..., 1, ...]
    # In a fully masked slice the max is -inf too, and -inf - (-inf) = NaN. Any finite
    # shift is as good as another there, so use 0: the slice stays all -inf, exp gives 0.
    m = m.masked_fill(m == float("-inf"), 0.0)
    e = (z - m).exp()
    s = e.sum(dim=dim, keepdim=True)
    # A slice with at least one kept position has s >= exp(0) = 1. A fully masked slice
    # has s = 0, and 0 / 0 = NaN: divide by 1 instead, which leaves its zeros alone (and
    # keeps gradients finite, unlike torch.where on the NaN result).
    s = s.masked_fill(s == 0, 1.0)
    out = e / s
    return out.to(x.dtype)


def causal_mask(q_len, k_len=None, *, device=None):
    """Boolean causal mask of shape [q_len, k_len]: True where query i may attend to key j.

        mask[i, j] = j <= i + (k_len - q_len)

    The mask is aligned bottom-right: the last query sits at the last key. With a KV cache,
    the q_len new queries are the last q_len positions of a sequence of k_len tokens, so
    query i is at absolute position i + (k_len - q_len) and sees every key up to and
    including its own position. For q_len == k_len this is the usual lower triangle
    (j <= i). If k_len < q_len, the first q_len - k_len rows are all False (those queries
    would sit before the first key; a masked softmax turns them into rows of zeros).

    Args:
        q_len: number of queries, an int >= 0.
        k_len: number of keys, an int >= 0; defaults to q_len.
        device: device of the result (None: the default device, usually the CPU).

    Returns:
        A torch.bool tensor of shape [q_len, k_len].

    Raises:
        ValueError: if q_len or k_len is not an int (bool is refused) or is negative.
    """
    q_len = _check_size(q_len, "q_len")
    k_len = q_len if k_len is None else _check_size(k_len, "k_len")
    i = torch.arange(q_len, device=device).unsqueeze(1)  # [q_len, 1]  query index
    j = torch.arange(k_len, device=device).unsqueeze(0)  # [1, k_len]  key index
    return j <= i + (k_len - q_len)  # [q_len, k_len] by broadcasting


def padding_mask(lengths, max_len):
    """Boolean padding mask of shape [B, max_len]: True at the real tokens of each sequence.

        mask[b, t] = t < lengths[b]

    Sequence b of a right-padded batch has lengths[b] real tokens followed by padding, so
    row b is lengths[b] Trues followed by max_len - lengths[b] Falses. To use it as a key
    mask on attention scores [B, H, Lq, Lk], index it as mask[:, None, None, :].

    Args:
        lengths: 1-D integer tensor [B] (e.g. torch.int64 or torch.int32) with
                 0 <= lengths[b] <= max_len.
        max_len: the padded length, an int >= 0.

    Returns:
        A torch.bool tensor of shape [B, max_len] on the device of `lengths`. `lengths` is
        not modified.

    Raises:
        ValueError: if `lengths` is not a 1-D tensor of an integer dtype (bool is refused);
            if `max_len` is not an int (bool is refused) or is negative; if any length is
            negative or larger than `max_len` (we refuse rather than silently truncate).
    """
    if not isinstance(lengths, torch.Tensor):
        raise ValueError(f"lengths must be a 1-D integer torch.Tensor, got {type(lengths).__name__}")
    if lengths.dtype == torch.bool or lengths.is_floating_point() or lengths.is_complex():
        raise ValueError(f"lengths must have an integer dtype, got {lengths.dtype}")
    if lengths.dim() != 1:
        raise ValueError(f"lengths must be 1-D [B], got shape {tuple(lengths.shape)}")
    max_len = _check_size(max_len, "max_len")
    if lengths.numel() and lengths.min() < 0:
        raise ValueError(f"lengths must be >= 0, got {lengths.tolist()}")
    if lengths.numel() and lengths.max() > max_len:
        raise ValueError(f"lengths must be <= max_len={max_len}, got {lengths.tolist()}")
    t = torch.arange(max_len, device=lengths.device)  # [max_len]  position
    return t.unsqueeze(0) < lengths.unsqueeze(1)  # [1, max_len] < [B, 1] -> [B, max_len]
