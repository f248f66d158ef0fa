"""The sandboxed side: executes a student's notebook cells and calls their functions.

This file runs in two places:

* inside the sandbox, as the whole program of the worker process
  (``python -s -B -P -u -c <this file's source> REQ_FD REP_FD``); it must need nothing but the
  standard library, numpy and torch, because the sandbox user cannot read the autograder;
* inside the trusted grader, which imports it only for the wire format (``send``/``recv``,
  ``encode``/``decode``), so both sides share one definition of it.

Wire format: a message is a JSON header frame followed by ``header["blobs"]`` binary frames,
each frame an 8-byte big-endian length and its bytes. Tensors and NumPy arrays travel as
``.npy`` bytes loaded with ``allow_pickle=False``; nothing is ever unpickled. A NumPy function
(``numpy.var``, ``numpy.linalg.norm``) travels by its name, so a unit can pass one as an
argument (e.g. the function whose numerical gradient a student computes). Everything the worker says is treated
by the trusted side as untrusted data: it checks types, shapes and values itself.
"""

import contextlib
import io
import json
import os
import struct
import sys

MAX_MESSAGE_BYTES = 64 << 20  # a reply larger than this is refused, not read


def trim_heap():
    """Give the heap's freed memory back to the operating system (glibc's malloc_trim).

    glibc keeps what a large call freed (a sampler asked for 20000 samples, a model run on
    thousands of sequences) for the next allocation: tens of MB that stay counted against the
    process while it then waits, e.g. for a minute of training, and under Gradescope's 768 MB
    the worker and the grader share one limit. About a millisecond; a no-op without glibc."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to give back this way
        pass


# --------------------------------------------------------------------------- framing


def _read_exact(fd, n, deadline):
    import select
    import time

    chunks = []
    while n:
        if deadline is not None:  # a peer that sends half a message and stalls must not hang us
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise TimeoutError("no complete message in time")
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("pipe closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd, budget, deadline):
    (n,) = struct.unpack(">Q", _read_exact(fd, 8, deadline))
    if n > budget:
        raise ValueError(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    return _read_exact(fd, n, deadline)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def send(fd, header, blobs=()):
    header = dict(header, blobs=len(blobs))
    frames = [json.dumps(header).encode()] + list(blobs)
    _write_all(fd, b"".join(struct.pack(">Q", len(f)) + f for f in frames))


def recv(fd, deadline=None):
    """Read one message: (header dict, list of blob bytes).

    Raises EOFError if the peer died, TimeoutError if `deadline` (time.monotonic()) passes.
    """
    budget = MAX_MESSAGE_BYTES
    raw = _read_frame(fd, budget, deadline)
    budget -= len(raw)
    try:
        header = json.loads(raw)
    except RecursionError:  # nested deeper than the parser's stack: as unreadable as bad JSON
        raise ValueError("message header nested too deeply") from None
    if not isinstance(header, dict):
        raise ValueError("message header is not an object")
    count = header.get("blobs", 0)
    if not isinstance(count, int) or count < 0 or count > 10_000:
        raise ValueError("bad blob count")
    blobs = []
    for _ in range(count):
        blob = _read_frame(fd, budget, deadline)
        budget -= len(blob)
        blobs.append(blob)
    return header, blobs


# --------------------------------------------------------------------------- values

_SCALARS = (bool, int, float, str, type(None))


def numpy_function_name(value):
    """"linalg.norm" for numpy.linalg.norm: a public NumPy function, else None."""
    try:
        module, name = getattr(value, "__module__", None), getattr(value, "__name__", None)
        if not isinstance(module, str) or not isinstance(name, str) or not callable(value):
            return None
        if module != "numpy" and not module.startswith("numpy."):
            return None
        path = (module.removeprefix("numpy").lstrip(".") + "." + name).lstrip(".")
        return path if _numpy_function(path) is value else None
    except Exception:  # a student's object with a hostile __getattr__ is just not a function
        return None


def _numpy_function(path):
    import numpy as np

    obj = np
    for part in str(path).split("."):
        if not part.isidentifier() or part.startswith("_"):
            raise ValueError("malformed numpy function name")
        obj = getattr(obj, part, None)
    if not callable(obj) or isinstance(obj, type):
        raise ValueError("unknown numpy function")
    return obj
class ModelRef:
    """An nn.Module argument, sent as a recipe: the worker calls `factory(**kwargs)` of a provided
    module (see the "provide" op) under torch.manual_seed(seed), then loads `state_dict` into it
    with strict=True, so both sides hold the same weights. Only the worker builds these: the
    trusted side refuses a "$model" in a reply (decode without `build`).
    """

    def __init__(self, module, factory, kwargs, seed, state_dict):
        self.module, self.factory, self.kwargs = module, factory, kwargs
        self.seed, self.state_dict = seed, state_dict


def encode(value, blobs):
    """Turn tensors, NumPy arrays and scalars, NumPy functions, torch dtypes, unused seeded
    torch.Generators, numbers, strings, bytes, lists, tuples and str-keyed dicts into JSON + blobs.

    Anything else becomes {"$other": type name, "repr": short repr}: the trusted side reports
    it as a wrong type without ever reconstructing the object.
    """
    import numpy as np
    import torch

    if type(value) is np.ndarray or isinstance(value, np.generic):
        array = np.asarray(value)
        if array.dtype.kind not in "biufc":  # objects, strings, records: not plain numbers
            return {"$other": "numpy.ndarray", "repr": f"array of dtype {array.dtype}"}
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        blobs.append(buffer.getvalue())
        return {"$array": len(blobs) - 1, "scalar": type(value) is not np.ndarray}
    if isinstance(value, float) and (value != value or abs(value) == float("inf")):
        return {"$float": repr(value)}
    if isinstance(value, _SCALARS):
        return value
    if type(value) is bytes:  # a tokenizer's vocabulary: raw bytes, not text
        blobs.append(value)
        return {"$bytes": len(blobs) - 1}
    if type(value) is ModelRef:
        return {"$model": {"module": value.module, "factory": value.factory, "seed": value.seed,
                           "kwargs": encode(value.kwargs, blobs), "state_dict": encode(value.state_dict, blobs)}}
    if isinstance(value, torch.dtype):
        return {"$dtype": str(value).removeprefix("torch.")}
    if type(value) is torch.Generator and value.device.type == "cpu":
        # an unused seeded generator travels as its seed (a used one's state cannot be sent)
        fresh = torch.Generator().manual_seed(value.initial_seed())
        if torch.equal(fresh.get_state(), value.get_state()):
            return {"$generator": value.initial_seed()}
    if type(value) is torch.Tensor or type(value) is torch.nn.Parameter:
        t = value.detach().cpu()
        dtype = str(t.dtype).removeprefix("torch.")
        if t.dtype == torch.bfloat16:
            t = t.view(torch.int16)
        buffer = io.BytesIO()
        np.save(buffer, t.contiguous().numpy(), allow_pickle=False)
        blobs.append(buffer.getvalue())
        return {"$tensor": len(blobs) - 1, "dtype": dtype, "requires_grad": value.requires_grad}
    name = numpy_function_name(value)
    if name:
        return {"$numpy": name}
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        items = [encode(v, blobs) for v in value]
        return items if type(value) is list else {"$tuple": items}
    if type(value) is dict and all(type(k) is str for k in value):
        return {"$dict": {k: encode(v, blobs) for k, v in value.items()}}
    try:
        text = repr(value)[:200]
    except BaseException:
        text = "<unprintable>"
    return {"$other": type(value).__qualname__, "repr": text}


class Opaque:
    """A value the worker returned that is not plain data (only its type name and repr)."""

    def __init__(self, type_name, text):
        self.type_name, self.text = str(type_name), str(text)

    def __repr__(self):
        return f"<{self.type_name}: {self.text}>"


def decode(value, blobs, build=None):
    """The inverse of `encode`. A "$model" recipe becomes `build(recipe)` where `build` is given
    (the worker building a model argument), and is refused everywhere else."""
    import numpy as np
    import torch

    if isinstance(value, list):
        return [decode(v, blobs, build) for v in value]
    if not isinstance(value, dict):
        return value
    if "$model" in value:
        if build is None:
            raise ValueError("a model where only data may be")
        recipe = value["$model"]
        return build(dict(recipe, kwargs=decode(recipe["kwargs"], blobs),
                          state_dict=decode(recipe["state_dict"], blobs)))
    if "$float" in value:
        return float(value["$float"])
    if "$tuple" in value:
        return tuple(decode(v, blobs, build) for v in value["$tuple"])
    if "$dict" in value:
        return {str(k): decode(v, blobs, build) for k, v in value["$dict"].items()}
    if "$dtype" in value:
        dtype = getattr(torch, str(value["$dtype"]), None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError("unknown dtype")
        return dtype
    if "$generator" in value:
        seed = value["$generator"]
        if type(seed) is not int or not 0 <= seed < 2**64:
            raise ValueError("malformed generator seed")
        return torch.Generator().manual_seed(seed)
    if "$other" in value:
        return Opaque(value["$other"], value.get("repr", ""))
    if "$array" in value:  # a NumPy array (or scalar, e.g. np.float32(1.5)) stays NumPy
        array = np.load(io.BytesIO(blobs[int(value["$array"])]), allow_pickle=False)
        return array[()] if value.get("scalar") and array.ndim == 0 else array.copy()
    if "$numpy" in value:
        return _numpy_function(value["$numpy"])
    if "$bytes" in value:
        return bytes(blobs[int(value["$bytes"])])
    if "$tensor" in value:
        array = np.load(io.BytesIO(blobs[int(value["$tensor"])]), allow_pickle=False)
        t = torch.from_numpy(array.copy())
        if value.get("dtype") == "bfloat16":
            t = t.view(torch.bfloat16)
        return t
    raise ValueError("malformed value")


# --------------------------------------------------------------------------- the worker


class _NoIPython:
    """Stands in for get_ipython(): magics and shell escapes do nothing when grading."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _install_quiet_otter():
    """`import otter; grader = otter.Notebook(...)` must not fail or cost time when grading.

    The real otter.Notebook looks for the notebook by its original file name, which a
    submission rarely keeps; a failure there would take the first cell's imports down with it.
    """
    import types

    otter = types.ModuleType("otter")
    otter.Notebook = lambda *args, **kwargs: _NoIPython()
    sys.modules["otter"] = otter


