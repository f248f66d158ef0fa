"""Unit `gpt`: a GPT from scratch (LayerNorm, GELU, cross-entropy, the model, sampling), trained
on a toy task and graded on fresh data.

The functional pieces are compared with solutions/gpt.py on hypothesis-drawn inputs. The model
is graded by loading the reference's weights (redrawn so that LayerNorm gains are not 1 and
every piece shows) into the student's `GPT` with strict=True and comparing logits over drawn
configs (several layers, n_heads >= 2, T < n_ctx, T = 1); `generate` runs on the student's own
`GPT` with those weights. `train_sorter` runs in the sandbox within a CPU-time budget; its
model's state_dict (tensors only) is loaded into the REFERENCE architecture here, in the
trusted process, and must sort sequences drawn with a seed the student never sees, so a
`forward` that hard-codes sorting earns nothing.
"""

import functools
import hashlib
import math

import torch
from hypothesis import strategies as st

from ..compare import Close, Exact
from ..distribution import ALPHA, Follow, distribution_check, matches
from ..spec import Call, Check, Example, Hint, Question, Unit, refusals
from . import public_checks

public = public_checks("gpt")  # assignments/gpt/gpt_public.py

SOFTMAX_FAMILY = ("torch.softmax", "torch.log_softmax", "torch.nn.functional.softmax",
                  "torch.nn.functional.log_softmax", "torch.Tensor.softmax", "torch.Tensor.log_softmax",
                  "torch.special.softmax", "torch.special.log_softmax")
FUNCTIONAL_BANNED = ("torch.nn.functional.layer_norm", "torch.nn.LayerNorm", "torch.nn.functional.gelu",
                     "torch.nn.GELU", "torch.nn.functional.cross_entropy", "torch.nn.functional.nll_loss",
                     *SOFTMAX_FAMILY)
# The model may use torch's softmax (the softmax unit taught it), not a ready-made attention.
MODEL_BANNED = ("torch.nn.functional.scaled_dot_product_attention", "torch.nn.MultiheadAttention",
                "torch.nn.TransformerDecoderLayer", "torch.nn.TransformerEncoderLayer")

# The training budget students are told about in the notebook, in CPU seconds: the reference
# needs about a quarter of it; at Gradescope's half vCPU it is about two minutes of wall clock.
TRAIN_CPU_SECONDS = 60
# Sequences the trained model must sort, drawn here with a seed that is never shown.
EVAL_SEQUENCES = 2000
_EVAL_SEED = 0x5EC2E7
# The task train_sorter is asked to learn (a length and a number of digits within the ranges
# the notebook states) is drawn from this seed, never shown, and the submission's code: weights
# prepared in advance for one task do not fit or do not sort another, and changing the code to
# embed them draws another task.
_TASK_SEED = b"\x9d\x13task\x5e\xa1"
# One point per accuracy bar the trained model reaches (stated in the notebook): full marks at
# 99% exact-sequence accuracy, partial credit below.
ACCURACY_BARS = (0.50, 0.80, 0.95, 0.99)


# ----------------------------------------------------------------------------- inputs


def _uniform(*shape, seed, dtype=torch.float32, bound=1.0):
    """Fixed pseudo-random values in [-bound, bound], rounded to 1/8 so that they print short."""
    g = torch.Generator().manual_seed(seed)
    values = ((torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) * bound * 8).round() / 8
    return (values + 0.0).to(dtype)


def _seeded(shape, dtype, bound):
    return st.integers(0, 2**32 - 1).map(lambda seed: _uniform(*shape, seed=seed, dtype=dtype, bound=bound))


def _batch(draw, max_rank=2):
    return tuple(draw(st.lists(st.integers(1, 3), max_size=max_rank)))


LN_NAMES = ("x", "weight", "bias")


@st.composite
def layer_norm_calls(draw, tiny_variance=False):
    """x [..., D] (D >= 2), weight and bias [D]; eps left out or drawn.

    tiny_variance: rows of one value plus noise of size 1e-3 (variance ~1e-6 < eps), where
    eps outside the square root changes the result threefold."""
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    shape = _batch(draw) + (draw(st.integers(2, 8)),)
    if tiny_variance:
        center = draw(st.sampled_from([0.0, 1.0, -2.0]))
        x = center + draw(_seeded(shape, torch.float64, 1.0)) * 1e-3
        x = x.to(dtype)
    else:
        x = draw(_seeded(shape, dtype, 3.0))
    weight, bias = draw(_seeded(shape[-1:], dtype, 2.0)), draw(_seeded(shape[-1:], dtype, 2.0))
    kwargs = {"eps": draw(st.sampled_from([1e-3, 0.1]))} if draw(st.booleans()) and not tiny_variance else {}
    return Call((x, weight, bias), kwargs, names=LN_NAMES)


