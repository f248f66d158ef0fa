"""Public checks for the `gpt` unit: what `grader.check("<question>")` runs, and the toy task.

You may read this file: it contains no reference solution. Every check tests a property that
any correct implementation has (LayerNorm rows have zero mean and unit variance before the
affine map; the cross-entropy of uniform logits is log V; changing a later token never changes
an earlier logit; a tiny GPT can memorise one batch) or a worked example printed in the
notebook. Passing them is a good sign, not a guarantee: the grader also compares your code
with a reference on many more inputs, and evaluates the model your `train_sorter` trains on
sequences it draws itself.

Each check is a plain function taking your functions and classes as keyword arguments, named
as in the notebook, e.g. ``layer_norm_rows_are_standardised(layer_norm=layer_norm)``; it raises
AssertionError with the failing input when the property does not hold. Random inputs are drawn
by hypothesis with a fixed seed, so a check gives the same verdict every time.

The toy task (sorting digits, as in minGPT's demo) is defined here too, and copied into the
notebook: the grader uses exactly this task. This module needs only torch and hypothesis.
"""

import math

import torch
from hypothesis import HealthCheck, Verbosity, given, settings
from hypothesis import strategies as st

import _public_kit as kit  # assignments/_public_kit.py, shipped beside this module

# -----------------------------------------------------------------------------
# the toy task: sort `length` digits from 0 .. `digits` - 1. The grader draws the task it
# trains on within these ranges (the defaults are one of them), so that weights prepared in
# advance for one task do not pass.

SORT_LENGTH = 6
SORT_DIGITS = 10
SORT_LENGTHS = (5, 6, 7)  # the lengths the grader may draw
SORT_DIGIT_COUNTS = (8, 9, 10)  # the numbers of digits it may draw


def sort_sizes(length=SORT_LENGTH, digits=SORT_DIGITS):
    """The sizes of the GPT that learns the task: GPT(GPTConfig(**sort_sizes(length, digits)))."""
    return dict(vocab_size=digits, n_ctx=2 * length - 1, d_model=48, n_heads=3, n_layers=2)


# the model train_sorter trains on the default task: GPT(GPTConfig(**SORT_SIZES))
SORT_SIZES = sort_sizes()


def sort_batch(batch_size, generator=None, length=SORT_LENGTH, digits=SORT_DIGITS):
    """A batch of the sorting task: (inputs [B, 2L-1], targets [B, 2L-1]), both int64.

    A sequence is L random digits followed by the same digits sorted, e.g. 2 0 1 | 0 1 2.
    The model reads the sequence without its last token and predicts the next token at every
    position; only the predictions of the sorted half count (the other targets are -100, the
    `ignore_index` of `cross_entropy`): the unsorted digits cannot be predicted.
    """
    drawn = torch.randint(digits, (batch_size, length), generator=generator)
    sequence = torch.cat([drawn, drawn.sort(dim=1).values], dim=1)  # [B, 2L]
    inputs, targets = sequence[:, :-1].clone(), sequence[:, 1:].clone()
    targets[:, : length - 1] = -100
    return inputs, targets


def sort_accuracy(model, digits, generate):
    """The fraction of the rows of `digits [N, L]` that `model` sorts exactly, decoding greedily
    with `generate`: the L generated tokens must equal the sorted row."""
    model.eval()
    length = digits.shape[1]
    out = generate(model, digits, length)[:, length:]
    return (out == digits.sort(dim=1).values).all(dim=1).float().mean().item()


# -----------------------------------------------------------------------------
# registry and helpers

CHECKS, _check = kit.registry()  # each question of the spec takes the checks registered under its name


_SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=25,
                     verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck), print_blob=False)


def _require(value, name):
    if value is None:
        raise AssertionError(f"`{name}` is not defined: run the cell that defines it (and keep its name).")


def _call(fn, name, *args, **kwargs):
    _require(fn, name)
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise AssertionError(f"`{name}` is not implemented yet.") from None
    except Exception as exc:
        raise AssertionError(f"`{name}` raised {type(exc).__name__}: {exc}") from None


def _tensor(result, name, shape=None, dtype=None):
    if not isinstance(result, torch.Tensor):
        raise AssertionError(f"`{name}` should return a torch.Tensor, got {type(result).__name__}")
    if shape is not None and tuple(result.shape) != tuple(shape):
        raise AssertionError(f"`{name}` returned shape {tuple(result.shape)}, expected {tuple(shape)}")
    if dtype is not None and result.dtype != dtype:
        raise AssertionError(f"`{name}` returned dtype {result.dtype}, expected {dtype}")
    return result


def _run(prop):
    """Run a hypothesis property with the fixed settings; show the first failure's message."""
    try:
        _SETTINGS(prop)()
    except AssertionError as exc:
        raise AssertionError(str(exc).split("\nFalsifying example")[0]) from None