class BannedCallError(RuntimeError):
    pass


_BAN_VERDICTS = {}  # banned names -> {torch function: the banned name its name matches, or ""}


def _code_objects(obj):
    """The code objects of a student function (nested ones included) or of a class's methods."""
    import types

    functions = []
    try:
        if isinstance(obj, type):
            for value in vars(obj).values():
                value = getattr(value, "__func__", value)
                functions.append(value.fget if isinstance(value, property) else value)
        else:
            functions.append(obj)
        todo = [getattr(f, "__code__", None) for f in functions]
    except Exception:  # a hostile class: it owns no code, so nothing it calls is let through
        return set()
    codes = set()
    while todo:
        code = todo.pop()
        if isinstance(code, types.CodeType) and code not in codes:
            codes.add(code)
            todo.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return codes


class _Owners:
    """Which graded student function made a call: the innermost frame on the stack that belongs
    to the call's target or to one of its `exempt` dependencies (earlier questions' functions)."""

    def __init__(self, namespace, targets, exempt):
        self.namespace, self.targets, self.exempt = namespace, targets, exempt
        self.codes = None

    def dependency(self):
        """The exempt dependency that made the current call, or None (the target did, or no one)."""
        if not self.exempt:
            return None
        if self.codes is None:  # only once a banned call happens: most calls never need it
            self.codes = {}
            for name in self.exempt:
                for code in _code_objects(self.namespace.get(name)):
                    self.codes.setdefault(code, name)
            for name in self.targets:  # the target's own code wins over a dependency's
                for code in _code_objects(self.namespace.get(name)):
                    self.codes[code] = None
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code in self.codes:
                return self.codes[frame.f_code]
            frame = frame.f_back
        return None


