"""Follow-through marking ("error carried forward"): a bug costs only its own question.

A question whose reference builds on earlier questions' functions (multi-head attention on
`scaled_dot_product_attention`, `GPT` on `layer_norm`) is also judged correct when the
student's answer equals what the reference's composition gives with the student's OWN earlier
functions. That second expectation is computed here, in the trusted process: a private copy of
the reference module runs the composite, and each dependency it calls is routed to the
student's function in the worker, which only ever receives that call's inputs. Only a failing
answer is re-judged this way, so a correct submission pays nothing.

The student's dependency must return what the reference's returns in structure, type, dtype
and size (the values may differ, and a tensor's shape, e.g. its dimensions in another order),
so reference code never runs on a value much larger than it was written for.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import importlib.util
import types
from types import ModuleType
from typing import Any, Callable

import numpy as np
import torch

from . import worker as wire
from .compare import Close, input_scale
from .spec import Question, Unit


@dataclasses.dataclass
class Followed:
    """What the reference's composition of the student's own dependencies gives."""

    value: Any = None  # its answer (when no dependency raised)
    differed: list[str] = dataclasses.field(default_factory=list)  # deps that answered unlike the reference's
    raised: tuple[str, str] | None = None  # (dependency, exception name): raised where the reference's does not


class Unavailable(Exception):
    """The student's composition cannot be followed (a dependency raised, or returned a value
    of another type, shape or dtype than the reference's)."""


# --------------------------------------------------------------------------- dependencies


def dependencies(unit: Unit, question: Question, reference: ModuleType) -> tuple[str, ...]:
    """The student names of earlier questions that `question` builds on, in order: declared in
    the spec, or found in the reference's code (names it uses, through its private helpers and
    the question's own classes), plus a module a check passes as an argument (`Check.module`)."""
    index = unit.questions.index(question)
    earlier = [f for q in unit.questions[:index] for f in q.functions]
    if question.depends is not None:  # (in a unit cut down to some questions, the ones it grades)
        return tuple(d for d in question.depends if d in earlier)
    students = {f for q in unit.questions for f in q.functions}
    found: list[str] = list(dict.fromkeys(c.module for c in question.checks if c.module in earlier))
    seen: set[str] = set()
    todo = [c.function for c in question.checks] + list(question.functions)
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        for used in _names_used(getattr(reference, name, None)):
            if used in earlier and used not in found:
                found.append(used)
            elif used in question.functions or (used not in students and callable(getattr(reference, used, None))
                                                and getattr(getattr(reference, used), "__module__", None)
                                                == reference.__name__):
                todo.append(used)  # the question's own classes, the reference's private helpers
    return tuple(sorted(found, key=earlier.index))


def _names_used(obj) -> list[str]:
    """Global names read by a function's code (nested functions included) or a class's methods."""
    functions = []
    if isinstance(obj, type):
        for value in vars(obj).values():
            value = getattr(value, "__func__", value)
            functions.append(value.fget if isinstance(value, property) else value)
    elif obj is not None:
        functions.append(getattr(obj, "__wrapped__", obj))
    names, todo = [], [getattr(f, "__code__", None) for f in functions]
    while todo:
        code = todo.pop()
        if isinstance(code, types.CodeType):
            names.extend(code.co_names)
            todo.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return names


# --------------------------------------------------------------------------- routing


_COPIES: dict[int, tuple[ModuleType, ModuleType]] = {}
_ACTIVE: list["Router"] = []  # the router of the expectation being computed (at most one)


def _routed_copy(reference: ModuleType, names: tuple[str, ...]) -> ModuleType:
    """A private copy of the reference module whose functions `names` are routed by the active
    router (when it routes them; otherwise they are the copy's own). The reference itself is
    never patched: the trusted process keeps using it for the reference's answers."""
    key = id(reference)
    if key not in _COPIES:
        spec = importlib.util.spec_from_file_location(f"{reference.__name__}_followed", reference.__file__)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module._originals = {}
        _COPIES[key] = (reference, module)  # holding the reference keeps its id unique
    module = _COPIES[key][1]
    for name in names:
        if name in module._originals or isinstance(getattr(reference, name), type):
            continue  # routed already; a class is routed where it is passed as an argument (Check.module)
        module._originals[name] = getattr(module, name)
        setattr(module, name, _proxy(name, module._originals[name], getattr(reference, name)))
    return module


def _original(module: ModuleType, name: str):
    """The copy's own `name` (never its proxy)."""
    return module._originals.get(name) or getattr(module, name)


def _proxy(name: str, own: Callable, reference_fn: Callable) -> Callable:
    @functools.wraps(own)
    def routed(*args, **kwargs):
        if not _ACTIVE or name not in _ACTIVE[-1].deps:
            return own(*args, **kwargs)
        return _ACTIVE[-1].call(name, reference_fn, args, kwargs)

    return routed


