"""Reference solution for the `positional` unit: sinusoidal encodings, RoPE and ALiBi.

HIDDEN: this file is the grader's source of truth and is never shipped to students.
The docstrings below are copied verbatim into the stub notebook by
assignments/positional/make_notebook.py, so they are written for students: they state every
convention and every ValueError the grader expects. The code is not copied anywhere.

Conventions (docs/student-api.md): rotary_embedding accepts any number of leading batch dims and
returns the input's dtype and device; inputs are never modified in place; invalid arguments
raise ValueError. Angles are computed in float64 (p * freq reaches thousands of radians for
long sequences, where float32 keeps only ~4 decimals of the angle) and rounded once at the end.
"""

import math
import operator

import torch

# -----------------------------------------------------------------------------
# argument checking: every invalid argument is a ValueError that names the problem


def _check_size(value, name, minimum=0):
    # a Python int (or anything int-like, e.g. numpy.int64) >= minimum; bool is refused
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an int, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an int, got {type(value).__name__}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_base(base):
    # a positive, finite real number (int or float); bool is refused
    if isinstance(base, bool) or not isinstance(base, (int, float)):
        try:
            base = float(base)  # e.g. numpy.float32, a 0-d tensor
        except (TypeError, ValueError):
            raise ValueError(f"base must be a number, got {type(base).__name__}") from None
    if not (math.isfinite(base) and base > 0):
        raise ValueError(f"base must be a positive finite number, got {base!r}")
    return float(base)


def _frequencies(n, d, base):
    # freq_i = base^(-2i/d) for i = 0 .. n-1, in float64: [n]
    i = torch.arange(n, dtype=torch.float64)
    return base ** (-2.0 * i / d)


# -----------------------------------------------------------------------------
# sinusoidal encodings


def sinusoidal_encoding(seq_len, d_model, base=10000.0, *, dtype=torch.float32):
    """The sinusoidal position table of "Attention Is All You Need", interleaved sin/cos.

        PE[p, 2i]   = sin(p / base^(2i / d_model))
        PE[p, 2i+1] = cos(p / base^(2i / d_model))

    Column pair (2i, 2i+1) is one frequency, freq_i = base^(-2i/d_model): the first pair
    turns once every 2*pi positions, the last one about `base` times more slowly. Sines and
    cosines are interleaved (even columns sine, odd columns cosine), NOT concatenated as
    [all sines, all cosines]. The exponent uses 2i, the column index of the pair's sine, not
    the pair index i. An odd d_model is allowed: the last column is then the sine of one
    more frequency, without its cosine. Row 0 is [0, 1, 0, 1, ...].

    Args:
        seq_len: number of positions p = 0 .. seq_len-1, an int >= 0.
        d_model: number of columns, an int >= 1 (odd values allowed).
        base: the frequency base, a positive number (10000 in the paper).
        dtype: floating-point dtype of the result (keyword-only).

    Returns:
        A tensor of shape [seq_len, d_model] and dtype `dtype`, with values in [-1, 1].

    Raises:
        ValueError: if seq_len or d_model is not an int (bool is refused), if seq_len < 0 or
            d_model < 1, if base is not a positive finite number, or if dtype is not a
            floating-point torch.dtype.
    """
    seq_len = _check_size(seq_len, "seq_len")
    d_model = _check_size(d_model, "d_model", minimum=1)
    base = _check_base(base)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    n_sin, n_cos = (d_model + 1) // 2, d_model // 2  # odd d_model: one more sine than cosine
    freq = _frequencies(n_sin, d_model, base)  # [n_sin]
    p = torch.arange(seq_len, dtype=torch.float64)  # [seq_len]
    angle = p[:, None] * freq[None, :]  # [seq_len, n_sin]
    pe = torch.empty(seq_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)  # columns 0, 2, 4, ...: n_sin of them
    pe[:, 1::2] = torch.cos(angle[:, :n_cos])  # columns 1, 3, 5, ...: n_cos of them
    return pe.to(dtype)


# -----------------------------------------------------------------------------
# rotary position embeddings (RoPE)