def _banned_mode(names, used, owners=None, exempted=None):
    """A TorchFunctionMode that refuses the banned torch functions (by identity, so aliases too).

    A banned call made inside one of the target's dependencies (`owners`) is let through and
    noted in `exempted` ({dependency: [banned names]}): the trusted side charges it to the
    dependency's own question.
    """
    import torch
    from torch.overrides import TorchFunctionMode, resolve_name

    banned = {}
    for name in names:
        try:
            parts = name.split(".")
            obj = __import__(parts[0])
            for part in parts[1:]:
                obj = getattr(obj, part)
            banned[obj] = name
        except (ImportError, AttributeError):
            pass

    # "torch.*" bans every torch function: a unit whose students write NumPy bans torch itself
    prefixes = tuple(name[:-1] for name in names if name.endswith(".*"))
    verdicts = _BAN_VERDICTS.setdefault(tuple(names), {})  # resolve_name is slow: once per function

    def by_name(func):
        resolved = resolve_name(func)
        if resolved in names:
            return resolved
        resolved = resolved or f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', '')}"
        return resolved if prefixes and resolved.startswith(prefixes) else ""

    class Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            try:
                name = banned.get(func) or verdicts[func]
            except KeyError:
                name = verdicts[func] = by_name(func)
            except TypeError:  # not hashable
                name = by_name(func)
            if name:
                dependency = owners.dependency() if owners is not None else None
                if dependency is not None:
                    exempted.setdefault(dependency, []).append(name)
                    return func(*args, **(kwargs or {}))
                used.append(name)
                raise BannedCallError(f"{name} is not allowed in this question")
            return func(*args, **(kwargs or {}))

    return Mode()