class Router:
    """Sends a dependency's call to the student's function in the worker and remembers which
    dependencies answered differently from the reference's."""

    def __init__(self, ask: Callable[[dict, list[bytes]], tuple[dict, list[bytes]]], models: dict[int, Any],
                 deps: tuple[str, ...] = ()):
        self.deps = set(deps)  # the names this router sends to the worker
        self.ask = ask  # (header, blobs) -> (reply, blobs): one call in the worker
        self.models = models  # id of a reference-side module argument -> its recipe for the worker
        self.model_objects: list = []  # those module arguments (holding them keeps their ids)
        self.differed: list[str] = []
        self.raised: tuple[str, str] | None = None  # (dependency, exception name) it raised where the reference's did not

    def _wired(self, value):
        return self.models.get(id(value), value)

    def call(self, name: str, original: Callable, args: tuple, kwargs: dict, module: dict | None = None):
        blobs: list[bytes] = []
        header = {"target": name, "banned": [], "seed": 0,
                  "args": wire.encode(tuple(self._wired(a) for a in args), blobs),
                  "kwargs": wire.encode({k: self._wired(v) for k, v in kwargs.items()}, blobs)}
        if module:  # a module: constructor arguments and the reference's weights
            header.update({k: v for k, v in module.items() if k not in ("init", "state_dict")})
            header["init"] = wire.encode(module["init"], blobs)
            header["state_dict"] = wire.encode(module["state_dict"], blobs)
        reply, out = self.ask(header, blobs)
        if reply.get("status") == "error" and reply.get("error") != "NotImplementedError":
            try:
                original(*args, **kwargs)
            except Exception:  # the reference raises too: not the dependency's fault
                raise Unavailable(name) from None
            self.raised = (name, str(reply.get("error")))
        if reply.get("status") != "ok":
            raise Unavailable(name)
        try:
            got = wire.decode(reply.get("value"), out)
        except (ValueError, KeyError, IndexError, TypeError):
            raise Unavailable(name) from None
        expected = original(*args, **kwargs)
        if not same_layout(expected, got):
            raise Unavailable(name)
        if Close()(expected, got, input_scale((args, kwargs))) and name not in self.differed:
            self.differed.append(name)
        return got


def same_layout(expected: Any, got: Any) -> bool:
    """Same structure, types, dtypes and sizes (the values, and the shapes, may differ)."""
    if isinstance(expected, (tuple, list)):
        return (isinstance(got, (tuple, list)) and len(got) == len(expected)
                and all(same_layout(e, g) for e, g in zip(expected, got)))
    if isinstance(expected, dict):
        return isinstance(got, dict) and set(got) == set(expected) and all(
            same_layout(expected[k], got[k]) for k in expected)
    # a tensor may come in another shape with as many entries (e.g. its dimensions in another
    # order): the reference's code then computes what it computes on it, at the same cost
    if isinstance(expected, torch.Tensor):
        return isinstance(got, torch.Tensor) and got.numel() == expected.numel() and got.dtype == expected.dtype
    if isinstance(expected, np.ndarray):
        return isinstance(got, np.ndarray) and got.size == expected.size and got.dtype == expected.dtype
    if isinstance(expected, (bool, np.bool_)):
        return isinstance(got, (bool, np.bool_))
    if isinstance(expected, (int, float, np.number)):
        return isinstance(got, (int, float, np.number)) and not isinstance(got, (bool, np.bool_))
    return type(got) is type(expected) and got == expected


@contextlib.contextmanager
def active(router: Router):
    _ACTIVE.append(router)
    try:
        yield
    finally:
        _ACTIVE.pop()


def expectation(reference: ModuleType, deps: tuple[str, ...], function: str, router: Router,
                ref_args: tuple, ref_kwargs: dict, module: torch.nn.Module | None = None,
                module_call: dict | None = None) -> tuple[Any, list[str]]:
    """(the reference's `function` composed with the student's `deps`, the deps that answered
    differently from the reference's). `module`: the reference's module of a module check: the
    module itself (`function` is its class), or with `module_call` (the worker's header for the
    student's class: target, init, state_dict, config_class) the module argument it is called
    with, routed to the student's class. Raises Unavailable when the composition cannot be
    followed."""
    routed = _routed_copy(reference, deps)
    if module is None:
        target = _original(routed, function)
    elif module_call is None:  # the module question itself: its methods read the routed globals
        target = copy.deepcopy(module)
        _reclass(target, routed)
    else:  # a function of the student's module (e.g. generate(model, ...)): the model is theirs
        original, name = module.forward, module_call["target"]
        model = copy.copy(module)  # a shallow copy: its own forward, the same weights
        model.forward = lambda *a, **k: router.call(name, original, a, k, module_call)
        target = functools.partial(_original(routed, function), model)
    keep = {id(m): m for m in router.model_objects}  # module arguments are sent by identity: not copied
    with active(router), torch.no_grad():
        value = target(*copy.deepcopy(ref_args, dict(keep)), **copy.deepcopy(ref_kwargs, dict(keep)))
    return value, list(router.differed)


def _reclass(module: torch.nn.Module, routed: ModuleType) -> None:
    """Every submodule of a reference class becomes the routed copy's class of the same name
    (same source, so the same layout), so that its methods read the copy's routed globals."""
    for sub in module.modules():
        cls = getattr(routed, type(sub).__name__, None)
        if isinstance(cls, type) and issubclass(cls, torch.nn.Module) and cls.__qualname__ == type(sub).__qualname__:
            sub.__class__ = cls


def carried_message(unit: Unit, names: list[str]) -> str:
    """"correct given your `X`, which is wrong: see question N" for the dependencies `names`."""
    numbers = sorted({next(i for i, q in enumerate(unit.questions, 1) if n in q.functions) for n in names})
    which = " and ".join(f"`{n}`" for n in names)
    see = f"question {numbers[0]}" if len(numbers) == 1 else "questions " + " and ".join(map(str, numbers))
    return f"Correct given your {which}, which {'is' if len(names) == 1 else 'are'} wrong: see {see}."
