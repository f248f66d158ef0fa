"""What every unit's public checks share: calling your code safely and describing failures.

Shipped to students beside each ``<unit>_public.py``; it contains no reference solution. A
check calls your function through `call`, which turns every way it can go wrong (not defined,
not implemented yet, raised, wrong type or shape) into an AssertionError that shows the call
as Python you can paste into a cell and rerun.

This module needs only torch, numpy and hypothesis.
"""

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import torch
from hypothesis import HealthCheck, Verbosity, settings
from hypothesis.errors import Flaky

EPS32 = torch.finfo(torch.float32).eps  # ~1.19e-7: errors are judged at float32 level


def hypothesis_settings(max_examples):
    """The same inputs every run, so a check's verdict never changes; nothing written to disk."""
    return settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=max_examples,
        verbosity=Verbosity.quiet,  # our own messages show the failing input
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        report_multiple_bugs=False,  # one failing input, shown as one AssertionError
    )


def registry():
    """({question: [checks in display order]}, a decorator @check(question) that fills it in).

    The question names are the spec's: the grader gives each question the checks registered
    under its name, and refuses a name that is no question of the unit."""
    checks = {}

    def check(question):
        def register(fn):
            checks.setdefault(question, []).append(fn)
            return fn

        return register

    return checks, check


def provided_module(name, beside):
    """The provided module `name` (e.g. interp_model) that ships beside the public checks in
    `beside` (their __file__): imported as usual where it is on the path (the student bundle),
    else loaded from that folder (assignments/<unit>/, where the grader reads the checks)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        path = Path(beside).resolve().with_name(f"{name}.py")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module


# -----------------------------------------------------------------------------
# showing values as Python source


def _fmt_number(v, dtype):
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, int):
        return str(v)
    if math.isnan(v) or math.isinf(v):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}[str(v)]
    # the shortest text that reads back as the same number in the tensor's own dtype
    return str(np.float32(v)) if dtype in (torch.float32, torch.float16, torch.bfloat16) else repr(v)


def _fmt_list(values, dtype):
    if isinstance(values, list):
        return "[" + ", ".join(_fmt_list(v, dtype) for v in values) + "]"
    return _fmt_number(values, dtype)


def show(value):
    """Python source that rebuilds `value` (a small tensor), so a failure can be pasted and rerun."""
    if not isinstance(value, torch.Tensor):
        return repr(value)
    if value.dim() > 0 and value.numel() == 0:
        return f"torch.empty({tuple(value.shape)}, dtype={value.dtype})"
    if value.numel() > 200:
        return f"<tensor of shape {tuple(value.shape)}, {value.dtype}>"
    text = _fmt_list(value.detach().cpu().tolist(), value.dtype)
    default = torch.bool if value.dtype == torch.bool else torch.int64 if not value.is_floating_point() else torch.float32
    dtype = "" if value.dtype == default else f", dtype={value.dtype}"
    return f"torch.tensor({text}{dtype})"


def describe(name, args, kwargs):
    parts = [show(a) for a in args] + [f"{k}={show(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


# -----------------------------------------------------------------------------
# calling student code


def require(fn, name):
    if fn is None:
        raise AssertionError(f"`{name}` is not defined: run the cell that defines it (and keep its name).")
    if not callable(fn):
        raise AssertionError(f"`{name}` should be a function or a class, but it is a {type(fn).__name__}.")


def not_implemented(name):
    return AssertionError(
        f"`{name}` is not implemented yet (it raised NotImplementedError). Replace the "
        f"`raise NotImplementedError(...)` line(s) in its cell with your code, run the cell, "
        f"then run this check again.")


def _cloned(args, kwargs):
    return ([a.clone() if isinstance(a, torch.Tensor) else a for a in args],
            {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()})


def call(fn, name, *args, shape=None, clone=True, **kwargs):
    """Call the student's `fn`, turning every way it can go wrong into a clear AssertionError.

    Returns (result, description of the call). With `shape`, also checks the result is a
    tensor of that shape (later comparisons would make no sense otherwise). Tensor arguments
    are cloned (unless clone=False), so a function that modifies its inputs cannot confuse
    the check itself; the checks named "... leaves its inputs unchanged" test that on purpose.
    """
    require(fn, name)
    description = describe(name, args, kwargs)
    if clone:
        args, kwargs = _cloned(args, kwargs)
    try:
        out = fn(*args, **kwargs)
    except NotImplementedError as exc:
        raise not_implemented(name) from exc
    except Exception as exc:
        raise AssertionError(f"{description} raised {type(exc).__name__}: {exc}") from exc
    if shape is not None:
        expect_tensor(out, description, shape)
    return out, description


def expect_tensor(out, description, shape, what="returned"):
    if not isinstance(out, torch.Tensor):
        raise AssertionError(f"{description} {what} a {type(out).__name__}, expected a torch.Tensor")
    if tuple(out.shape) != tuple(shape):
        raise AssertionError(f"{description} {what} shape {tuple(out.shape)}, expected {tuple(shape)}")


def run(prop, fn, name, probe):
    """Run a hypothesis property of `fn`; `probe(fn)` is one tiny valid call, made first so an
    unimplemented function says so at once instead of after hypothesis draws inputs."""
    require(fn, name)
    try:
        probe(fn)
    except NotImplementedError as exc:
        raise not_implemented(name) from exc
    except Exception:
        pass  # a real failure: let hypothesis find the smallest input that shows it
    try:
        prop()
    except Flaky as exc:
        raise AssertionError(
            "your code gave different results on the same input (does it use randomness "
            f"or global state?): {exc}"
        ) from None


def fail(description, what, **shown):
    lines = [f"{description}: {what}"] + [f"  {k} = {show(v)}" for k, v in shown.items()]
    raise AssertionError("\n".join(lines))


def expect_value_error(fn, name, cases):
    """`cases` is a list of (args, kwargs, reason); each call must raise ValueError."""
    require(fn, name)
    problems = []
    for args, kwargs, reason in cases:
        description = describe(name, args, kwargs)
        try:
            out = fn(*args, **kwargs)
        except ValueError:
            continue
        except NotImplementedError as exc:
            raise not_implemented(name) from exc
        except Exception as exc:
            problems.append(f"{description} raised {type(exc).__name__} ({exc}); expected ValueError because {reason}")
        else:
            problems.append(f"{description} returned {show(out)}; expected ValueError because {reason}")
    if problems:
        raise AssertionError("invalid arguments must raise ValueError:\n  " + "\n  ".join(problems))


def leaves_unchanged(fn, name, args, kwargs, advice):
    """Call `fn` on `args` themselves (not copies) and fail if it modified any tensor argument."""
    before, kw_before = _cloned(args, kwargs)
    _, description = call(fn, name, *args, clone=False, **kwargs)
    changed = [f"argument {i}" for i, (a, b) in enumerate(zip(args, before))
               if isinstance(a, torch.Tensor) and not torch.equal(a, b)]
    changed += [k for k, v in kwargs.items() if isinstance(v, torch.Tensor) and not torch.equal(v, kw_before[k])]
    if changed:
        raise AssertionError(f"{description} modified {', '.join(changed)} in place ({advice})")


# -----------------------------------------------------------------------------
# comparing


def max_diff(a, b):
    """Largest |a - b| in float64, where NaN matches NaN (NaN against a number counts as inf)."""
    a, b = a.double(), b.double()
    both = torch.isnan(a) & torch.isnan(b)
    d = (a - b).abs().nan_to_num(nan=math.inf).where(~both, 0.0)
    return d.max().item() if d.numel() else 0.0