@st.composite
def gelu_calls(draw):
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    shape = _batch(draw) + (draw(st.integers(1, 6)),)
    return Call((draw(_seeded(shape, dtype, 6.0)),), names=("x",))


CE_NAMES = ("logits", "targets")


@st.composite
def cross_entropy_calls(draw, ignore=False, large=False):
    """logits [..., V], targets [...] in [0, V); ignore: some targets set to ignore_index (the
    default -100 or a drawn one), at least one kept. large: integer logits up to 1e4."""
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    batch = _batch(draw) or (1,)
    v = draw(st.integers(2, 6))
    bound = 10000.0 if large else 4.0
    logits = draw(_seeded(batch + (v,), dtype, bound))
    if large:
        logits = logits.round()
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    targets = torch.randint(v, batch, generator=g)
    kwargs = {}
    if ignore:
        index = draw(st.sampled_from([-100, -1, v]))
        if index != -100:
            kwargs["ignore_index"] = index
        drop = torch.rand(batch, generator=g) < 0.5
        drop.view(-1)[draw(st.integers(0, drop.numel() - 1))] = False  # one target is kept
        targets = torch.where(drop, torch.tensor(index), targets)
    return Call((logits, targets), kwargs, names=CE_NAMES)


@st.composite
def configs(draw, max_ctx=6):
    """GPTConfig arguments: n_heads 1-3 (mostly >= 2), 1-3 layers, d_mlp left out or given."""
    n_heads = draw(st.sampled_from([2, 3, 1, 2]))
    sizes = dict(vocab_size=draw(st.integers(2, 7)), n_ctx=draw(st.integers(1, max_ctx)),
                 d_model=n_heads * draw(st.integers(1, 3)), n_heads=n_heads, n_layers=draw(st.integers(1, 3)))
    if draw(st.booleans()):
        sizes["d_mlp"] = draw(st.integers(1, 6))
    return sizes


def _init(sizes):
    return Call((), sizes)


def _idx(draw, vocab, b, t):
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    return torch.randint(vocab, (b, t), generator=g)


@st.composite
def model_calls(draw, too_long=False, eps=False):
    """idx [B, T] and GPTConfig arguments; eps: a layer_norm_eps large enough to move the logits."""
    sizes = draw(configs())
    if eps:
        sizes["layer_norm_eps"] = draw(st.sampled_from([0.5, 2.0, 0.25]))
    t = sizes["n_ctx"] + draw(st.integers(1, 2)) if too_long else draw(st.integers(1, sizes["n_ctx"]))
    return Call((_idx(draw, sizes["vocab_size"], draw(st.integers(1, 2)), t),), names=("idx",), init=_init(sizes))


@st.composite
def generate_calls(draw, past_n_ctx=False):
    """A prompt and a number of new tokens (greedy); past_n_ctx: the sequence grows beyond n_ctx."""
    sizes = draw(configs(max_ctx=5))
    n_ctx = sizes["n_ctx"]
    t = draw(st.integers(1, n_ctx))
    new = draw(st.integers(n_ctx - t + 1, n_ctx - t + 4)) if past_n_ctx else draw(st.integers(0, n_ctx - t))
    idx = _idx(draw, sizes["vocab_size"], draw(st.integers(1, 2)), t)
    return Call((idx, new), names=("idx", "max_new_tokens"), init=_init(sizes))


def redraw_weights(model):
    """Weights of unit scale instead of GPT-2's 0.02, LayerNorm gains around 1 (never exactly),
    biases nonzero: every piece of the model moves the logits, so each bug shows."""
    for name, p in model.named_parameters():
        if p.dim() == 1 and ".ln" in f".{name}" and name.endswith("weight"):
            p.copy_(1.0 + 0.5 * torch.randn_like(p))
        elif p.dim() == 1:
            p.copy_(0.5 * torch.randn_like(p))
        elif "emb" in name:
            p.copy_(torch.randn_like(p))
        else:
            p.copy_(torch.randn_like(p) / math.sqrt(p.shape[1]))


# ----------------------------------------------------------------------------- bugs to catch
#
# Each hint recomputes one classic layer_norm bug from the failing input, in float64, and applies
# when the student's output matches it: it comes before an example's fixed hint, so the student
# reads what their code actually does.


def _layer_norm(call, *, unbiased=False, eps_outside=False, affine=True):
    x, weight, bias = (t.double() for t in call.args)
    eps = call.kwargs.get("eps", 1e-5)
    centred = x - x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=unbiased, keepdim=True)
    y = centred / (var.sqrt() + eps if eps_outside else (var + eps).sqrt())
    return y * weight + bias if affine else y