# A banned function -> the ATen operators that do its work. The function mode above refuses a
# banned function by its Python name (and aliases of the same object); this table refuses the
# work itself, however it is reached: another public function (F.cross_entropy runs
# log_softmax), a private entry point (torch._softmax, torch._C._nn.gelu) or the operator
# itself (torch.ops.aten._softmax). Keyed by the banned name's last part; ATen decomposes
# composite operators before they reach a dispatch mode, so the kernels are what is listed.
_SDPA_KERNELS = ("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_attention_math",
                 "_scaled_dot_product_flash_attention", "_scaled_dot_product_efficient_attention",
                 "_scaled_dot_product_cudnn_attention", "_scaled_dot_product_fused_attention_overrideable")
_NLL_KERNELS = ("nll_loss_forward", "nll_loss2d_forward")
_ATEN_WORK = {
    "softmax": ("_softmax",), "log_softmax": ("_log_softmax",),
    "scaled_dot_product_attention": _SDPA_KERNELS,
    "multi_head_attention_forward": ("_native_multi_head_attention",),
    "MultiheadAttention": ("_native_multi_head_attention",),
    "TransformerEncoderLayer": ("_transformer_encoder_layer_fwd",),
    "layer_norm": ("native_layer_norm",), "LayerNorm": ("native_layer_norm",),
    "gelu": ("gelu",), "GELU": ("gelu",),
    "cross_entropy": ("_log_softmax", *_NLL_KERNELS), "nll_loss": _NLL_KERNELS,
}


def banned_ops(names):
    """{ATen operator name: the banned name it does the work of}; "*" for a "torch.*" ban."""
    ops = {}
    for name in names:
        if name.endswith(".*"):
            ops["*"] = name
        for op in _ATEN_WORK.get(name.rsplit(".", 1)[-1], ()):
            ops.setdefault(op, name)
    return ops


def _banned_dispatch_mode(names, used, owners=None, exempted=None):
    """A TorchDispatchMode that refuses the ATen operators of the banned functions, or None.

    As in `_banned_mode`, work done inside one of the target's dependencies (`owners`) is let
    through and noted in `exempted`, for the dependency's own question.
    """
    ops = banned_ops(names)
    if not ops:
        return None
    from torch.utils._python_dispatch import TorchDispatchMode

    class Mode(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            op = getattr(getattr(func, "overloadpacket", None), "__name__", "")
            name = ops.get(op) or ops.get("*")
            if name:
                dependency = owners.dependency() if owners is not None else None
                if dependency is not None:
                    exempted.setdefault(dependency, []).append(name)
                    return func(*args, **(kwargs or {}))
                used.append(f"{name} (its operator aten.{op})")
                raise BannedCallError(f"{name} is not allowed in this question")
            return func(*args, **(kwargs or {}))

    return Mode()


def _student_traceback(exc):
    """The traceback lines that point into the student's own cells, and the error line."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    text = "".join(lines)
    return text[-4000:]


def _exec_cell(namespace, header):
    try:
        code = compile(header["source"], f"<cell {header['cell']}>", "exec")
        exec(code, namespace)
        return {"ok": True}
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: the cell just failed
        return {"ok": False, "error": type(exc).__name__, "traceback": _student_traceback(exc)}


def _provide(header):
    """Make a provided file of the working directory (e.g. the unit's model class) importable
    as `header["module"]`, so the notebook's `import` of it works as on the student's machine."""
    import importlib.util

    try:
        spec = importlib.util.spec_from_file_location(header["module"], os.path.abspath(header["file"]))
        module = importlib.util.module_from_spec(spec)
        sys.modules[header["module"]] = module
        spec.loader.exec_module(module)
        return {"ok": True}
    except BaseException as exc:
        sys.modules.pop(header.get("module"), None)
        return {"ok": False, "error": type(exc).__name__, "traceback": repr(exc)[:2000]}


def _build_model(recipe):
    import torch

    module = sys.modules[recipe["module"]]  # a provided module, never the student's namespace
    torch.manual_seed(recipe["seed"])
    model = getattr(module, recipe["factory"])(**recipe["kwargs"])
    model.load_state_dict(recipe["state_dict"], strict=True)
    return model.eval()
class _cpu_budget:
    """Lower the soft RLIMIT_CPU to `seconds` more than used so far, for one call (SIGXCPU past it)."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        if self.seconds is not None:
            import math
            import resource

            usage = resource.getrusage(resource.RUSAGE_SELF)
            self.hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
            soft = math.ceil(usage.ru_utime + usage.ru_stime + float(self.seconds))
            resource.setrlimit(resource.RLIMIT_CPU, (soft if self.hard < 0 else min(soft, self.hard), self.hard))

    def __exit__(self, *exc):
        if self.seconds is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_CPU, (self.hard, self.hard))


def _state_dicts(value):
    """`value` with every nn.Module in it (at the top or in a tuple/list) replaced by its state_dict."""
    import torch

    if isinstance(value, torch.nn.Module):
        return dict(value.state_dict())
    if type(value) in (tuple, list):
        return type(value)(_state_dicts(v) for v in value)
    return value


_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
_GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                 "_global_backward_pre_hooks")


