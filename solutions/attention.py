"""Reference solution for the `attention` unit: attention heads and multi-head attention.

HIDDEN: this file is the grader's source of truth and is never shipped to students.
The docstrings below are copied verbatim into the stub notebook by
assignments/attention/make_notebook.py, so they are written for students: they state every
convention and every ValueError the grader expects. The code is not copied anywhere.

Conventions (docs/student-api.md): any number of leading batch dims, the result has the input's
dtype and device, inputs are never modified in place, masks are bool with True = keep
(may attend), a fully masked query row gives zero weights and a zero output (never NaN),
results stay finite for float32 scores up to 1e4 in magnitude. None of torch's own
attention functions or modules are used.
"""

import math
import operator

import torch
from torch import nn

# -----------------------------------------------------------------------------
# argument checking: every invalid argument is a ValueError that names the problem


def _check_float(t, name, min_dims):
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if t.dim() < min_dims:
        raise ValueError(f"{name} must have at least {min_dims} dimensions, got shape {tuple(t.shape)}")


def _check_same(tensors):
    """Every tensor of the (name, tensor) pairs has the first one's dtype and device."""
    (first_name, first), *rest = tensors
    for name, t in rest:
        if t.dtype != first.dtype:
            raise ValueError(f"{name} has dtype {t.dtype} but {first_name} has {first.dtype}")
        if t.device != first.device:
            raise ValueError(f"{name} is on {t.device} but {first_name} is on {first.device}")


def _check_int(value, name, minimum):
    # a Python int (or anything int-like, e.g. numpy.int64); bool is refused
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an int, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an int, got {type(value).__name__}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _batch_shape(*shapes):
    try:
        return tuple(torch.broadcast_shapes(*shapes))
    except RuntimeError:
        raise ValueError("the batch dimensions " + ", ".join(str(tuple(s)) for s in shapes)
                         + " do not broadcast against each other") from None


def _check_mask(mask, shape, device, what):
    """`mask` is a bool tensor that broadcasts to `shape` without enlarging it."""
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"{what} must be a torch.Tensor of dtype torch.bool, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise ValueError(f"{what} must have dtype torch.bool (True = may attend), got {mask.dtype}")
    try:
        broadcast = tuple(torch.broadcast_shapes(mask.shape, shape))
    except RuntimeError:
        broadcast = None
    if broadcast != tuple(shape):
        raise ValueError(f"{what} of shape {tuple(mask.shape)} does not broadcast to the attention "
                         f"scores' shape {tuple(shape)}")
    if mask.device != device:
        raise ValueError(f"{what} is on {mask.device} but the scores are on {device}")


# -----------------------------------------------------------------------------
# attention


def _safe_softmax(scores, mask):
    """Softmax over the last dim, over the kept keys only; all-masked rows become zeros."""
    if mask is not None:
        # exp(-inf) is exactly 0: a masked key gets no weight and adds nothing to the sum
        scores = scores.masked_fill(mask.logical_not(), -math.inf)
    top = scores.amax(dim=-1, keepdim=True)  # [..., Lq, 1]
    # A fully masked row has max -inf, and -inf - (-inf) is NaN: shift such rows by 0
    # instead, so they stay all -inf and exponentiate to zeros.
    top = torch.where(torch.isneginf(top), torch.zeros_like(top), top)
    numer = torch.exp(scores - top)
    total = numer.sum(dim=-1, keepdim=True)  # >= 1 in a row with a kept key, 0 otherwise
    return numer / torch.where(total == 0, torch.ones_like(total), total)


