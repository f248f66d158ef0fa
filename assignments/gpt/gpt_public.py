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

import _thread
import math
import threading

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


def _call_within(seconds, fn, name, *args, **kwargs):
    """`_call`, stopped (AssertionError) when it is still running after `seconds` seconds of
    wall time: a training loop that never ends would otherwise hang the check. Only the main
    thread can be interrupted (a notebook runs the checks there); elsewhere it is a plain call."""
    if threading.current_thread() is not threading.main_thread():
        return _call(fn, name, *args, **kwargs)
    lock, state = threading.Lock(), {"done": False, "fired": False}

    def stop():
        with lock:
            if not state["done"]:
                state["fired"] = True
                _thread.interrupt_main()  # a KeyboardInterrupt in the main thread

    timer = threading.Timer(seconds, stop)
    timer.start()
    try:
        try:
            return _call(fn, name, *args, **kwargs)
        finally:
            with lock:
                state["done"] = True
            timer.cancel()
    except KeyboardInterrupt:
        if not state["fired"]:
            raise  # the student pressed stop
        shown = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
        raise AssertionError(f"`{name}({shown})` was still running after {seconds} s: does it stop after "
                             f"`steps` steps? (the grader stops training at its CPU-time budget and gives "
                             f"no marks)") from None


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
def config_rejects_invalid_arguments(GPTConfig):
    """GPTConfig raises ValueError when d_model is not divisible by n_heads"""
    _require(GPTConfig, "GPTConfig")
    for d_model, n_heads in ((8, 3), (6, 4)):
        sizes = dict(SMALL, d_model=d_model, n_heads=n_heads)
        try:
            GPTConfig(**sizes)
        except ValueError:
            continue
        except NotImplementedError:
            _call(GPTConfig, "GPTConfig", **sizes)  # says "not implemented yet"
        except Exception as exc:
            raise AssertionError(f"GPTConfig(d_model={d_model}, n_heads={n_heads}, ...) raised "
                                 f"{type(exc).__name__}; expected ValueError (d_model must be divisible "
                                 "by n_heads)") from None
        raise AssertionError(f"GPTConfig(d_model={d_model}, n_heads={n_heads}, ...) was accepted; expected "
                             "ValueError (d_model must be divisible by n_heads)")