def _ln_bug(**bug):
    def applies(call, expected, got):
        buggy = _layer_norm(call, **bug)
        return (isinstance(got, torch.Tensor) and got.shape == buggy.shape
                and bool(torch.allclose(got.double(), buggy, rtol=1e-4, atol=1e-4))
                and not bool(torch.allclose(buggy, _layer_norm(call), rtol=1e-4, atol=1e-4)))
    return applies


LN_HINTS = (
    Hint(_ln_bug(unbiased=True), "your output matches the unbiased variance (divided by D - 1, torch.var's "
         "default): LayerNorm uses the biased variance, the mean of (x - mean)^2 over the D features"),
    Hint(_ln_bug(eps_outside=True), "your output matches eps added outside the square root: "
         "eps goes inside, (x - mean) / sqrt(var + eps)"),
    Hint(_ln_bug(affine=False), "your output matches the normalised x without the affine map: multiply by "
         "weight, then add bias"),
)



def _gelu_like(approximation):
    def applies(call, expected, got):
        x = call.args[0].double()
        return (isinstance(got, torch.Tensor) and got.shape == x.shape
                and bool(torch.allclose(got.double(), approximation(x), rtol=1e-4, atol=1e-4)))
    return applies


GELU_HINTS = (
    Hint(_gelu_like(lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
         "your output matches the tanh approximation of GELU: use the exact GELU 0.5 * x * (1 + erf(x / sqrt(2)))"),
    Hint(_gelu_like(lambda x: x * torch.sigmoid(1.702 * x)),
         "your output matches the sigmoid approximation x * sigmoid(1.702 x): use the exact GELU "
         "0.5 * x * (1 + erf(x / sqrt(2)))"),
)


def _reference_gpt(call):
    """The reference GPT of a model call, with the weights the grader loads (same seed, redrawn)."""
    ref = _reference()
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(0)  # as grade.py: seeded, built, then redraw_weights
        model = ref.GPT(ref.GPTConfig(*call.init.args, **call.init.kwargs)).eval()
        redraw_weights(model)
    return model


def _gpt_logits(call, *, attn_residual=True, positions=True, causal=True, post_ln=False, tied="",
                scale_by="head"):
    """The GPT's logits in float64 from the reference's weights, with one bug switched on."""
    model = _reference_gpt(call)
    sd = {k: v.detach().double() for k, v in model.state_dict().items()}
    cfg = model.config
    idx, = call.args
    t = idx.shape[1]

    def ln(x, name):
        mean = x.mean(-1, keepdim=True)
        var = ((x - mean) ** 2).mean(-1, keepdim=True)
        return (x - mean) / torch.sqrt(var + cfg.layer_norm_eps) * sd[f"{name}.weight"] + sd[f"{name}.bias"]

    def linear(x, name):
        return x @ sd[f"{name}.weight"].T + sd.get(f"{name}.bias", 0.0)

    def attention(x, name):
        h = cfg.n_heads
        q, k, v = (linear(x, f"{name}.{p}_proj").unflatten(-1, (h, -1)).transpose(-3, -2) for p in "qkv")
        width = q.shape[-1] if scale_by == "head" else cfg.d_model
        scores = q @ k.transpose(-1, -2) / math.sqrt(width)
        if causal:
            scores = scores.masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), float("-inf"))
        return linear((scores.softmax(-1) @ v).transpose(-3, -2).flatten(-2), f"{name}.o_proj")

    def mlp(x, name):
        hidden = linear(x, f"{name}.fc_in")
        return linear(0.5 * hidden * (1 + torch.erf(hidden / math.sqrt(2))), f"{name}.fc_out")

    embedding = sd["lm_head.weight"] if tied == "embedding" else sd["tok_emb.weight"]
    x = embedding[idx] + (sd["pos_emb.weight"][:t] if positions else 0.0)
    for layer in range(cfg.n_layers):
        block = f"blocks.{layer}"
        if post_ln:
            x = ln(x + attention(x, f"{block}.attn"), f"{block}.ln1")
            x = ln(x + mlp(x, f"{block}.mlp"), f"{block}.ln2")
            continue
        a = attention(ln(x, f"{block}.ln1"), f"{block}.attn")
        x = x + a if attn_residual else a
        x = x + mlp(ln(x, f"{block}.ln2"), f"{block}.mlp")
    head = sd["tok_emb.weight"] if tied == "head" else sd["lm_head.weight"]
    return ln(x, "ln_f") @ head.T