def rotary_embedding(x, positions=None, base=10000.0):
    """Rotary position embedding (RoPE, RoFormer eq. 34) of queries or keys `x`.

    The last dimension of x is split into d/2 interleaved pairs (x[..., 2i], x[..., 2i+1]),
    and the pair of the token at position p is rotated by the angle
    theta = p * base^(-2i/d), counter-clockwise (the usual direction of a rotation matrix):

        out[..., 2i]   = x[..., 2i] * cos(theta) - x[..., 2i+1] * sin(theta)
        out[..., 2i+1] = x[..., 2i] * sin(theta) + x[..., 2i+1] * cos(theta)

    Pairs are interleaved neighbours (0, 1), (2, 3), ..., not the two halves (i, i + d/2)
    that the GPT-NeoX/LLaMA code uses. Rotations preserve lengths, and rotating a query by
    angle m*freq and a key by n*freq makes their dot product depend only on m - n.

    Args:
        x: floating-point tensor [..., T, d] (any number of leading batch dims, at least
           the two dims T and d), with d even (float32 or float64).
        positions: the position of each of the T tokens, an integer tensor of shape [T]
            (any integers, in any order, e.g. the absolute positions of new tokens after a
            KV cache); None (the default) means torch.arange(T). It is shared by every
            batch entry.
        base: the frequency base, a positive number (10000 in RoFormer).

    Returns:
        A tensor of the same shape, dtype and device as x. Neither x nor positions is
        modified.

    Raises:
        ValueError: if x is not a floating-point tensor with at least 2 dims; if d is odd;
            if positions is not an integer tensor (bool is refused) of shape [T]; if base is
            not a positive finite number.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError(f"x must be a floating-point torch.Tensor, got "
                         f"{x.dtype if isinstance(x, torch.Tensor) else type(x).__name__}")
    if x.dim() < 2:
        raise ValueError(f"x must have shape [..., T, d] (at least 2 dims), got {tuple(x.shape)}")
    T, d = x.shape[-2], x.shape[-1]
    if d % 2:
        raise ValueError(f"the last dim of x must be even to form pairs, got d = {d}")
    if positions is None:
        positions = torch.arange(T, device=x.device)
    if not isinstance(positions, torch.Tensor) or positions.is_floating_point() \
            or positions.is_complex() or positions.dtype == torch.bool:
        raise ValueError(f"positions must be an integer tensor of shape [T] = [{T}], got "
                         f"{positions.dtype if isinstance(positions, torch.Tensor) else type(positions).__name__}")
    if tuple(positions.shape) != (T,):
        raise ValueError(f"positions must have shape [T] = [{T}], got {tuple(positions.shape)}")
    base = _check_base(base)

    freq = _frequencies(d // 2, d, base).to(x.device)  # [d/2]
    angle = positions.to(torch.float64)[:, None] * freq[None, :]  # [T, d/2]
    cos, sin = torch.cos(angle), torch.sin(angle)  # [T, d/2], broadcast over the batch dims
    z = x.double()
    x0, x1 = z[..., 0::2], z[..., 1::2]  # [..., T, d/2] each: the two halves of every pair
    out = torch.empty_like(z)  # a new tensor: x is untouched
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out.to(x.dtype)


# -----------------------------------------------------------------------------
# ALiBi (attention with linear biases)


def _power_of_two_slopes(n):
    # the geometric sequence 2^(-8/n), 2^(-16/n), ..., 2^(-8): [n] Python floats
    return [2.0 ** (-8.0 * (h + 1) / n) for h in range(n)]


def alibi_slopes(n_heads):
    """The ALiBi slope of each attention head (Press et al., 2022), as float32 [n_heads].

    For a power of two n = n_heads, the slopes are the geometric sequence

        slope[h] = 2^(-8 (h+1) / n),   h = 0 .. n-1

    e.g. n = 8: 1/2, 1/4, ..., 1/256. For any other n, the paper's rule: take the n' slopes
    of the largest power of two n' < n, then append every other slope (the 1st, 3rd, 5th,
    ...) of the sequence for 2n', as many as needed to reach n. E.g. n = 6: the 4 slopes of
    n' = 4 (1/4, 1/16, 1/64, 1/256), then slopes 1 and 3 of n = 8 (1/2, 1/8).

    Args:
        n_heads: number of heads, an int >= 1.

    Returns:
        A float32 tensor of shape [n_heads].

    Raises:
        ValueError: if n_heads is not an int (bool is refused) or is < 1.
    """
    n = _check_size(n_heads, "n_heads", minimum=1)
    m = 2 ** (n.bit_length() - 1)  # the largest power of two <= n
    slopes = _power_of_two_slopes(m)
    if m < n:
        slopes += _power_of_two_slopes(2 * m)[0::2][: n - m]
    return torch.tensor(slopes, dtype=torch.float32)


def alibi_bias(n_heads, q_len, k_len=None):
    """The ALiBi attention bias: a penalty proportional to how far back each key is.

        bias[h, i, j] = slope[h] * (j - (i + k_len - q_len))

    with slope = alibi_slopes(n_heads). As for causal masks, the q_len queries are the LAST
    q_len positions of the k_len keys (query i sits at position i + k_len - q_len), so the
    bias is 0 on the bottom-right-aligned diagonal, and a key d positions in the query's
    past gets slope * (-d). (Keys in the query's future get positive values; a causal mask
    removes them anyway.) The bias is added to the attention scores before the softmax.

    Args:
        n_heads: number of heads, an int >= 1.
        q_len: number of queries, an int >= 0.
        k_len: number of keys, an int >= 0; defaults to q_len.

    Returns:
        A float32 tensor of shape [n_heads, q_len, k_len].

    Raises:
        ValueError: if n_heads, q_len or k_len is not an int (bool is refused), if
            n_heads < 1, or if q_len or k_len is negative.
    """
    slopes = alibi_slopes(n_heads)  # [H], validates n_heads
    q_len = _check_size(q_len, "q_len")
    k_len = q_len if k_len is None else _check_size(k_len, "k_len")
    i = torch.arange(q_len).unsqueeze(1) + (k_len - q_len)  # [q_len, 1]: query positions
    j = torch.arange(k_len).unsqueeze(0)  # [1, k_len]: key positions
    distance = (j - i).to(torch.float32)  # [q_len, k_len], <= 0 in the query's past
    return slopes[:, None, None] * distance[None, :, :]  # [H, q_len, k_len]