def _hook_count(model):
    return sum(len(getattr(m, name, None) or ()) for m in model.modules() for name in _HOOK_DICTS)


def _global_state():
    """The torch settings a graded call must leave as it found them."""
    import torch
    from torch.nn.modules import module as nn_module

    return {"default_dtype": torch.get_default_dtype(), "grad_mode": torch.is_grad_enabled(),
            "global_hooks": tuple(len(getattr(nn_module, name, ())) for name in _GLOBAL_HOOKS)}


def _side_effects(before, models):
    """The kinds of forbidden side effect the call had (restoring torch's settings as it goes):
    "default_dtype", "grad_mode", "global_hooks" changed; "hooks" left on a model argument;
    "model_changed": a model argument's weights changed."""
    import torch

    effects = []
    after = _global_state()
    if after["default_dtype"] != before["default_dtype"]:
        effects.append("default_dtype")
        torch.set_default_dtype(before["default_dtype"])
    if after["grad_mode"] != before["grad_mode"]:
        effects.append("grad_mode")
        torch.set_grad_enabled(before["grad_mode"])
    if after["global_hooks"] != before["global_hooks"]:
        effects.append("global_hooks")
    for model, state_dict, hooks in models:
        if _hook_count(model) != hooks and "hooks" not in effects:
            effects.append("hooks")
        now = model.state_dict()
        if "model_changed" not in effects and (now.keys() != state_dict.keys() or not all(
                now[k].shape == v.shape and torch.equal(now[k], v) for k, v in state_dict.items())):
            effects.append("model_changed")
    return effects


def _by_rows(target, args, kwargs, rows):
    """target(*args, **kwargs) asked for `rows` rows of args[0] at a time (a distribution
    check's independent samples, e.g. 20000 generations of one prompt: a student's model run on
    all of them at once took ~100 MB of activations), the same kwargs each time (one seeded
    generator, read on from call to call). The tensor answers joined along their first
    dimension; if they cannot be, the first answer that is no tensor, else the first one."""
    import torch

    answers = [target(chunk, *args[1:], **kwargs) for chunk in args[0].split(rows)]
    if all(isinstance(a, torch.Tensor) and a.dim() > 0 for a in answers) \
            and len({(a.dtype, tuple(a.shape[1:])) for a in answers}) == 1:
        return torch.cat(answers)
    return next((a for a in answers if not isinstance(a, torch.Tensor)), answers[0])