def _gpt_bug(**variants):
    """applies(call, expected, got): the student's logits equal the GPT with one of `variants`."""
    def applies(call, expected, got):
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            return False
        return any(bool(torch.allclose(got.double(), _gpt_logits(call, **{key: value}), rtol=1e-3, atol=1e-3))
                   for key, values in variants.items() for value in values)
    return applies


GPT_HINTS = (
    Hint(_gpt_bug(attn_residual=[False]), "your logits match blocks without the residual connection around the "
         "attention: x = x + attn(ln1(x)), then x = x + mlp(ln2(x))"),
    Hint(_gpt_bug(post_ln=[True]), "your logits match post-LayerNorm blocks, x = ln1(x + attn(x)): this GPT is "
         "pre-LayerNorm, x = x + attn(ln1(x)), then x = x + mlp(ln2(x))"),
    Hint(_gpt_bug(positions=[False]), "your logits match the model without positional embeddings: the input is "
         "tok_emb(idx) + pos_emb(positions)"),
    Hint(_gpt_bug(causal=[False]), "your logits match attention without the causal mask: position i may attend "
         "only to positions j <= i"),
    Hint(_gpt_bug(tied=["head", "embedding"]), "your logits match lm_head tied to tok_emb (one weight for both): "
         "this GPT's lm_head has its own weight"),
    Hint(_gpt_bug(scale_by=["model"]), "your logits match attention scores divided by sqrt(d_model): divide by "
         "sqrt(d_head) = sqrt(d_model / n_heads), each head's width"),
)


def _generated_from_first_position(call, expected, got):
    """Greedy decoding that reads the logits of the FIRST position instead of the last."""
    model = _reference_gpt(call)
    idx, new = call.args
    with torch.no_grad():
        for _ in range(new):
            logits = model(idx[:, -model.config.n_ctx:])[:, 0]
            idx = torch.cat([idx, logits.argmax(-1, keepdim=True)], dim=1)
    return isinstance(got, torch.Tensor) and got.shape == idx.shape and torch.equal(got, idx)


GENERATE_HINTS = (
    Hint(_generated_from_first_position, "your tokens are the argmax of the FIRST position's logits: the next "
         "token comes from the last position, model(context)[:, -1]"),
)


# ----------------------------------------------------------------------------- explicit examples


def _ln(x, w, b, **kw):
    return Call((x, w, b), kw, names=LN_NAMES)


LN_PLAIN = _ln(torch.tensor([[1.0, 2.0, 3.0, 6.0], [0.5, -0.5, 2.0, 0.0]]), torch.tensor([1.0, 0.5, 2.0, -1.0]),
               torch.tensor([0.0, 1.0, -0.5, 0.25]))
LN_TWO = _ln(torch.tensor([[3.0, -1.0]], dtype=torch.float64), torch.tensor([2.0, 2.0], dtype=torch.float64),
             torch.tensor([0.5, -0.5], dtype=torch.float64), eps=0.1)
LN_TINY = _ln(torch.tensor([[1.001, 0.999, 1.0, 1.002]]), torch.tensor([1.0, 1.0, 1.0, 1.0]),
              torch.tensor([0.0, 0.0, 0.0, 0.0]))
GELU_SWEEP = Call((torch.linspace(-5.0, 5.0, 41),), names=("x",))
GELU_F64 = Call((torch.tensor([[-3.0, -1.5, -0.5], [0.5, 1.5, 3.0]], dtype=torch.float64),), names=("x",))
CE_PLAIN = Call((torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0], [1.0, -2.0, 0.0]]), torch.tensor([0, 2, 1])),
                names=CE_NAMES)
CE_IGNORED = Call((torch.tensor([[[2.0, 0.0, -1.0], [0.5, 0.5, 3.0], [1.0, -2.0, 0.0], [0.0, 1.0, 2.0]]]),
                   torch.tensor([[0, -100, 1, -100]])), names=CE_NAMES)
CE_IGNORE_INDEX = Call((torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0], [1.0, -2.0, 0.0]]), torch.tensor([0, 3, 1])),
                       {"ignore_index": 3}, names=CE_NAMES)
CE_LARGE = Call((torch.tensor([[9000.0, -9000.0, 0.0], [-10000.0, 10000.0, 9999.0]]), torch.tensor([1, 2])),
                names=CE_NAMES)

SIZES_TWO_HEADS = dict(vocab_size=5, n_ctx=6, d_model=8, n_heads=2, n_layers=2)
MODEL_TWO_HEADS = Call((torch.tensor([[0, 3, 1, 4, 2, 2], [4, 4, 0, 1, 3, 0]]),), names=("idx",),
                       init=_init(SIZES_TWO_HEADS))
