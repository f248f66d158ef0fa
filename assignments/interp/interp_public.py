"""Public checks for the `interp` unit: what `grader.check("<question>")` runs.

You may read this file: it contains no reference solution. Every check tests a property
that any correct implementation has (patterns are distributions over earlier positions, the
direct logit attributions add up to the model's logit, the logit lens's last layer is the
model's output, patching the only head of a one-layer model restores everything, ...) or a
worked example whose answer is printed in the notebook. Passing them all is a good sign, not
a guarantee: the grader also compares your functions with a reference on the trained model
and on many randomly initialised models of other sizes.

Each check is a plain function that takes your function(s) as keyword arguments, named like
the functions in the notebook, and raises AssertionError with the failing input when the
property does not hold. Models and tokens come from fixed seeds: a check always gives the
same verdict. This module needs only torch, _public_kit.py and the provided interp_model.py.
"""

import torch

import _public_kit as kit  # assignments/_public_kit.py, shipped beside this module

# question name -> its checks, in display order (filled in by @_check below); each question of
# the spec (autograder/units/interp.py) takes the checks registered under its name
CHECKS, _check = kit.registry()


# -----------------------------------------------------------------------------
# helpers


def _model_module():
    return kit.provided_module("interp_model", __file__)


def _random_model(seed, d_vocab=7, n_ctx=12, d_model=6, n_heads=3, d_head=2, n_layers=2):
    torch.manual_seed(seed)
    model = _model_module().AttnOnlyTransformer(d_vocab, n_ctx, d_model, n_heads, d_head, n_layers)
    return model.eval()


# (description, model factory, d_vocab): small random models of several shapes, and the trained one
_MODELS = [
    ("a random 2-layer, 3-head model", lambda: _random_model(1), 7),
    ("a random 1-layer, 2-head model", lambda: _random_model(2, d_vocab=5, d_model=4, n_heads=2, d_head=3,
                                                             n_layers=1), 5),
    ("a random 3-layer, 1-head model", lambda: _random_model(3, d_vocab=9, d_model=5, n_heads=1, d_head=4,
                                                             n_layers=3), 9),
]


def _tokens(batch, length, vocab, seed):
    return torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


def _call(fn, name, *args):
    """Call the student's `fn`; every way it can go wrong becomes a clear AssertionError."""
    if fn is None:
        raise AssertionError(f"`{name}` is not defined: run the cell that defines it (and keep its name).")
    try:
        return fn(*args)
    except NotImplementedError as exc:
        raise AssertionError(f"`{name}` is not implemented yet (it raised NotImplementedError). Replace the "
                             "`raise NotImplementedError(...)` line in its cell with your code, run the cell, "
                             "then run this check again.") from exc
    except Exception as exc:
        raise AssertionError(f"`{name}` raised {type(exc).__name__}: {exc}") from exc


def _tensor(out, name, shape, what=""):
    if not isinstance(out, torch.Tensor):
        raise AssertionError(f"`{name}`{what} returned a {type(out).__name__}, expected a torch.Tensor")
    if tuple(out.shape) != tuple(shape):
        raise AssertionError(f"`{name}`{what} returned shape {tuple(out.shape)}, expected {tuple(shape)}")
    return out.detach()


def _close(got, expected, tol, message):
    diff = (got.double() - expected.double()).abs().max().item() if got.numel() else 0.0
    if not diff <= tol:
        raise AssertionError(f"{message} (largest difference {diff:.3g})")


def _no_hooks_left(model, name):
    left = [n or "model" for n, m in model.named_modules()
            if m._forward_hooks or m._forward_pre_hooks]
    if left:
        raise AssertionError(f"`{name}` left forward hooks registered on {', '.join(left)}: remove every "
                             "hook you register (handle = module.register_forward_hook(...); handle.remove()), "
                             "ideally in a try/finally")


def _expect_value_error(fn, name, cases):
    """Each (args, why) must raise ValueError, as the docstring says."""
    problems = []
    for args, shown, why in cases:
        try:
            out = fn(*args)
        except ValueError:
            continue
        except NotImplementedError:
            _call(fn, name, *args)  # says "not implemented yet"
        except Exception as exc:
            problems.append(f"`{name}({shown})` raised {type(exc).__name__} ({exc}); expected ValueError: {why}")
        else:
            problems.append(f"`{name}({shown})` returned a {type(out).__name__}; expected ValueError: {why}")
    if problems:
        raise AssertionError("invalid arguments must raise ValueError (see the docstring):\n  " + "\n  ".join(problems))