_ATTENTION_X = [[[2.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]]  # [B=1, T=2, d_model=4]


@_check("GPT")
def attention_worked_example(GPTConfig, CausalSelfAttention):
    """a worked example: 2 heads of d_head = 2, projections set to the identity, scores scaled by 1/sqrt(d_head)"""
    config = _call(GPTConfig, "GPTConfig", **dict(SMALL, d_model=4, n_heads=2))
    attention = _call(CausalSelfAttention, "CausalSelfAttention", config)
    with torch.no_grad():
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            layer = getattr(attention, name, None)
            if not isinstance(layer, torch.nn.Linear):
                raise AssertionError(f"CausalSelfAttention must have an nn.Linear named {name}")
            layer.weight.copy_(torch.eye(4))
            if layer.bias is not None:
                layer.bias.zero_()
        out = _tensor(_call(attention, "CausalSelfAttention.forward", torch.tensor(_ATTENTION_X)),
                      "CausalSelfAttention.forward", (1, 2, 4))
    # q = k = v = x. Head 0 (features 0, 1): position 0 sees only itself, so its output is x[0];
    # position 1's scores are q1.k0 / sqrt(2) = 2 / sqrt(2) and q1.k1 / sqrt(2) = 1 / sqrt(2), so
    # it puts p = sigmoid(1 / sqrt(2)) on position 0: 2p + (1 - p). Head 1 sees only zeros.
    p = 1 / (1 + math.exp(-1 / math.sqrt(2)))
    expected = torch.tensor([[[2.0, 0.0, 0.0, 0.0], [2 * p + (1 - p), 0.0, 0.0, 0.0]]])
    if not torch.allclose(out, expected, atol=1e-5):
        raise AssertionError(f"CausalSelfAttention(d_model=4, n_heads=2) with identity projections on x = "
                             f"{_ATTENTION_X} gave {out.tolist()}, expected {expected.tolist()}: head h holds "
                             "features h*d_head .. (h+1)*d_head - 1, the scores are divided by sqrt(d_head) = "
                             "sqrt(2) (not sqrt(d_model)), position i attends to j <= i")


_ZEROED = ("attn.o_proj.weight", "attn.o_proj.bias", "mlp.fc_out.weight", "mlp.fc_out.bias")


@_check("GPT")
def zeroed_blocks_pass_the_embeddings_through(GPTConfig, GPT):
    """with each block's o_proj and mlp.fc_out zeroed, a pre-LN block adds nothing: logits = lm_head(ln_f(tok_emb + pos_emb))"""
    eps = 0.25  # not the default: every LayerNorm must use the config's layer_norm_eps
    model = _model(GPTConfig, GPT, **dict(SMALL, layer_norm_eps=eps))
    state = model.state_dict()
    missing = [k for k in ("tok_emb.weight", "pos_emb.weight", "ln_f.weight", "ln_f.bias", "lm_head.weight")
               if k not in state]
    if missing:
        raise AssertionError(f"the model's state_dict has no {missing} (see the names in the notebook)")
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():  # (state_dict tensors share the parameters' storage)
        for key, value in state.items():
            if key.endswith(_ZEROED):
                value.zero_()
            elif key.startswith("blocks.") and ".ln" in key or key.startswith("ln_f."):
                # LayerNorm weights away from 1 and biases away from 0: an extra LayerNorm shows
                value.copy_(torch.randn(value.shape, generator=g, dtype=value.dtype) * 0.5
                            + (1.0 if key.endswith("weight") else 0.0))
            elif value.is_floating_point():
                value.copy_(torch.randn(value.shape, generator=g, dtype=value.dtype) * 0.3)
        idx = torch.tensor([[1, 5, 2, 2, 0], [3, 3, 3, 3, 3]])
        got = _tensor(_call(model, "GPT.forward", idx), "GPT.forward", (2, 5, SMALL["vocab_size"]))
        x = state["tok_emb.weight"][idx] + state["pos_emb.weight"][:5]
        normed = torch.nn.functional.layer_norm(x, (x.shape[-1],), state["ln_f.weight"], state["ln_f.bias"], eps)
        expected = normed @ state["lm_head.weight"].T
    if not torch.allclose(got, expected, atol=1e-4):
        raise AssertionError(
            "with every block's attn.o_proj and mlp.fc_out set to zero, a pre-LayerNorm block "
            "x + attn(ln1(x)), then + mlp(ln2(.)), leaves x unchanged, so the logits must be "
            "lm_head(ln_f(tok_emb(idx) + pos_emb(positions))) (ln_f with eps = layer_norm_eps); "
            f"they differ by up to {(got - expected).abs().max().item():.3g}. Check the residual connections, "
            "that the LayerNorms come before attn and mlp (pre-LN), the positional embeddings, and the eps")


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


@_check("generate")
def greedy_picks_the_last_positions_argmax(GPTConfig, GPT, generate):
    """greedy decoding appends the argmax of the LAST position's logits"""
    model = _model(GPTConfig, GPT, init_seed=5, **SMALL)
    idx = torch.tensor([[1, 2, 3], [4, 0, 6], [2, 2, 5]])
    out = _tensor(_call(generate, "generate", model, idx.clone(), 1), "generate", (3, 4), torch.int64)
    with torch.no_grad():
        expected = model(idx)[:, -1].argmax(-1)
    if not torch.equal(out[:, -1], expected):
        raise AssertionError(f"generate(model, {idx.tolist()}, 1) appended {out[:, -1].tolist()}, but the argmax "
                             f"of the last position's logits is {expected.tolist()}")


@_check("generate")
def sampling_follows_the_generator(GPTConfig, GPT, generate):
    """temperature > 0: the same generator seed gives the same samples, whatever torch's global seed"""
    model = _model(GPTConfig, GPT, **SMALL)
    idx = torch.tensor([[1, 2], [3, 4], [5, 6], [0, 1]])
    runs = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)  # a sample that ignores `generator` changes with it
        runs.append(_tensor(_call(generate, "generate", model, idx.clone(), 4, temperature=1.0,
                                  generator=torch.Generator().manual_seed(7)), "generate", (4, 6), torch.int64))
    if not torch.equal(*runs):
        raise AssertionError("generate(..., temperature=1.0, generator=torch.Generator().manual_seed(7)) gave "
                             f"{runs[0].tolist()}, then {runs[1].tolist()} after another torch.manual_seed: sample "
                             "with torch.multinomial(probs, 1, generator=generator)")


@_check("generate")
def sampling_follows_the_tempered_distribution(GPTConfig, GPT, generate):
    """temperature T: the first new token is drawn from softmax(logits / T) of YOUR model's last position"""
    model = _model(GPTConfig, GPT, init_seed=3, **SMALL)
    with torch.no_grad():
        for p in model.parameters():  # larger weights: logits far apart, so the temperature shows
            p.mul_(4)
    prompt, rows, temperature = torch.tensor([[1, 4, 2]]), 4000, 0.5
    with torch.no_grad():
        logits = _tensor(model(prompt), "GPT.forward", (1, 3, SMALL["vocab_size"]))[0, -1].double()
    expected = torch.softmax(logits / temperature, dim=-1)
    out = _tensor(_call(generate, "generate", model, prompt.repeat(rows, 1), 1, temperature=temperature,
                        generator=torch.Generator().manual_seed(11)), "generate", (rows, 4), torch.int64)
    observed = torch.bincount(out[:, -1].clamp(0, SMALL["vocab_size"] - 1), minlength=SMALL["vocab_size"]) / rows
    worst = int((observed - expected).abs().argmax())
    # a frequency of 4000 draws is within 0.04 of its probability but once in millions
    if (observed - expected).abs().max() > 0.04:
        raise AssertionError(
            f"generate(model, prompt repeated {rows} times, 1, temperature={temperature}) drew token {worst} "
            f"{observed[worst]:.1%} of the time; softmax(logits / {temperature}) of your model gives it "
            f"{expected[worst]:.1%} (softmax(logits) gives {torch.softmax(logits, -1)[worst]:.1%}): divide the "
            "logits by the temperature, then softmax, then sample")


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


TRAIN_CHECK_SECONDS = 20  # 5 steps of the task's small GPT take well under a second


@_check("train_sorter")
def train_sorter_returns_model_and_losses(train_sorter, GPTConfig, GPT):
    """train_sorter(steps=5) returns (a GPT of the task's sizes, 5 finite losses)"""
    result = _call_within(TRAIN_CHECK_SECONDS, train_sorter, "train_sorter", steps=5)
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