MODEL_SHORT = Call((torch.tensor([[2, 0, 1]]),), names=("idx",), init=_init(dict(SIZES_TWO_HEADS, n_layers=3)))
MODEL_ONE_TOKEN = Call((torch.tensor([[3], [1]]),), names=("idx",), init=_init(dict(SIZES_TWO_HEADS, n_heads=4)))
MODEL_EPS = Call((torch.tensor([[0, 3, 1, 4], [2, 2, 4, 1]]),), names=("idx",),
                 init=_init(dict(SIZES_TWO_HEADS, layer_norm_eps=1.0)))
MODEL_TOO_LONG = Call((torch.zeros(1, 7, dtype=torch.int64),), names=("idx",), init=_init(SIZES_TWO_HEADS))
GENERATE_FITS = Call((torch.tensor([[1, 2], [4, 0]]), 3), names=("idx", "max_new_tokens"),
                     init=_init(SIZES_TWO_HEADS))
GENERATE_PAST = Call((torch.tensor([[1, 2, 3, 4]]), 5), names=("idx", "max_new_tokens"),
                     init=_init(dict(SIZES_TWO_HEADS, n_ctx=4)))


def _examples(*calls, hint=""):
    return tuple(Example(call, hint) for call in calls)


# ----------------------------------------------------------------------------- sampled generation
#
# generate at temperature > 0 is graded by a distribution check (autograder/distribution.py): a
# prompt repeated GENERATE_SAMPLES times, two new tokens each, drawn with a seeded generator in
# calls of GENERATE_ROWS_PER_CALL rows (the generator read on from call to call); the V * V pairs
# must follow the reference GPT's exact joint probabilities, P(a) * P(b | prompt + a), each
# softmax(logits / temperature). Any correct sampler passes.

GENERATE_SAMPLES = 20000
# The power of that check (distribution.check_power, measured by tests/test_distribution.py): a
# generate whose probability of any one token pair is off by this much fails with probability >= 0.99.
GENERATE_DETECTS = 0.03
# Rows of that batch per call of the student's generate (distribution.DistributionCheck.rows_per_call):
# the GPT's activations for all 20000 rows at once were ~100 MB in the worker, which pushed the
# whole grading past 512 MB on Gradescope; 2500 rows take about an eighth.
GENERATE_ROWS_PER_CALL = 2500


def _sampled_case(prompt, temperature, seed, sizes=None):
    idx = torch.tensor([prompt]).expand(GENERATE_SAMPLES, len(prompt)).clone()
    return Call((idx, 2), {"temperature": temperature, "generator": torch.Generator().manual_seed(seed)},
                names=("idx", "max_new_tokens"), init=_init(sizes or SIZES_TWO_HEADS))


def _pair_probabilities_from(logits_of, call):
    """[1, V * V]: P(a) P(b | prompt + a) from `logits_of(idx [V, T + 1])` -> logits [V, T + 1, V]."""
    idx, _ = call.args
    prompt, t = idx[:1], call.kwargs["temperature"]
    vocab = call.init.kwargs["vocab_size"]
    batch = torch.cat([prompt.expand(vocab, -1), torch.arange(vocab)[:, None]], dim=1)  # [V, T + 1]
    logits = logits_of(batch).double()
    first = torch.softmax(logits[0, -2] / t, -1)  # [V]: the prompt's last position
    second = torch.softmax(logits[:, -1] / t, -1)  # [V, V]: after each first token
    return (first[:, None] * second).reshape(1, -1).numpy()


def generated_distribution(call, temperature=None):
    model = _reference_gpt(call)
    if temperature is not None:
        call = Call(call.args, dict(call.kwargs, temperature=temperature), call.names, call.init)
    with torch.no_grad():
        return _pair_probabilities_from(model, call)


def _continuations(call):
    """The GPT call whose logits give the pair probabilities: the prompt + each token."""
    idx, _ = call.args
    vocab = call.init.kwargs["vocab_size"]
    batch = torch.cat([idx[:1].expand(vocab, -1), torch.arange(vocab)[:, None]], dim=1)
    return Call((batch,), names=("idx",), init=call.init)


def _pair_probabilities(call, got):
    return _pair_probabilities_from(lambda batch: got, call)