def _rows(draw, min_d=2, max_d=8):
    shape = tuple(draw(st.lists(st.integers(1, 3), max_size=2))) + (draw(st.integers(min_d, max_d)),)
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    seed = draw(st.integers(0, 2**31))
    scale = draw(st.sampled_from([0.01, 1.0, 100.0]))
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale
    return x.to(dtype)


def _model(GPTConfig, GPT, init_seed=0, **sizes):
    _require(GPTConfig, "GPTConfig")
    config = _call(GPTConfig, "GPTConfig", **sizes)
    torch.manual_seed(init_seed)
    model = _call(GPT, "GPT", config)
    if not isinstance(model, torch.nn.Module):
        raise AssertionError(f"`GPT(config)` should be an nn.Module, got {type(model).__name__}")
    return model.eval()


SMALL = dict(vocab_size=7, n_ctx=6, d_model=8, n_heads=2, n_layers=2)


# -----------------------------------------------------------------------------
# layer_norm


@_check("layer_norm")
def layer_norm_worked_example(layer_norm):
    """matches the worked example in the notebook"""
    x = torch.tensor([[1.0, 2.0, 3.0, 6.0]])  # mean 3, biased variance 3.5
    got = _tensor(_call(layer_norm, "layer_norm", x, torch.ones(4), torch.zeros(4), eps=0.5), "layer_norm", (1, 4))
    expected = (x - 3.0) / 2.0  # sqrt(3.5 + 0.5) = 2
    if not torch.allclose(got, expected, atol=1e-6):
        raise AssertionError(f"layer_norm({x.tolist()}, eps=0.5) gave {got.tolist()}, expected {expected.tolist()}: "
                             "biased variance (divide by D), eps inside the square root")


@_check("layer_norm")
def layer_norm_rows_are_standardised(layer_norm):
    """without the affine map (weight 1, bias 0), each row has mean 0 and variance ~1"""

    @given(st.data())
    def prop(data):
        x = _rows(data.draw)
        d = x.shape[-1]
        y = _tensor(_call(layer_norm, "layer_norm", x.clone(), torch.ones(d, dtype=x.dtype),
                          torch.zeros(d, dtype=x.dtype), eps=1e-12), "layer_norm", x.shape, x.dtype)
        mean, var = y.double().mean(-1), y.double().var(-1, unbiased=False)
        if not (mean.abs().max() < 1e-4 and (var - 1).abs().max() < 1e-3):
            raise AssertionError(f"layer_norm of rows of shape {tuple(x.shape)} gave row means up to "
                                 f"{mean.abs().max():.3g} and biased variances {var.flatten()[:4].tolist()}: "
                                 "expected mean 0 and variance 1 (use the biased variance)")

    _run(prop)


@_check("layer_norm")
def layer_norm_applies_weight_and_bias(layer_norm):
    """the affine map: layer_norm(x, w, b) == layer_norm(x, 1, 0) * w + b"""
    g = torch.Generator().manual_seed(1)
    x, w, b = torch.randn(3, 5, generator=g), torch.randn(5, generator=g), torch.randn(5, generator=g)
    plain = _call(layer_norm, "layer_norm", x, torch.ones(5), torch.zeros(5))
    got = _tensor(_call(layer_norm, "layer_norm", x, w, b), "layer_norm", x.shape)
    if not torch.allclose(got, plain * w + b, atol=1e-5):
        raise AssertionError("layer_norm(x, weight, bias) should equal layer_norm(x, ones, zeros) * weight + bias")


# -----------------------------------------------------------------------------
# gelu


@_check("gelu")
def gelu_worked_examples(gelu):
    """exact values: gelu(0) = 0, gelu(1) = 0.8413447, gelu(-1) = -0.1586553, gelu(3) = 2.9959502"""
    x = torch.tensor([0.0, 1.0, -1.0, 3.0], dtype=torch.float64)
    expected = torch.tensor([0.0, 0.8413447460685429, -0.15865525393145707, 2.9959502033315225], dtype=torch.float64)
    got = _tensor(_call(gelu, "gelu", x.clone()), "gelu", x.shape, torch.float64)
    if not torch.allclose(got, expected, atol=1e-9):
        raise AssertionError(f"gelu({x.tolist()}) gave {got.tolist()}, expected {expected.tolist()} "
                             "(the exact GELU, x * Phi(x), uses erf; the tanh formula is an approximation)")


@_check("gelu")
def gelu_keeps_shape_and_dtype(gelu):
    """returns the input's shape and dtype, and GELU(x) - GELU(-x) = x"""
    x = torch.linspace(-4, 4, 12, dtype=torch.float32).reshape(3, 4)
    got = _tensor(_call(gelu, "gelu", x.clone()), "gelu", x.shape, torch.float32)
    if not torch.allclose(got - _call(gelu, "gelu", -x), x, atol=1e-5):
        raise AssertionError("gelu(x) - gelu(-x) should equal x (Phi(x) + Phi(-x) = 1)")