def _perfect_pattern(batch, n_heads, length, key_of):
    """[batch, 1, n_heads, T, T]: head h's query i attends only to key key_of(h, i) (clamped to 0)."""
    out = torch.zeros(batch, 1, n_heads, length, length)
    for h in range(n_heads):
        for i in range(length):
            out[:, 0, h, i, max(0, min(i, key_of(h, i)))] = 1.0
    return out


# -----------------------------------------------------------------------------
# attention_patterns


@_check("attention_patterns")
def patterns_are_causal_distributions(attention_patterns):
    """returns [B, n_layers, n_heads, T, T]; each row sums to 1, is >= 0, and is 0 above the diagonal"""
    for description, make, vocab in _MODELS:
        model = make()
        tokens = _tokens(2, 6, vocab, seed=10)
        out = _tensor(_call(attention_patterns, "attention_patterns", model, tokens), "attention_patterns",
                      (2, model.n_layers, model.n_heads, 6, 6), f" on {description}")
        if torch.isinf(out).any() or (out < 0).any():
            raise AssertionError(f"on {description}, your patterns hold negative or infinite values: these are the "
                                 "scores before the softmax; return the output of hook_pattern")
        _close(out.sum(-1), torch.ones(out.shape[:-1]), 1e-5,
               f"on {description}, the rows of your patterns do not sum to 1 (use hook_pattern, after the softmax)")
        _close(out.triu(1), torch.zeros_like(out), 0.0,
               f"on {description}, your patterns attend to future positions")
        _no_hooks_left(model, "attention_patterns")


# -----------------------------------------------------------------------------
# prev_token_scores and induction_scores


@_check("prev_token_scores")
def prev_token_worked_example(prev_token_scores):
    """a head that always attends to the previous token scores 1, one that attends to itself scores 0"""
    previous = _perfect_pattern(2, 1, 5, lambda h, i: i - 1)
    itself = _perfect_pattern(2, 1, 5, lambda h, i: i)
    patterns = torch.cat([previous, itself], dim=2)  # [2, 1, 2, 5, 5]: head 0 previous, head 1 itself
    out = _tensor(_call(prev_token_scores, "prev_token_scores", patterns), "prev_token_scores", (1, 2))
    _close(out, torch.tensor([[1.0, 0.0]]), 1e-6,
           f"with head 0 always on the previous token and head 1 on itself, expected [[1., 0.]], got {out.tolist()}")


@_check("prev_token_scores")
def prev_token_uniform_example(prev_token_scores):
    """uniform causal attention over T=4 positions scores mean(1/2, 1/3, 1/4) = 13/36"""
    patterns = torch.tril(torch.ones(4, 4)) / torch.arange(1, 5.0)[:, None]
    out = _tensor(_call(prev_token_scores, "prev_token_scores", patterns[None, None, None]),
                  "prev_token_scores", (1, 1))
    _close(out, torch.tensor([[13 / 36]]), 1e-6, f"expected [[{13 / 36:.6f}]], got {out.tolist()}")


@_check("induction_scores")
def induction_worked_example(induction_scores):
    """an induction head scores 1, a duplicate-token head (key t - seg_len) scores 0, with 2 or 3 repeats"""
    for seg_len, length in ((3, 6), (3, 9), (2, 7)):
        induction = _perfect_pattern(1, 1, length, lambda h, i: i - seg_len + 1 if i >= seg_len else i)
        duplicate = _perfect_pattern(1, 1, length, lambda h, i: i - seg_len if i >= seg_len else i)
        patterns = torch.cat([induction, duplicate], dim=2)
        out = _tensor(_call(induction_scores, "induction_scores", patterns, seg_len), "induction_scores", (1, 2))
        _close(out, torch.tensor([[1.0, 0.0]]), 1e-6,
               f"seg_len={seg_len}, T={length}: head 0 always attends to key t - seg_len + 1 (an induction head), "
               f"head 1 to key t - seg_len (the earlier copy of the same token); expected [[1., 0.]], got "
               f"{out.tolist()}")