def generated_pairs(call, got):
    """[1, n] pair indices a * V + b of generate's [n, T + 2] answer, or why it is not that."""
    idx, new = call.args
    n, t = idx.shape
    vocab = call.init.kwargs["vocab_size"]
    if not isinstance(got, torch.Tensor) or got.dtype != torch.int64 or tuple(got.shape) != (n, t + new):
        kind = f"{tuple(got.shape)} {got.dtype}" if isinstance(got, torch.Tensor) else type(got).__name__
        return f"`generate` must return an int64 tensor of shape [B, T + max_new_tokens] = [{n}, {t + new}], got {kind}"
    if not torch.equal(got[:, :t], idx):
        return "`generate` must return the prompt idx followed by the new tokens"
    if got.min() < 0 or got.max() >= vocab:
        return f"`generate` returned a token outside [0, {vocab})"
    return (got[:, t] * vocab + got[:, t + 1]).reshape(1, n).numpy()


GENERATE_CASES = (
    Example(_sampled_case([1, 2, 4], 2.0, 21), "sample from softmax(logits / temperature): divide the LOGITS by "
            "the temperature, then torch.multinomial(probs, 1, generator=generator)"),
    Example(_sampled_case([3, 0], 0.5, 22), "sample from softmax(logits / temperature), every random number "
            "from `generator`"),
)
GENERATED_HINTS = (
    Hint(matches(functools.partial(generated_distribution, temperature=1.0)), "your tokens follow softmax(logits) "
         "without the temperature (softmax(logits) / temperature is renormalised by the sampler): divide the "
         "LOGITS by the temperature before the softmax"),
)


# ----------------------------------------------------------------------------- training


@functools.lru_cache(maxsize=None)
def _reference():
    from . import reference

    return reference("gpt")


def _fresh_digits(length, digits, n=EVAL_SEQUENCES):
    return torch.randint(digits, (n, length), generator=torch.Generator().manual_seed(_EVAL_SEED))


@functools.lru_cache(maxsize=8)
def _task_call(code: tuple[str, ...]) -> Call:
    """train_sorter's call for a submission whose code cells are `code`: the same Call object
    each time (the four bars share one training run), the task drawn from the hidden seed."""
    digest = hashlib.sha256(_TASK_SEED + "\0".join(code).encode()).digest()
    length = public.SORT_LENGTHS[digest[0] % len(public.SORT_LENGTHS)]
    digits = public.SORT_DIGIT_COUNTS[digest[1] % len(public.SORT_DIGIT_COUNTS)]
    return Call(kwargs={"length": length, "digits": digits})


def draw_task(cells: list[str]) -> Call:
    return _task_call(tuple(cells))


def _task(call: Call) -> tuple[int, int]:
    kwargs = dict(call.kwargs) if call is not None else {}
    return kwargs.get("length", public.SORT_LENGTH), kwargs.get("digits", public.SORT_DIGITS)


def credit(accuracy: float) -> float:
    """The fraction of the training points an accuracy earns."""
    return sum(accuracy >= bar for bar in ACCURACY_BARS) / len(ACCURACY_BARS)


def judge_training(call: Call, got, bar: float = ACCURACY_BARS[-1]) -> tuple[float, str]:
    """(1 if the trained model reaches `bar` else 0, message) for what train_sorter returned,
    (state_dict, losses)."""
    if not (isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[0], dict)):
        return 0.0, "`train_sorter` must return a tuple (model, losses), the model an nn.Module (a GPT)"
    state, losses = got
    if not isinstance(losses, (list, tuple)) or not all(isinstance(v, (int, float)) for v in losses):
        return 0.0, "`losses` must be a list of floats (loss.item() after each step)"
    bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
    if bad is not None:
        return 0.0, (f"training diverged: the loss is {losses[bad]} at step {bad}. Lower the learning rate, "
                     "check that cross_entropy is stable for large logits, and clip gradients if needed")
    if not all(isinstance(t, torch.Tensor) for t in state.values()):
        return 0.0, "the trained model's state_dict holds something other than tensors"
    if not all(bool(t.isfinite().all()) for t in state.values() if t.is_floating_point()):
        return 0.0, "training diverged: the trained model's weights contain NaN or inf"
    length, digits = _task(call)
    accuracy = _accuracy(tuple(sorted((k, v.float()) for k, v in state.items())), length, digits)
    if isinstance(accuracy, str):
        return 0.0, accuracy
    shown = math.floor(accuracy * 1000) / 1000  # rounded down: 94.96% is not shown as the 95% it misses
    return float(accuracy >= bar), (f"your trained model sorts {shown:.1%} of {EVAL_SEQUENCES} fresh sequences "
                                    f"of the task train_sorter(length={length}, digits={digits}) exactly (loaded "
                                    f"into the reference GPT); this check needs {bar:.0%}")


_ACCURACIES: dict = {}  # state_dict bytes -> accuracy: the bars of one training share one evaluation