# -----------------------------------------------------------------------------
# cross_entropy


@_check("cross_entropy")
def uniform_logits_give_log_v(cross_entropy):
    """the cross-entropy of uniform logits is log V, whatever the targets"""

    @given(st.integers(1, 4), st.integers(2, 9), st.floats(-50, 50))
    def prop(n, v, value):
        logits = torch.full((n, v), value)
        targets = torch.arange(n) % v
        got = _tensor(_call(cross_entropy, "cross_entropy", logits, targets), "cross_entropy", ())
        if abs(got.item() - math.log(v)) > 1e-5:
            raise AssertionError(f"cross_entropy of logits all equal to {value} over V={v} classes gave "
                                 f"{got.item():.6g}, expected log({v}) = {math.log(v):.6g}")

    _run(prop)


@_check("cross_entropy")
def cross_entropy_worked_example(cross_entropy):
    """a worked example: the mean over positions, ignored targets left out"""
    logits = torch.tensor([[[0.0, math.log(3.0)], [5.0, 1.0], [2.0, 2.0]]])  # [1, 3, 2]
    targets = torch.tensor([[1, -100, 0]])
    got = _tensor(_call(cross_entropy, "cross_entropy", logits, targets), "cross_entropy", ())
    expected = (-math.log(0.75) + math.log(2.0)) / 2  # position 1 is ignored
    if abs(got.item() - expected) > 1e-5:
        raise AssertionError(f"gave {got.item():.6g}, expected {expected:.6g}: the mean over the 2 positions "
                             "whose target is not -100")


@_check("cross_entropy")
def ignored_positions_do_not_matter(cross_entropy):
    """changing the logits of an ignored position (target == ignore_index) changes nothing"""
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 4, 5, generator=g)
    targets = torch.tensor([[1, 7, 0, 4], [2, 2, 7, 3]])
    first = _call(cross_entropy, "cross_entropy", logits, targets, ignore_index=7)
    logits2 = logits.clone()
    logits2[0, 1] = 100.0
    second = _call(cross_entropy, "cross_entropy", logits2, targets, ignore_index=7)
    if not torch.allclose(first, second):
        raise AssertionError("the loss changed when only a position with target == ignore_index changed")


# -----------------------------------------------------------------------------
# the model


@_check("GPT")
def logits_have_the_right_shape(GPTConfig, GPT):
    """GPT(config)(idx [B, T]) returns logits [B, T, vocab_size]; d_mlp defaults to 4 * d_model"""
    config = _call(GPTConfig, "GPTConfig", **SMALL)
    if getattr(config, "d_mlp", None) != 4 * SMALL["d_model"]:
        raise AssertionError(f"GPTConfig(...).d_mlp should default to 4 * d_model = {4 * SMALL['d_model']}")
    model = _model(GPTConfig, GPT, **SMALL)
    for t in (1, 4, SMALL["n_ctx"]):
        idx = torch.randint(SMALL["vocab_size"], (2, t), generator=torch.Generator().manual_seed(t))
        _tensor(_call(model, "GPT.forward", idx), "GPT.forward", (2, t, SMALL["vocab_size"]))


# The module attribute names the contract fixes (the notebook lists them from here): the grader
# loads its weights into your model with load_state_dict(strict=True), by these keys.
BLOCK_PARTS = ("ln1", "attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.o_proj", "ln2", "mlp.fc_in", "mlp.fc_out")


def state_dict_keys(n_layers):
    """Every key of a GPT's state_dict with `n_layers` blocks, in the model's order."""
    keys = ["tok_emb.weight", "pos_emb.weight"]
    for i in range(n_layers):
        keys += [f"blocks.{i}.{part}.{p}" for part in BLOCK_PARTS for p in ("weight", "bias")]
    return keys + ["ln_f.weight", "ln_f.bias", "lm_head.weight"]


@_check("GPT")
def state_dict_keys_are_fixed(GPTConfig, GPT):
    """the state_dict has exactly the keys of the contract (the grader loads weights by name)"""
    model = _model(GPTConfig, GPT, **dict(SMALL, n_layers=1))
    expected = set(state_dict_keys(n_layers=1))
    got = set(model.state_dict())
    if got != expected:
        buffers = sorted(set(dict(model.named_buffers())) & (got - expected))
        advice = (f" {buffers} are buffers: register them with register_buffer(name, tensor, persistent=False) "
                  "(or build the mask in forward) so they stay out of the state_dict" if buffers else "")
        raise AssertionError(f"state_dict keys missing: {sorted(expected - got)}; "
                             f"unexpected: {sorted(got - expected)}.{advice}")
    if model.lm_head.weight.data_ptr() == model.tok_emb.weight.data_ptr():
        raise AssertionError("lm_head.weight must not be tied to tok_emb.weight")