@_check("induction_scores")
def induction_rejects_bad_seg_len(induction_scores):
    """raises ValueError for seg_len < 1 or seg_len >= T"""
    patterns = _perfect_pattern(1, 1, 4, lambda h, i: i)
    for seg_len in (0, 4):
        try:
            induction_scores(patterns, seg_len)
        except ValueError:
            continue
        except NotImplementedError:
            _call(induction_scores, "induction_scores", patterns, seg_len)
        except Exception as exc:
            raise AssertionError(f"induction_scores(patterns with T=4, seg_len={seg_len}) raised "
                                 f"{type(exc).__name__}; expected ValueError") from exc
        raise AssertionError(f"induction_scores(patterns with T=4, seg_len={seg_len}) returned a value; "
                             "expected ValueError (1 <= seg_len < T)")


# -----------------------------------------------------------------------------
# find_induction_heads


@_check("find_induction_heads")
def trained_model_has_induction_heads(find_induction_heads, attention_patterns, induction_scores):
    """the trained model has induction heads in layer 1 and none in layer 0; the answer is your scores > threshold, for any threshold"""
    module = _model_module()
    model = module.load_trained()
    tokens = module.repeated_tokens(4, 10, 2, generator=torch.Generator().manual_seed(0))
    out = _call(find_induction_heads, "find_induction_heads", model, tokens, 10, 0.4)
    out = _tensor(out, "find_induction_heads", (model.n_layers, model.n_heads))
    if out.dtype != torch.bool:
        raise AssertionError(f"`find_induction_heads` returned dtype {out.dtype}, expected torch.bool")
    if out[0].any() or not out[1].any():
        raise AssertionError(f"on a segment of 10 tokens repeated twice, expected induction heads in layer 1 only, "
                             f"got {out.tolist()}")
    scores = _call(induction_scores, "induction_scores",
                   _call(attention_patterns, "attention_patterns", model, tokens), 10)
    for threshold in (0.4, 0.0, 1.0):  # the default, and two that change the answer
        if threshold != 0.4:
            out = _tensor(_call(find_induction_heads, "find_induction_heads", model, tokens, 10, threshold),
                          "find_induction_heads", (model.n_layers, model.n_heads))
        if not torch.equal(out, scores > threshold):
            raise AssertionError(f"`find_induction_heads(model, tokens, 10, threshold={threshold})` gave "
                                 f"{out.tolist()}, but your induction_scores > {threshold} gives "
                                 f"{(scores > threshold).tolist()} (use the `threshold` argument)")


# -----------------------------------------------------------------------------
# direct_logit_attribution


@_check("direct_logit_attribution")
def attributions_add_up_to_the_logit(direct_logit_attribution):
    """embed + heads.sum((-2, -1)) + bias equals the model's logit of each correct next token"""
    for description, make, vocab in _MODELS:
        model = make()
        tokens = _tokens(2, 5, vocab, seed=11)
        out = _call(direct_logit_attribution, "direct_logit_attribution", model, tokens)
        if not (isinstance(out, tuple) and len(out) == 3):
            raise AssertionError("`direct_logit_attribution` must return a tuple (embed, heads, bias)")
        embed = _tensor(out[0], "direct_logit_attribution", (2, 4), f"[0] (embed) on {description}")
        heads = _tensor(out[1], "direct_logit_attribution", (2, 4, model.n_layers, model.n_heads),
                        f"[1] (heads) on {description}")
        bias = _tensor(out[2], "direct_logit_attribution", (2, 4), f"[2] (bias) on {description}")
        with torch.no_grad():
            logits = model(tokens)[:, :-1].gather(-1, tokens[:, 1:, None])[..., 0]
        _close(embed + heads.sum((-2, -1)) + bias, logits, 1e-4,
               f"on {description}, embed + heads.sum((-2, -1)) + bias differs from the model's logit of the "
               "correct next token (is the output bias b_O counted once per layer, and b_U once?)")
        _no_hooks_left(model, "direct_logit_attribution")