def _call(namespace, header, blobs):
    import torch

    target = namespace.get(header["target"])
    if target is None:
        return {"status": "missing"}, []
    models = []  # (each model argument, a copy of the weights it was given, its hook count)

    def build(recipe):
        model = _build_model(recipe)
        models.append((model, {k: v.detach().clone() for k, v in recipe["state_dict"].items()}, _hook_count(model)))
        return model

    args = decode(header["args"], blobs, build)
    kwargs = decode(header["kwargs"], blobs, build)
    # Every graded call starts from torch's own settings, whatever the notebook's cells (which
    # may call the student's functions) left behind; a change the call makes is its own.
    torch.set_default_dtype(torch.float32)
    torch.set_grad_enabled(True)
    before = _global_state()
    used, exempted = [], {}
    exempt = [str(n) for n in header.get("exempt", [])]
    # the module a function is given (generate's GPT) is the target's own code, unless it is a
    # dependency graded by an earlier question
    targets = [header["target"]] + [header[k] for k in ("module", "config_class") if k in header
                                    and header[k] not in exempt]
    owners = _Owners(namespace, targets, exempt)
    # torch.manual_seed would also queue seeds for CUDA, XPU and MTIA, formatting a stack trace
    # for each: 0.5 ms, most of a small graded call. The CPU generator is all a worker has.
    torch.default_generator.manual_seed(header.get("seed", 0))
    # "module": the target is a function taking a module (built as below) as first argument;
    # "config_class": the module's constructor takes one config object built from the init args
    cls = namespace.get(header.get("module", header["target"]))
    config_class = namespace.get(header["config_class"]) if "config_class" in header else cls
    if cls is None or config_class is None:
        return {"status": "missing"}, []
    try:
        banned = header.get("banned", [])
        dispatch = _banned_dispatch_mode(banned, used, owners, exempted) or contextlib.nullcontext()
        with _banned_mode(banned, used, owners, exempted), dispatch:
            if "init" in header:  # an nn.Module class: construct, load weights, then call
                init_args, init_kwargs = decode(header["init"], blobs)
                if "config_class" in header:
                    init_args, init_kwargs = (config_class(*init_args, **init_kwargs),), {}
                module = cls(*init_args, **init_kwargs)
                if "state_dict" in header:
                    module.load_state_dict(decode(header["state_dict"], blobs), strict=True)
                module.eval()
                function = target
                target = (lambda *a, **k: function(module, *a, **k)) if "module" in header else module
            with _cpu_budget(header.get("cpu_seconds")):
                result = _by_rows(target, args, kwargs, header["rows"]) if header.get("rows") \
                    else target(*args, **kwargs)
            if header.get("state_dicts"):  # a trained model comes back as its tensors only
                result = _state_dicts(result)
    except BaseException as exc:
        _side_effects(before, ())  # restore torch's settings for the next call
        return {
            "status": "banned" if used else "error",
            "banned_used": used,
            "error": type(exc).__name__,
            "traceback": _student_traceback(exc),
        }, []
    if used:  # the student caught our BannedCallError and carried on
        _side_effects(before, ())
        return {"status": "banned", "banned_used": used}, []
    effects = _side_effects(before, models)
    if effects:
        return {"status": "side_effect", "effects": effects}, []
    out_blobs = []
    reply = {
        "status": "ok",
        "value": encode(result, out_blobs),
        "args_after": encode(args, out_blobs),
        "kwargs_after": encode(kwargs, out_blobs),
    }
    if exempted:
        reply["banned_in"] = exempted
    return reply, out_blobs


def main(req_fd, rep_fd):
    # The working directory holds only the submission; never import from it implicitly.
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != os.getcwd()]
    import torch

    torch.set_num_threads(1)
    _install_quiet_otter()
    namespace = {"__name__": "__main__", "__builtins__": __builtins__, "get_ipython": _NoIPython}
    worker_pid = os.getpid()
    while True:
        try:
            header, blobs = recv(req_fd)
        except EOFError:
            return
        op = header.get("op")
        if op == "exec":
            reply, out = _exec_cell(namespace, header), []
        elif op == "call":
            reply, out = _call(namespace, header, blobs)
        elif op == "calls":  # several graded calls sharing `blobs`: one reply each, in order
            for item in header["calls"][:-1]:
                reply, out = _call(namespace, item, blobs)
                if os.getpid() != worker_pid:
                    os._exit(0)
                send(rep_fd, reply, out)
            reply, out = _call(namespace, header["calls"][-1], blobs)
        elif op == "provide":
            reply, out = _provide(header), []
        elif op == "ping":
            reply, out = {"ok": True}, []
        else:
            return
        # A process the student's code forked (os.fork(), a fork bomb) returns here too, as a
        # copy of the worker holding its pipes: it must never reply, or the grader would read
        # its reply as the answer to the next request and every later answer would be shifted.
        if os.getpid() != worker_pid:
            os._exit(0)
        send(rep_fd, reply, out)
        del reply, out  # the answer's tensors too, before the memory they held goes back
        trim_heap()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