@_check("GPT")
def too_long_input_raises(GPTConfig, GPT):
    """an input longer than n_ctx raises ValueError"""
    model = _model(GPTConfig, GPT, **SMALL)
    try:
        model(torch.zeros(1, SMALL["n_ctx"] + 1, dtype=torch.int64))
    except ValueError:
        return
    except Exception as exc:
        raise AssertionError(f"T > n_ctx raised {type(exc).__name__}, expected ValueError") from None
    raise AssertionError("T > n_ctx should raise ValueError")


@_check("GPT")
def model_is_causal(GPTConfig, GPT):
    """changing a token never changes the logits of earlier positions"""
    model = _model(GPTConfig, GPT, **SMALL)

    @given(st.integers(2, SMALL["n_ctx"]), st.data())
    def prop(t, data):
        idx = torch.tensor([data.draw(st.lists(st.integers(0, 6), min_size=t, max_size=t))])
        pos = data.draw(st.integers(1, t - 1))
        other = idx.clone()
        other[0, pos] = (other[0, pos] + 1) % SMALL["vocab_size"]
        with torch.no_grad():
            a, b = model(idx), model(other)
        if not torch.allclose(a[:, :pos], b[:, :pos], atol=1e-6):
            raise AssertionError(f"changing token {pos} of {idx.tolist()} changed the logits of an earlier "
                                 "position: the attention must be causal")

    _run(prop)


# -----------------------------------------------------------------------------
# generate


@_check("generate")
def generate_extends_the_prompt(GPTConfig, GPT, generate):
    """returns [B, T + max_new_tokens], starting with the prompt; greedy decoding is deterministic"""
    model = _model(GPTConfig, GPT, **SMALL)
    idx = torch.tensor([[1, 2], [3, 4]])
    out = _tensor(_call(generate, "generate", model, idx.clone(), 3), "generate", (2, 5), torch.int64)
    if not torch.equal(out[:, :2], idx):
        raise AssertionError("the output must start with the prompt")
    if not torch.equal(out, _call(generate, "generate", model, idx.clone(), 3)):
        raise AssertionError("greedy decoding (temperature 0) must give the same tokens every time")


@_check("generate")
def generate_crops_the_context(GPTConfig, GPT, generate):
    """generating past n_ctx works: the context is cropped to the last n_ctx tokens"""
    model = _model(GPTConfig, GPT, **SMALL)
    idx = torch.zeros(1, SMALL["n_ctx"], dtype=torch.int64)
    _tensor(_call(generate, "generate", model, idx, 4), "generate", (1, SMALL["n_ctx"] + 4))


# -----------------------------------------------------------------------------
# training


@_check("train_sorter")
def tiny_gpt_overfits_one_batch(GPTConfig, GPT, cross_entropy):
    """a tiny GPT memorises one batch with Adam in 100 steps (loss below 0.05)"""
    torch.manual_seed(0)
    model = _model(GPTConfig, GPT, **SMALL).train()
    g = torch.Generator().manual_seed(3)
    idx = torch.randint(SMALL["vocab_size"], (4, SMALL["n_ctx"]), generator=g)
    targets = torch.roll(idx, -1, dims=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        loss = _call(cross_entropy, "cross_entropy", model(idx), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if not loss.item() < 0.05:
        raise AssertionError(f"after 100 Adam steps on one batch the loss is {loss.item():.3g}: a working GPT "
                             "and cross_entropy memorise it (check the residual connections, the causal mask, "
                             "and that the gradient flows through every piece)")


@_check("train_sorter")
def train_sorter_returns_model_and_losses(train_sorter, GPTConfig, GPT):
    """train_sorter(steps=5) returns (a GPT of the task's sizes, 5 finite losses)"""
    result = _call(train_sorter, "train_sorter", steps=5)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise AssertionError("train_sorter should return a tuple (model, losses)")
    model, losses = result
    if not isinstance(model, torch.nn.Module):
        raise AssertionError(f"the model should be an nn.Module, got {type(model).__name__}")
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = {k: tuple(v.shape) for k, v in _model(GPTConfig, GPT, **SORT_SIZES).state_dict().items()}
    if shapes != expected:
        raise AssertionError("the trained model's weights do not have the shapes of GPT(GPTConfig(**SORT_SIZES))")
    if not (isinstance(losses, list) and len(losses) == 5 and all(isinstance(v, float) and math.isfinite(v)
                                                                   for v in losses)):
        raise AssertionError("losses should be a list of 5 finite floats (loss.item() after each step)")