@_check("direct_logit_attribution")
def attribution_rejects_invalid_tokens(direct_logit_attribution):
    """raises ValueError for T = 1 (no next token to predict) and for T > n_ctx"""
    model = _random_model(1)
    _expect_value_error(direct_logit_attribution, "direct_logit_attribution", [
        ((model, _tokens(2, 1, 7, seed=14)), "model, tokens of shape [2, 1]", "T = 1 leaves no next token (2 <= T)"),
        ((model, _tokens(1, model.n_ctx + 1, 7, seed=15)), f"model, tokens of shape [1, {model.n_ctx + 1}]",
         f"T = {model.n_ctx + 1} > n_ctx = {model.n_ctx}"),
    ])


# -----------------------------------------------------------------------------
# logit_lens


@_check("logit_lens")
def lens_ends_at_the_model_output(logit_lens):
    """returns [B, n_layers + 1, T, d_vocab]; the last layer's entry is the model's logits"""
    for description, make, vocab in _MODELS:
        model = make()
        tokens = _tokens(2, 5, vocab, seed=12)
        out = _tensor(_call(logit_lens, "logit_lens", model, tokens), "logit_lens",
                      (2, model.n_layers + 1, 5, vocab), f" on {description}")
        with torch.no_grad():
            logits = model(tokens)
        _close(out[:, -1], logits, 1e-4, f"on {description}, out[:, -1] (after the last block) is not model(tokens)")
        _no_hooks_left(model, "logit_lens")


@_check("logit_lens")
def lens_starts_at_the_embedding(logit_lens):
    """entry 0 unembeds the token + position embedding alone: (embed + pos_embed) @ W_U + b_U"""
    model = _random_model(4)
    tokens = _tokens(1, 4, 7, seed=13)
    out = _tensor(_call(logit_lens, "logit_lens", model, tokens), "logit_lens", (1, 3, 4, 7))
    with torch.no_grad():
        expected = (model.embed(tokens) + model.pos_embed(torch.arange(4))) @ model.W_U + model.b_U
    _close(out[:, 0], expected, 1e-4, "out[:, 0] is not (embed(tokens) + pos_embed(positions)) @ W_U + b_U")


# -----------------------------------------------------------------------------
# patch_heads


@_check("patch_heads")
def patching_the_only_head_restores_everything(patch_heads):
    """a 1-layer, 1-head model: if only earlier tokens differ, patching its head restores 100%"""
    model = _random_model(5, d_vocab=6, d_model=4, n_heads=1, d_head=3, n_layers=1)
    clean = torch.tensor([[0, 1, 2, 3, 4]])
    corrupted = torch.tensor([[5, 1, 4, 3, 4]])  # the last token is the same: only the head sees a change
    with torch.no_grad():
        change = model(clean)[0, -1] - model(corrupted)[0, -1]
    answer, wrong = change.argmax()[None], change.argmin()[None]
    out = _tensor(_call(patch_heads, "patch_heads", model, clean, corrupted, answer, wrong), "patch_heads", (1, 1))
    _close(out, torch.ones(1, 1), 1e-4,
           "with one head, which is the only path from the earlier tokens to the last position, patching it "
           f"from the clean run must restore the whole logit difference (1.0); got {out.tolist()}")
    _no_hooks_left(model, "patch_heads")


@_check("patch_heads")
def one_layer_heads_add_up_to_everything(patch_heads):
    """a 1-layer model with several heads: if only earlier tokens differ, the heads' patching effects add up to 1"""
    # One layer, no MLP, no LayerNorm: the last position's logits are its embedding (the same in
    # both runs) plus each head's output, so patching head h adds exactly head h's share of the
    # clean-minus-corrupted logit difference, and the shares sum to 1.
    model = _random_model(6, d_vocab=6, d_model=6, n_heads=3, d_head=2, n_layers=1)
    clean = torch.tensor([[0, 1, 2, 3, 4]])
    corrupted = torch.tensor([[5, 2, 0, 1, 4]])  # the last token is the same
    with torch.no_grad():
        change = model(clean)[0, -1] - model(corrupted)[0, -1]
    answer, wrong = change.argmax()[None], change.argmin()[None]
    out = _tensor(_call(patch_heads, "patch_heads", model, clean, corrupted, answer, wrong), "patch_heads", (1, 3))
    _close(out.sum(), torch.tensor(1.0), 1e-4,
           "in a 1-layer model each head adds its own share of the logit difference, so the three heads' "
           f"restored fractions must sum to 1; got {out.tolist()} (does patching a head replace only that "
           "head's output?)")
    _no_hooks_left(model, "patch_heads")