def _accuracy(state: tuple, length: int, digits: int) -> float | str:
    """Greedy exact-sequence accuracy of the weights `state` in the reference
    GPT(sort_sizes(length, digits)), on sequences of that task drawn here; or why the weights
    do not fit."""
    key = hashlib.sha256(f"{length},{digits}".encode() + b"".join(
        k.encode() + v.numpy().tobytes() + str(tuple(v.shape)).encode() for k, v in state)).hexdigest()
    if key not in _ACCURACIES:
        _ACCURACIES.clear()
        _ACCURACIES[key] = _evaluate(dict(state), length, digits)
    return _ACCURACIES[key]


def _evaluate(state: dict, length: int, digits: int) -> float | str:
    ref = _reference()
    torch.manual_seed(0)
    model = ref.GPT(ref.GPTConfig(**public.sort_sizes(length, digits)))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()
        return (f"the trained model's state_dict does not fit GPT(GPTConfig(**sort_sizes({length}, {digits}))), "
                f"the task train_sorter(length={length}, digits={digits}) was asked to learn, with the "
                f"contract's keys: {' '.join(first[1:3])[:400]}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic, and no thread storm on a shared or loaded machine
    try:
        with torch.no_grad():
            return _sort_accuracy_in_chunks(model, _fresh_digits(length, digits), ref.generate)
    finally:
        torch.set_num_threads(threads)


# Sequences decoded at once when judging a trained model: all 2000 in one batch took ~150 MB of
# activations in the grader while the worker still holds its own, above Gradescope's 768 MB
# budget for both (and the 512 MB this project aims for); 250 at a time, under 20 MB.
EVAL_CHUNK = 250


def _sort_accuracy_in_chunks(model, digits, generate) -> float:
    """public.sort_accuracy(model, digits, generate), decoded EVAL_CHUNK rows at a time: the
    same value, bit for bit (the float32 mean of the rows sorted, k / N rounded once)."""
    sorted_rows = sum(round(public.sort_accuracy(model, chunk, generate) * len(chunk))
                      for chunk in digits.split(EVAL_CHUNK))
    return (torch.tensor(float(sorted_rows)) / len(digits)).item()


# ----------------------------------------------------------------------------- questions

MODEL_CLASSES = ("GPTConfig", "LayerNorm", "MLP", "CausalSelfAttention", "Block", "GPT")
MODEL_CHECK = dict(config_class="GPTConfig", weights=redraw_weights, compare=Close(rtol=1e-4, atol=1e-4))

layer_norm_q = Question(
    "layer_norm", functions=("layer_norm",),
    checks=(
        Check("matches the reference (batch dims, weight and bias, eps given or not)", "layer_norm",
              layer_norm_calls(), points=2, max_examples=12, examples=_examples(LN_PLAIN, LN_TWO), hints=LN_HINTS),
        Check("rows of tiny variance: eps inside the square root", "layer_norm", layer_norm_calls(tiny_variance=True),
              points=1, max_examples=8, compare=Close(rtol=1e-4, atol=1e-4), hints=LN_HINTS,
              examples=_examples(LN_TINY, hint="eps goes inside the square root: sqrt(var + eps)")),
    ))

gelu_q = Question(
    "gelu", functions=("gelu",),
    checks=(
        Check("matches the exact (erf) GELU on [-6, 6]", "gelu", gelu_calls(), points=2, max_examples=10,
              hints=GELU_HINTS,
              examples=_examples(GELU_SWEEP, GELU_F64, hint="use the exact GELU 0.5 * x * (1 + erf(x / sqrt(2))), "
                                 "not the tanh or sigmoid approximation")),
    ))

cross_entropy_q = Question(
    "cross_entropy", functions=("cross_entropy",),
    checks=(
        Check("matches the reference (the mean over positions)", "cross_entropy", cross_entropy_calls(), points=1,
              max_examples=10, examples=_examples(CE_PLAIN, hint="the mean (not the sum) over positions of "
                                                  "-log_softmax(logits)[target]")),
        Check("ignore_index: ignored targets count neither in the sum nor in the mean", "cross_entropy",
              cross_entropy_calls(ignore=True), points=1, max_examples=10,
              examples=_examples(CE_IGNORED, CE_IGNORE_INDEX, hint="leave out the positions whose target equals "
                                 "ignore_index, and divide by the number of the other ones")),
        Check("stays finite and exact for logits up to 1e4", "cross_entropy", cross_entropy_calls(large=True),
              points=1, max_examples=6, examples=_examples(CE_LARGE, hint="subtract each row's maximum before "
                                                            "exp: exp(10000) overflows")),
    ))

gpt_q = Question(
    "GPT", functions=MODEL_CLASSES, banned=MODEL_BANNED,
    checks=(
        Check("logits match the reference with its weights loaded (several layers, n_heads >= 2, T <= n_ctx)",
              "GPT", model_calls(), points=3, max_examples=8, hints=GPT_HINTS, **MODEL_CHECK,
              examples=_examples(MODEL_TWO_HEADS, MODEL_SHORT, MODEL_ONE_TOKEN, hint=(
                  "a pre-LayerNorm block is x = x + attn(ln1(x)), then x = x + mlp(ln2(x)); the input is "
                  "tok_emb(idx) + pos_emb(positions); attention is causal; ln_f before lm_head"))),
        Check("an input longer than n_ctx raises ValueError", "GPT", model_calls(too_long=True), points=1,
              max_examples=3, **MODEL_CHECK, examples=_examples(MODEL_TOO_LONG)),
        Check("every LayerNorm uses the config's layer_norm_eps (here not the default 1e-5)", "GPT",
              model_calls(eps=True), points=0.5, max_examples=3, **MODEL_CHECK,
              examples=_examples(MODEL_EPS, hint="pass config.layer_norm_eps to every LayerNorm "
                                 "(ln1, ln2 and ln_f), and use it in LayerNorm.forward")),
        refusals("GPTConfig",
                 Example(Call((), dict(SIZES_TWO_HEADS, d_model=6, n_heads=4)),
                         "GPTConfig(d_model=6, n_heads=4): d_model must be divisible by n_heads; raise "
                         "ValueError in __post_init__"),
                 Example(Call((), dict(SIZES_TWO_HEADS, d_model=9, n_heads=2, d_mlp=5)),
                         "GPTConfig(d_model=9, n_heads=2): d_model must be divisible by n_heads; raise "
                         "ValueError in __post_init__")),
    ))

generate_q = Question(
    "generate", functions=("generate",), banned=MODEL_BANNED,
    checks=(
        Check("greedy decoding matches the reference, token for token", "generate", generate_calls(), points=1,
              max_examples=5, module="GPT", hints=GENERATE_HINTS, **dict(MODEL_CHECK, compare=Exact()),
              examples=_examples(GENERATE_FITS)),
        Check("generating past n_ctx: the context is cropped to the last n_ctx tokens", "generate",
              generate_calls(past_n_ctx=True), points=1, max_examples=5, module="GPT",
              **dict(MODEL_CHECK, compare=Exact()),
              examples=_examples(GENERATE_PAST, hint="feed the model idx[:, -n_ctx:] at each step")),
        distribution_check(
            f"temperature > 0: {GENERATE_SAMPLES} two-token continuations follow softmax(logits / temperature) "
            f"(exact test, a correct sampler fails with probability <= {ALPHA:g}); another generator seed "
            "gives other tokens", "generate", GENERATE_CASES, generated_distribution, generated_pairs, points=0.5,
            module="GPT", config_class="GPTConfig", weights=redraw_weights, hints=GENERATED_HINTS,
            rows_per_call=GENERATE_ROWS_PER_CALL,
            labels=lambda group, pair: (f"new tokens ({pair // SIZES_TWO_HEADS['vocab_size']}, "
                                        f"{pair % SIZES_TWO_HEADS['vocab_size']})"),
            follow=Follow("GPT", _continuations, _pair_probabilities, config_class="GPTConfig",
                          weights=redraw_weights)),
    ))

TRAIN_CALL = Call()  # stands for the call drawn per submission (draw_task): one training run
TRAIN_HINT = (f"train_sorter() must finish within {TRAIN_CPU_SECONDS} s of CPU time: fewer steps or a "
              "smaller batch")
# No follow-through: the trained weights are judged in the reference GPT, so a student's wrong GPT
# would otherwise decide its own answer; a failure names the wrong GPT to fix first.
train_q = Question(
    "train_sorter", functions=("train_sorter",), banned=(),
    depends=("GPT",), follow_through=False,
    checks=tuple(
        Check(f"the trained model sorts at least {bar:.0%} of fresh sequences (training within "
              f"{TRAIN_CPU_SECONDS} s of CPU time)", "train_sorter", st.just(TRAIN_CALL), points=1,
              judge=functools.partial(judge_training, bar=bar), cpu_seconds=TRAIN_CPU_SECONDS, draw=draw_task,
              examples=(Example(TRAIN_CALL, TRAIN_HINT),))
        for bar in ACCURACY_BARS),
)

UNIT = Unit(
    name="gpt",
    questions=(layer_norm_q, gelu_q, cross_entropy_q, gpt_q, generate_q, train_q),
    banned=FUNCTIONAL_BANNED,
    mutation_floor=0.9,  # make audit: 100% (61 killed) of the checks it audits (not the judged training)
)