def scaled_dot_product_attention(q, k, v, mask=None):
    """Scaled dot-product attention: each query takes a weighted average of the values.

        weights = masked_softmax(q @ k^T / sqrt(d_k), mask)     softmax over the keys
        out     = weights @ v

    Query i's weights say how much it attends to each key j; they are >= 0 and sum to 1
    over the keys it may attend to, and are exactly 0 for the keys the mask hides. A query
    whose every key is masked out gets all-zero weights and an all-zero output (not NaN).

    Args:
        q: queries, floating-point tensor [..., Lq, d_k].
        k: keys, [..., Lk, d_k] (the same d_k as q; Lk may differ from Lq).
        v: values, [..., Lk, d_v] (one value per key; d_v may differ from d_k).
           The batch dimensions `...` of q, k and v must broadcast against each other; q, k
           and v have the same dtype (float32 or float64) and device.
        mask: None (every query attends to every key), or a torch.bool tensor, True = query
              i may attend to key j, that broadcasts to the scores' shape [..., Lq, Lk]
              without enlarging it: e.g. a causal mask [Lq, Lk] shared by the whole batch,
              or a padding mask [B, 1, Lk] shared by all the queries of sequence b.

    Returns:
        (out, weights): out [..., Lq, d_v] and weights [..., Lq, Lk], with q's dtype and
        device (`...` is the broadcast of the batch dimensions). No input is modified.

    Raises:
        ValueError: if q, k or v is not a floating-point tensor with at least 2 dimensions;
            if their dtypes or devices differ; if d_k is 0 or differs between q and k; if
            k and v have different numbers of keys; if their batch dimensions do not
            broadcast; if `mask` is not a torch.bool tensor that broadcasts to [..., Lq, Lk]
            (without enlarging it) on the same device.
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        _check_float(t, name, 2)
    _check_same([("q", q), ("k", k), ("v", v)])
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same last dimension d_k, got q {tuple(q.shape)} "
                         f"and k {tuple(k.shape)}")
    if q.shape[-1] == 0:
        raise ValueError("d_k must be >= 1: queries and keys need at least one feature")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same number of keys (dim -2), got k {tuple(k.shape)} "
                         f"and v {tuple(v.shape)}")
    batch = _batch_shape(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    n_queries, n_keys, d_k = q.shape[-2], k.shape[-2], q.shape[-1]
    if mask is not None:
        _check_mask(mask, batch + (n_queries, n_keys), q.device, "mask")

    # [..., Lq, d_k] @ [..., d_k, Lk] -> [..., Lq, Lk]. Dividing by sqrt(d_k) keeps the
    # scores' spread independent of d_k: a sum of d_k products of unit-variance terms has
    # variance d_k, so without it large heads would give near one-hot softmaxes.
    scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(d_k)
    scores = scores.expand(batch + (n_queries, n_keys))
    weights = _safe_softmax(scores, mask)  # [..., Lq, Lk]
    out = torch.matmul(weights, v)  # [..., Lq, Lk] @ [..., Lk, d_v] -> [..., Lq, d_v]
    return out, weights


# -----------------------------------------------------------------------------
# heads


def split_heads(x, n_heads):
    """Split the features of `x` into `n_heads` heads: [..., T, D] -> [..., H, T, D/H].

        split_heads(x, H)[..., h, t, j] == x[..., t, h * (D // H) + j]

    Head h gets the h-th contiguous block of D/H features of every position: features
    h*D/H ... (h+1)*D/H - 1. The head dimension comes before the positions, so that
    attention can then treat each head like an extra batch dimension.

    Args:
        x: tensor [..., T, D] with at least 2 dimensions (any dtype).
        n_heads: the number of heads H, an int >= 1 that divides D.

    Returns:
        A tensor [..., H, T, D // H] with x's dtype and device. `x` is not modified.

    Raises:
        ValueError: if `x` is not a tensor with at least 2 dimensions; if `n_heads` is not
            an int (bool is refused) or is < 1; if D is not divisible by `n_heads`.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 2:
        raise ValueError(f"x must have at least 2 dimensions [..., T, D], got shape {tuple(x.shape)}")
    n_heads = _check_int(n_heads, "n_heads", 1)
    *batch, n_pos, width = x.shape
    if width % n_heads:
        raise ValueError(f"the feature dimension D={width} is not divisible by n_heads={n_heads}")
    # [..., T, D] -> [..., T, H, D/H] (each position's features cut in H blocks) -> swap T and H
    return x.reshape(*batch, n_pos, n_heads, width // n_heads).transpose(-3, -2)


def merge_heads(x):
    """Concatenate the heads again: [..., H, T, d] -> [..., T, H*d], the inverse of split_heads.

        merge_heads(x)[..., t, h * d + j] == x[..., h, t, j]

    so that merge_heads(split_heads(x, H)) == x and split_heads(merge_heads(y), H) == y.

    Args:
        x: tensor [..., H, T, d] with at least 3 dimensions (any dtype).

    Returns:
        A tensor [..., T, H * d] with x's dtype and device. `x` is not modified.

    Raises:
        ValueError: if `x` is not a tensor with at least 3 dimensions.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 3:
        raise ValueError(f"x must have at least 3 dimensions [..., H, T, d], got shape {tuple(x.shape)}")
    *batch, n_heads, n_pos, head = x.shape
    # bring the positions back in front of the heads, then lay the heads side by side
    return x.transpose(-3, -2).reshape(*batch, n_pos, n_heads * head)


# -----------------------------------------------------------------------------
# multi-head attention


def _project(x, weight, bias):
    out = torch.matmul(x, weight)
    return out if bias is None else out + bias


def multi_head_attention(x_q, x_kv, W_q, W_k, W_v, W_o, n_heads, mask=None,
                         b_q=None, b_k=None, b_v=None, b_o=None):
    """Multi-head attention with explicit weights: queries from x_q, keys and values from x_kv.

        q = x_q @ W_q + b_q        k = x_kv @ W_k + b_k        v = x_kv @ W_v + b_v
        split q, k, v into n_heads heads of D/H features (split_heads)
        each head h: out_h = attention(q_h, k_h, v_h, mask)   (scaled by 1/sqrt(D/H))
        out = merge_heads(out_heads) @ W_o + b_o

    With x_kv = x_q this is self-attention; with x_kv from another sequence (e.g. the
    encoder's output in a translation model) it is cross-attention, and x_kv's length Lk
    may differ from x_q's length Lq. A missing bias (None) is not added.

    Args:
        x_q: floating-point tensor [..., Lq, D_in], the sequence the queries come from.
        x_kv: [..., Lk, D_in], the sequence the keys and values come from. Its batch
              dimensions broadcast against x_q's.
        W_q, W_k, W_v: [D_in, D] projection matrices (multiply on the right: x @ W).
        W_o: [D, D_out] output projection.
        n_heads: the number of heads H, an int >= 1 that divides D. Each head attends with
                 its own D/H features, so the scores are scaled by 1/sqrt(D/H).
        mask: None, or a torch.bool tensor, True = query i may attend to key j, that
              broadcasts to [..., Lq, Lk] (e.g. [Lq, Lk] or [B, 1, Lk]) without enlarging
              it. The same mask applies to every head. A query with no key left gets an
              all-zero attention output (its output is then just b_o, or 0).
        b_q, b_k, b_v: None or [D] biases of the projections; b_o: None or [D_out].
        All tensors have the same dtype (float32 or float64) and device.

    Returns:
        A tensor [..., Lq, D_out] with x_q's dtype and device. No input is modified.

    Raises:
        ValueError: if a tensor argument is not a floating-point tensor of the shape above
            (x_q, x_kv with at least 2 dimensions; matrices 2-D; biases 1-D of the matching
            size) or if their dtypes or devices differ; if `n_heads` is not an int >= 1
            that divides D; if the batch dimensions of x_q and x_kv do not broadcast; if
            `mask` is not a torch.bool tensor that broadcasts to [..., Lq, Lk] without
            enlarging it.
    """
    _check_float(x_q, "x_q", 2)
    _check_float(x_kv, "x_kv", 2)
    d_in = x_q.shape[-1]
    if x_kv.shape[-1] != d_in:
        raise ValueError(f"x_q and x_kv must have the same last dimension D_in, got {tuple(x_q.shape)} "
                         f"and {tuple(x_kv.shape)}")
    for name, w in (("W_q", W_q), ("W_k", W_k), ("W_v", W_v), ("W_o", W_o)):
        _check_float(w, name, 2)
        if w.dim() != 2:
            raise ValueError(f"{name} must be a matrix (2-D), got shape {tuple(w.shape)}")
    width = W_q.shape[1]
    for name, w in (("W_q", W_q), ("W_k", W_k), ("W_v", W_v)):
        if tuple(w.shape) != (d_in, width):
            raise ValueError(f"{name} must have shape (D_in, D) = ({d_in}, {width}), got {tuple(w.shape)}")
    if W_o.shape[0] != width:
        raise ValueError(f"W_o must have shape (D, D_out) with D = {width}, got {tuple(W_o.shape)}")
    biases = (("b_q", b_q, width), ("b_k", b_k, width), ("b_v", b_v, width), ("b_o", b_o, W_o.shape[1]))
    for name, b, size in biases:
        if b is not None:
            _check_float(b, name, 1)
            if tuple(b.shape) != (size,):
                raise ValueError(f"{name} must have shape ({size},), got {tuple(b.shape)}")
    _check_same([("x_q", x_q), ("x_kv", x_kv), ("W_q", W_q), ("W_k", W_k), ("W_v", W_v), ("W_o", W_o)]
                + [(name, b) for name, b, _ in biases if b is not None])
    n_heads = _check_int(n_heads, "n_heads", 1)
    if width % n_heads:
        raise ValueError(f"D={width} (the width of W_q) is not divisible by n_heads={n_heads}")
    batch = _batch_shape(x_q.shape[:-2], x_kv.shape[:-2])
    if mask is not None:
        _check_mask(mask, batch + (x_q.shape[-2], x_kv.shape[-2]), x_q.device, "mask")
        # [..., Lq, Lk] -> [..., 1, Lq, Lk]: one mask for every head
        mask = mask.reshape((1,) * max(0, 2 - mask.dim()) + tuple(mask.shape)).unsqueeze(-3)

    q = split_heads(_project(x_q, W_q, b_q), n_heads)  # [..., H, Lq, D/H]
    k = split_heads(_project(x_kv, W_k, b_k), n_heads)  # [..., H, Lk, D/H]
    v = split_heads(_project(x_kv, W_v, b_v), n_heads)  # [..., H, Lk, D/H]
    heads, _ = scaled_dot_product_attention(q, k, v, mask)  # [..., H, Lq, D/H]
    return _project(merge_heads(heads), W_o, b_o)  # [..., Lq, D] @ [D, D_out]


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention as a module: the attention layer of a GPT block.

    Its four projections are nn.Linear layers named q_proj, k_proj, v_proj and o_proj, each
    nn.Linear(d_model, d_model, bias=bias), so its state_dict has exactly the keys
    q_proj.weight, q_proj.bias, k_proj.weight, ..., o_proj.bias (no bias keys when
    bias=False) and nothing else: the grader loads the reference's weights into your module
    with load_state_dict(strict=True). Remember that nn.Linear computes x @ weight.T + bias.
    """

    def __init__(self, d_model, n_heads, causal=True, bias=True):
        """Create the four projections.

        Args:
            d_model: the model width D, an int >= 1.
            n_heads: the number of heads H, an int >= 1 that divides d_model.
            causal: if True, position i may attend only to positions j <= i (a GPT);
                    if False, every position attends to every position (a BERT encoder).
            bias: whether the four nn.Linear layers have biases.

        Raises:
            ValueError: if d_model or n_heads is not an int >= 1 (bool is refused), or if
                d_model is not divisible by n_heads.
        """
        super().__init__()
        self.d_model = _check_int(d_model, "d_model", 1)
        self.n_heads = _check_int(n_heads, "n_heads", 1)
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.causal = bool(causal)
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.o_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x, key_padding_mask=None):
        """Self-attention over the positions of x: [B, T, D] -> [B, T, D].

        Query i may attend to key j when j <= i (if causal) and key j is a real token (if
        key_padding_mask is given). A query with no key left (e.g. in a sequence made only
        of padding) gets an all-zero attention output, so its output is o_proj's bias.

        Args:
            x: float tensor [B, T, D] with D = d_model, of the parameters' dtype (float32
               unless you convert the module). Any number of leading batch dimensions works.
            key_padding_mask: None, or a torch.bool tensor [B, T]: True at the real tokens,
               False at padding, which no query may attend to.

        Returns:
            A tensor [B, T, D] with x's dtype. `x` is not modified.

        Raises:
            ValueError: if x is not a floating-point tensor [..., T, d_model] of the
                parameters' dtype; if key_padding_mask is not a torch.bool tensor of shape
                x.shape[:-1].
        """
        _check_float(x, "x", 2)
        if x.shape[-1] != self.d_model:
            raise ValueError(f"x must have d_model={self.d_model} features (last dim), got {tuple(x.shape)}")
        if x.dtype != self.q_proj.weight.dtype:
            raise ValueError(f"x has dtype {x.dtype} but the parameters have {self.q_proj.weight.dtype}")
        n_pos = x.shape[-2]
        mask = None
        if self.causal:
            pos = torch.arange(n_pos, device=x.device)
            mask = pos.unsqueeze(0) <= pos.unsqueeze(1)  # [T, T]: key j <= query i
        if key_padding_mask is not None:
            if not isinstance(key_padding_mask, torch.Tensor) or key_padding_mask.dtype != torch.bool:
                raise ValueError("key_padding_mask must be a torch.bool tensor (True = real token)")
            if tuple(key_padding_mask.shape) != tuple(x.shape[:-1]):
                raise ValueError(f"key_padding_mask must have shape {tuple(x.shape[:-1])}, "
                                 f"got {tuple(key_padding_mask.shape)}")
            keys = key_padding_mask.unsqueeze(-2)  # [..., 1, T]: the same keys for every query
            mask = keys if mask is None else mask & keys  # [..., T, T]
        # nn.Linear stores weight as [out, in] and computes x @ weight.T + bias
        return multi_head_attention(
            x, x, self.q_proj.weight.T, self.k_proj.weight.T, self.v_proj.weight.T,
            self.o_proj.weight.T, self.n_heads, mask,
            b_q=self.q_proj.bias, b_k=self.k_proj.bias, b_v=self.v_proj.bias, b_o=self.o_proj.bias)