@_check("patch_heads")
def first_layer_heads_add_up_when_the_second_only_averages(patch_heads):
    """a 2-layer model whose layer 1 only averages layer 0's outputs: layer 0's patching effects add up to 1"""
    # The embeddings live in features 0-2, layer 0's heads write to features 3-5 only, and
    # layer 1 attends uniformly (W_Q = W_K = 0) to features 3-5 only: so the last position's
    # logits are a linear function of layer 0's head outputs at EVERY position (plus what is
    # the same in both runs). Patching head h of layer 0 at every position adds exactly its
    # share of the clean-minus-corrupted logit difference, and the shares sum to 1; patching
    # the last position alone would miss what layer 1 reads from the earlier positions.
    model = _random_model(7, d_vocab=6, d_model=6, n_heads=2, d_head=2, n_layers=2)
    with torch.no_grad():
        model.embed.weight[:, 3:] = 0
        model.pos_embed.weight[:, 3:] = 0
        model.blocks[0].attn.W_O[:, :, :3] = 0
        model.blocks[1].attn.W_Q.zero_()
        model.blocks[1].attn.W_K.zero_()
        model.blocks[1].attn.W_V[:, :3, :] = 0
    clean = torch.tensor([[0, 1, 2, 3, 4]])
    corrupted = torch.tensor([[5, 2, 0, 1, 4]])  # the last token is the same
    with torch.no_grad():
        change = model(clean)[0, -1] - model(corrupted)[0, -1]
    answer, wrong = change.argmax()[None], change.argmin()[None]
    out = _tensor(_call(patch_heads, "patch_heads", model, clean, corrupted, answer, wrong), "patch_heads", (2, 2))
    _close(out[0].sum(), torch.tensor(1.0), 1e-4,
           "when layer 1 only averages layer 0's outputs (uniformly, linearly), the restored fractions of layer "
           f"0's two heads must sum to 1; got {out.tolist()} (is each head's z replaced at EVERY position, not "
           "only the last?)")
    _no_hooks_left(model, "patch_heads")


@_check("patch_heads")
def patching_gives_one_number_per_head(patch_heads):
    """returns a finite [n_layers, n_heads] tensor on the trained model"""
    module = _model_module()
    model = module.load_trained()
    clean = module.repeated_tokens(1, 8, 2, generator=torch.Generator().manual_seed(1))[:, :13]
    corrupted = clean.clone()
    corrupted[0, 5] = (corrupted[0, 5] + 1) % model.d_vocab  # the token the induction head would copy
    out = _tensor(_call(patch_heads, "patch_heads", model, clean, corrupted, clean[:, 5], corrupted[:, 5]),
                  "patch_heads", (model.n_layers, model.n_heads))
    if not torch.isfinite(out).all():
        raise AssertionError(f"`patch_heads` returned non-finite values: {out.tolist()}")
    _no_hooks_left(model, "patch_heads")


@_check("patch_heads")
def patching_rejects_invalid_arguments(patch_heads):
    """raises ValueError when clean and corrupted tokens differ in shape, or answer / wrong are not [B]"""
    model = _random_model(1)
    clean, answer = _tokens(2, 5, 7, seed=16), torch.tensor([1, 2])
    _expect_value_error(patch_heads, "patch_heads", [
        ((model, clean, _tokens(2, 4, 7, seed=17), answer, answer.flip(0)),
         "model, clean [2, 5], corrupted [2, 4], answer, wrong", "clean and corrupted tokens of different shapes"),
        ((model, clean, _tokens(1, 5, 7, seed=18), answer, answer.flip(0)),
         "model, clean [2, 5], corrupted [1, 5], answer, wrong", "clean and corrupted tokens of different shapes"),
        ((model, clean, clean.flip(0), torch.tensor([1, 2, 3]), answer),
         "model, clean [2, 5], corrupted [2, 5], answer [3], wrong [2]", "answer must be int64 [B] (B = 2)"),
    ])
