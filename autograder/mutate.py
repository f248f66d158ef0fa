"""Mutants of a reference module: plausible wrong programs, one small edit each.

Why our own operators on Python's `ast`, rather than mutmut or cosmic-ray (both are on the
package index): those tools mutate a whole project and judge each mutant by running a test
command (pytest) on it, with their own session databases and runners. We need the opposite
shape: a mutant is a *submission*, graded by our sandboxed grader like a student notebook;
its edit must be attributed to one function and shown as a one-line diff; the mutants per
function must be capped and sampled deterministically; and the operators that matter here are
tensor bugs (`dim=`, `keepdim`, transpose/reshape removed, a mask inverted, a slice off by
one, `sin`↔`cos`, a 1/sqrt(d) scale dropped) that neither tool has. Each operator below is a
few lines over `ast`, so we write them.

An edit replaces one node's source span with the new node's text, so comments and layout
survive and the diff is exact. Every mutant is verified: its source must parse to exactly the
intended tree (else the edit is retried with parentheses, or dropped).
"""

from __future__ import annotations

import ast
import copy
import decimal
import functools
import random
from dataclasses import dataclass
from typing import Callable, Iterator

# --------------------------------------------------------------------------- vocabulary

ARITH_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
              ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.MatMult: ast.Mult,
              ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd}
COMPARE_SWAP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
                ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
NON_COMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.MatMult, ast.Pow, ast.Mod)
DIM_KEYWORDS = {"dim", "axis", "dim0", "dim1", "start_dim", "end_dim", "source", "destination"}
# methods whose positional integer arguments are dimensions
DIM_METHODS = {"transpose", "unsqueeze", "squeeze", "movedim", "sum", "mean", "amax", "amin", "max", "min",
               "logsumexp", "cumsum", "flatten", "swapaxes", "narrow", "prod", "argmax", "argmin"}
SHAPE_METHODS = {"transpose", "permute", "reshape", "view", "contiguous", "swapaxes", "movedim",
                 "unsqueeze", "squeeze", "flatten", "expand", "expand_as", "view_as", "reshape_as"}
SHAPE_ATTRIBUTES = {"T", "mT"}
UNARY_METHODS = {"sqrt", "rsqrt", "exp", "log", "log1p", "expm1", "abs", "neg", "sin", "cos", "tanh",
                 "sigmoid", "relu", "float", "double", "half", "clone", "detach", "to", "logical_not",
                 "exp2", "square", "reciprocal", "round", "floor", "ceil", "long", "int", "bool"}
UNARY_FUNCTIONS = UNARY_METHODS | {"isneginf", "isposinf", "isinf", "isfinite"}
UNARY_BUILTINS = {"float", "int", "bool", "abs", "round"}
SIBLINGS = {"sin": "cos", "cos": "sin", "amax": "amin", "amin": "amax", "max": "min", "min": "max",
            "sum": "mean", "mean": "sum", "triu": "tril", "tril": "triu", "floor": "ceil", "ceil": "floor",
            "zeros_like": "ones_like", "ones_like": "zeros_like", "zeros": "ones", "ones": "zeros",
            "isneginf": "isposinf", "isposinf": "isneginf", "logical_and": "logical_or",
            "logical_or": "logical_and", "sqrt": "rsqrt", "rsqrt": "sqrt"}
NO_SWAP = {"isinstance", "issubclass", "getattr", "setattr", "hasattr"}  # swapped, they only raise TypeError
SPECIAL_FLOATS = {"inf": "-inf", "-inf": "inf", "+inf": "-inf"}


@dataclass(frozen=True)
class Mutant:
    """One edit of the module: `before` → `after` on `line`, inside `function`."""

    function: str  # "softmax", or "MultiHeadSelfAttention.forward" for a method
    operator: str  # which operator made it, e.g. "compare", "dim", "unwrap"
    line: int
    before: str  # the edited source line(s), stripped
    after: str
    source: str  # the whole mutated module
    in_guard: bool = False  # the edit is in an argument check (`if <test>: raise ...`)

    @property
    def key(self) -> str:
        """A stable identity, the same on every run (sampling and reports sort by it)."""
        return f"{self.function}:{self.line}:{self.operator}:{self.after}"

    def diff(self) -> str:
        return f"`{self.function}` line {self.line} ({self.operator}): `{self.before}` → `{self.after}`"


# --------------------------------------------------------------------------- operators
# Each operator maps a node (inside a function body) to replacement nodes for it.

Operator = Callable[[ast.AST, ast.AST], Iterator[ast.AST]]  # (node, parent) -> replacements


def _const(value) -> ast.expr:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def _number(node: ast.AST):
    """The value of a numeric literal (`3`, `-1`, `1e-5`), else None."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and type(node.operand.value) in (int, float):
        return -node.operand.value
    return None


def _nudged(value) -> list:
    """0/1/-1/2 move by one; other floats (1e-5, 10000.0) by a factor of ten."""
    if isinstance(value, int) or value in (0.0, 1.0, -1.0, 2.0, -2.0):
        return [value + 1, value - 1]
    exact = decimal.Decimal(repr(value))  # 1e-5 → 1e-4 and 1e-6, without binary noise
    return [float(exact * 10), float(exact / 10)]


def arith(node, parent):
    if isinstance(node, ast.BinOp) and type(node.op) in ARITH_SWAP:
        yield ast.BinOp(node.left, ARITH_SWAP[type(node.op)](), node.right)
    if isinstance(node, ast.BoolOp):
        yield ast.BoolOp(ast.Or() if isinstance(node.op, ast.And) else ast.And(), node.values)


def compare(node, parent):
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in COMPARE_SWAP:
                ops = list(node.ops)
                ops[i] = COMPARE_SWAP[type(op)]()
                yield ast.Compare(node.left, ops, node.comparators)


def constant(node, parent):
    value = _number(node)
    if value is None or (isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub)):
        return
    for new in _nudged(value):
        yield _const(new)


def special_float(node, parent):
    """float("-inf") ↔ float("inf"), and `-math.inf` → `math.inf` (via `sign` below)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in SPECIAL_FLOATS \
            and isinstance(parent, ast.Call):
        yield ast.Constant(SPECIAL_FLOATS[node.value])


def sign(node, parent):
    """`-x` → `x`, `not x` → `x`, `~mask` → `mask` (an inverted mask)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not, ast.Invert)):
        yield node.operand


def dim(node, parent):
    """`dim=` arguments (and positional dims of reductions/transposes) moved by one, or fixed."""
    if not isinstance(node, ast.Call):
        return
    targets = [(kw, kw.value) for kw in node.keywords if kw.arg in DIM_KEYWORDS]
    if isinstance(node.func, ast.Attribute) and node.func.attr in DIM_METHODS:
        targets += [(i, a) for i, a in enumerate(node.args) if _number(a) is not None]
    for where, value in targets:
        number = _number(value)
        options = _nudged(int(number)) if isinstance(number, int) else ([] if number is not None else [-1, 0])
        for new in options:
            call = copy.copy(node)
            if isinstance(where, int):
                call.args = [*node.args[:where], _const(new), *node.args[where + 1:]]
            else:
                call.keywords = [ast.keyword(k.arg, _const(new)) if k is where else k for k in node.keywords]
            yield call


def keepdim(node, parent):
    if isinstance(node, ast.Call):
        for kw in node.keywords:
            if kw.arg == "keepdim" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, bool):
                call = copy.copy(node)
                call.keywords = [ast.keyword("keepdim", ast.Constant(not kw.value.value)) if k is kw else k
                                 for k in node.keywords]
                yield call


def reshape(node, parent):
    """A transpose/permute/reshape/view/unsqueeze removed: `x.transpose(-2, -1)` → `x`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SHAPE_METHODS:
        if _is_module(node.func.value):  # torch.transpose(x, a, b) → x
            if node.args:
                yield node.args[0]
        else:
            yield node.func.value
    if isinstance(node, ast.Attribute) and node.attr in SHAPE_ATTRIBUTES and isinstance(node.ctx, ast.Load):
        yield node.value


def drop_term(node, parent):
    """A term of a sum, or a factor of a product, dropped: `a + b` → `a`, `s / sqrt(d)` → `s`."""
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            yield node.left
        if isinstance(node.op, (ast.Add, ast.Mult)):
            yield node.right


def unwrap(node, parent):
    """A call unwrapped: `x.sqrt()` → `x`, `torch.exp(x)` → `x`, `float(b)` → `b`."""
    if not isinstance(node, ast.Call):
        return
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in UNARY_FUNCTIONS:
        if _is_module(func.value):
            if len(node.args) == 1 and not isinstance(node.args[0], ast.Starred):
                yield node.args[0]
        elif func.attr in UNARY_METHODS:
            yield func.value
    elif isinstance(func, ast.Name) and func.id in UNARY_BUILTINS and len(node.args) == 1 \
            and not isinstance(node.args[0], (ast.Starred, ast.Constant)):  # float("-inf") stays
        yield node.args[0]


def swap_args(node, parent):
    """Two adjacent positional arguments swapped, or the operands of `a - b`, `a @ b`, `a / b`."""
    if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in NO_SWAP):
        args = node.args
        for i in range(len(args) - 1):
            a, b = args[i], args[i + 1]
            if any(isinstance(x, ast.Starred) or (isinstance(x, ast.Constant) and isinstance(x.value, str))
                   for x in (a, b)) or ast.dump(a) == ast.dump(b):
                continue  # a string is an argument's name for a message: swapping it is no bug
            call = copy.copy(node)
            call.args = [*args[:i], b, a, *args[i + 2:]]
            yield call
    if isinstance(node, ast.BinOp) and isinstance(node.op, NON_COMMUTATIVE) \
            and ast.dump(node.left) != ast.dump(node.right):
        yield ast.BinOp(node.right, node.op, node.left)


def mask(node, parent):
    """The mask argument of `masked_fill` / `torch.where` inverted."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
        if node.func.attr == "masked_fill" or (node.func.attr == "where" and _is_module(node.func.value)):
            first = node.args[0]
            if not (isinstance(first, ast.UnaryOp) and isinstance(first.op, ast.Invert)):
                call = copy.copy(node)
                call.args = [ast.UnaryOp(ast.Invert(), first), *node.args[1:]]
                yield call


def slice_bound(node, parent):
    """Slicing bounds shifted by one: `x[0::2]` → `x[1::2]`, `a[:, :n]` → `a[:, :n - 1]`."""
    if not isinstance(node, ast.Slice):
        return
    for field in ("lower", "upper"):
        bound = getattr(node, field)
        if bound is None:
            options = [_const(1)] if field == "lower" else [_const(-1)]
        elif _number(bound) is not None and isinstance(_number(bound), int):
            options = [_const(v) for v in _nudged(_number(bound))]
        else:
            options = [ast.BinOp(bound, ast.Add(), ast.Constant(1)), ast.BinOp(bound, ast.Sub(), ast.Constant(1))]
        for new in options:
            s = copy.copy(node)
            setattr(s, field, new)
            yield s


def sibling(node, parent):
    """A call to a sibling function: sin ↔ cos, amax ↔ amin, sum ↔ mean, tril ↔ triu, ..."""
    if isinstance(node, ast.Attribute) and node.attr in SIBLINGS and isinstance(parent, ast.Call) \
            and parent.func is node:
        yield ast.Attribute(node.value, SIBLINGS[node.attr], node.ctx)


def drop_statement(node, parent):
    """A re-assignment dropped: `z = z - z.amax(...)` → `pass` (e.g. no max subtraction)."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        name = node.targets[0].id
        if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node.value)):
            yield ast.Pass()
    if isinstance(node, ast.AugAssign):
        yield ast.Pass()


def drop_keyword(node, parent):
    """A keyword argument dropped, so the callee's default applies: `LayerNorm(d, eps=eps)` →
    `LayerNorm(d)`, `torch.multinomial(p, 1, generator=g)` → `torch.multinomial(p, 1)`."""
    if isinstance(node, ast.Call):
        for kw in node.keywords:
            if kw.arg is not None:
                call = copy.copy(node)
                call.keywords = [k for k in node.keywords if k is not kw]
                yield call


def drop_argument(node, parent):
    """The last positional argument of a call dropped (of two or more), so the callee's default
    applies: `LayerNorm(config.d_model, config.layer_norm_eps)` → `LayerNorm(config.d_model)`."""
    if not isinstance(node, ast.Call) or len(node.args) < 2:
        return
    last = node.args[-1]
    if not isinstance(last, ast.Starred) \
            and not (isinstance(last, ast.Constant) and isinstance(last.value, str)) \
            and not (isinstance(node.func, ast.Name) and node.func.id in NO_SWAP):
        call = copy.copy(node)
        call.args = node.args[:-1]
        yield call


def drop_raise(node, parent):
    """An argument check deleted: `if d % 2: raise ValueError(...)` → `pass`."""
    if isinstance(node, ast.If) and not node.orelse and any(isinstance(s, ast.Raise) for s in node.body):
        yield ast.Pass()


def drop_call(node, parent):
    """A call made for its effect deleted: a cleanup (`handle.remove()`), a check helper
    (`_check_tokens(tokens, model)`), an in-place update (`p.copy_(...)`)."""
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        yield ast.Pass()


INPLACE = {"add", "sub", "mul", "div", "masked_fill", "clamp", "exp", "neg", "abs", "sqrt", "log", "fill",
           "zero", "copy", "pow", "tril", "triu", "sigmoid", "tanh", "relu", "clamp_min", "clamp_max",
           "index_fill", "scatter", "transpose", "unsqueeze", "squeeze", "t"}


def inplace(node, parent):
    """An out-of-place op swapped for its in-place twin and back: `x.masked_fill(m, v)` ↔
    `x.masked_fill_(m, v)`, and `z = z - m` → `z -= m` (which changes the caller's tensor
    when z is an argument)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not _is_module(node.func.value):
        attr = node.func.attr
        if attr in INPLACE:
            yield ast.Call(ast.Attribute(node.func.value, attr + "_", node.func.ctx), node.args, node.keywords)
        elif attr.endswith("_") and attr[:-1] in INPLACE:
            yield ast.Call(ast.Attribute(node.func.value, attr[:-1], node.func.ctx), node.args, node.keywords)
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
            and isinstance(node.value, ast.BinOp) and isinstance(node.value.left, ast.Name) \
            and node.value.left.id == node.targets[0].id and type(node.value.op) in ARITH_SWAP:
        yield ast.AugAssign(ast.Name(node.targets[0].id, ast.Store()), node.value.op, node.value.right)


def _defaults(tree: ast.Module) -> dict[str, ast.expr]:
    """Name → its default, a literal: every parameter default and every dataclass-style field
    (`layer_norm_eps: float = 1e-5`) of the module."""
    found: dict[str, ast.expr] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            positional = node.args.posonlyargs + node.args.args
            pairs = list(zip(positional[len(positional) - len(node.args.defaults):], node.args.defaults))
            pairs += [(a, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None]
            for arg, default in pairs:
                if _literal(default):
                    found.setdefault(arg.arg, default)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None \
                        and _literal(item.value):
                    found.setdefault(item.target.id, item.value)
    return found


def _literal(node: ast.AST) -> bool:
    return _number(node) is not None or (isinstance(node, ast.Constant) and node.value is None) or (
        isinstance(node, ast.Attribute) and _is_module(node.value))  # torch.float32


def default_value(node, parent, defaults=None):
    """A value passed through to a call replaced by its default: `LayerNorm(d, config.layer_norm_eps)`
    → `LayerNorm(d, 1e-05)`, `_frequencies(n, d, base)` → `_frequencies(n, d, 10000.0)`."""
    if not isinstance(node, ast.Call) or not defaults:
        return
    places = [(i, a) for i, a in enumerate(node.args)] + [(kw, kw.value) for kw in node.keywords if kw.arg]
    for where, value in places:
        name = value.id if isinstance(value, ast.Name) else value.attr if isinstance(value, ast.Attribute) else None
        if name not in defaults or isinstance(value, ast.Attribute) and _is_module(value.value):
            continue
        call = copy.copy(node)
        if isinstance(where, int):
            call.args = [*node.args[:where], copy.deepcopy(defaults[name]), *node.args[where + 1:]]
        else:
            call.keywords = [ast.keyword(k.arg, copy.deepcopy(defaults[name])) if k is where else k
                             for k in node.keywords]
        yield call


def _is_module(node: ast.AST) -> bool:
    """`torch`, `math`, `torch.nn.functional`: a module, not a tensor (by the names used here)."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id in {"torch", "math", "np", "numpy", "F", "nn"}


# In this order: when two operators make the same program, the first one names it.
OPERATORS: dict[str, Operator] = {
    "dim": dim, "keepdim": keepdim, "mask": mask, "reshape": reshape, "unwrap": unwrap,
    "sibling": sibling, "slice": slice_bound, "compare": compare, "arith": arith, "drop-term": drop_term,
    "constant": constant, "special-float": special_float, "sign": sign, "swap-args": swap_args,
    "drop-statement": drop_statement,
    # the bugs of an API's edges: a keyword or argument left out, a check or cleanup deleted,
    # a configured value replaced by its default, an op made in-place or out-of-place
    "drop-kwarg": drop_keyword, "drop-arg": drop_argument, "drop-raise": drop_raise, "drop-call": drop_call,
    "default-value": default_value, "inplace": inplace,
}
# The operators before the API-edge ones: `make test`'s fixed floor sample draws from these only,
# so its mutants (and its cost in the default suite) stay what they were; `make audit` uses all.
CLASSIC = ("dim", "keepdim", "mask", "reshape", "unwrap", "sibling", "slice", "compare", "arith", "drop-term",
           "constant", "special-float", "sign", "swap-args", "drop-statement")


# --------------------------------------------------------------------------- generation


def functions(tree: ast.Module) -> Iterator[tuple[str, str, ast.FunctionDef]]:
    """(qualified name, top-level name, node) of every function and method of the module."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield f"{node.name}.{item.name}", node.name, item


def references(tree: ast.Module) -> dict[str, set[str]]:
    """Top-level name → the top-level definitions its body refers to (a static call graph)."""
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    return {n.name: {m.id for m in ast.walk(n) if isinstance(m, ast.Name) and m.id in defined} - {n.name}
            for n in tree.body if getattr(n, "name", None) in defined}


def reachable(tree: ast.Module, roots) -> set[str]:
    """The top-level definitions `roots` use, directly or through others (roots included)."""
    graph, seen, stack = references(tree), set(), [r for r in roots]
    while stack:
        name = stack.pop()
        if name in seen or name not in graph:
            continue
        seen.add(name)
        stack.extend(graph[name])
    return seen


def _skipped(func: ast.FunctionDef) -> set[int]:
    """ids of nodes never mutated: the docstring, raise statements, f-strings, string literals."""
    skip = set()
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        skip |= {id(n) for n in ast.walk(body[0])}
    for node in ast.walk(func):
        if isinstance(node, (ast.Raise, ast.JoinedStr)):
            skip |= {id(n) for n in ast.walk(node)}
    for arg in ast.walk(func.args):  # default values are part of the signature, not the body
        skip.add(id(arg))
    return skip


def _guard_nodes(func: ast.AST) -> set[int]:
    """ids of the nodes in the test of an `if` whose body raises: argument checking."""
    guards = set()
    for node in ast.walk(func):
        if isinstance(node, ast.If) and any(isinstance(s, ast.Raise) for s in node.body):
            guards |= {id(n) for n in ast.walk(node.test)}
    return guards


def _parents(func: ast.AST) -> dict[int, ast.AST]:
    return {id(child): node for node in ast.walk(func) for child in ast.iter_child_nodes(node)}


def mutants_of(source: str, names=None) -> list[Mutant]:
    """Every mutant of the functions of `source` (those of top-level `names`, if given).

    Deterministic: the same source gives the same mutants in the same order. Duplicates (two
    edits making the same program) and no-ops are dropped.
    """
    return list(_mutants_of(source, None if names is None else frozenset(names)))


@functools.lru_cache(maxsize=16)
def _mutants_of(source: str, names: frozenset[str] | None) -> tuple[Mutant, ...]:
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    seen = {source}
    found: list[Mutant] = []
    operators = dict(OPERATORS, **{"default-value": functools.partial(default_value, defaults=_defaults(tree))})
    for qualified, top, func in functions(tree):
        if names is not None and top not in names:
            continue
        skip, parents, guards = _skipped(func), _parents(func), _guard_nodes(func)
        first = min([func.lineno] + [d.lineno for d in func.decorator_list])
        span = (offsets[first - 1], offsets[func.end_lineno])  # the function's own lines
        for node in ast.walk(func):
            if id(node) in skip or node is func or getattr(node, "lineno", None) is None:
                continue
            for op_name, operator in operators.items():
                for new in operator(node, parents.get(id(node))):
                    mutant = _apply(source, offsets, span, func, node, new)
                    if mutant is None or mutant in seen:
                        continue
                    seen.add(mutant)
                    start, end = node.lineno, node.end_lineno
                    shift = mutant.count("\n") - source.count("\n")
                    before = "".join(lines[start - 1:end])
                    after = "\n".join(mutant.splitlines()[start - 1:end + shift])
                    found.append(Mutant(qualified, op_name, start, _one_line(before), _one_line(after), mutant,
                                        id(node) in guards or op_name == "drop-raise"))
    return tuple(found)


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.strip().splitlines())


def _apply(source: str, offsets: list[int], span: tuple[int, int], func: ast.AST, node: ast.AST,
           new: ast.AST) -> str | None:
    """`source` with `node`'s span replaced by `new`, if that parses to the intended function.

    Only the function's own lines are re-parsed (a method inside a stand-in class), which
    keeps generation fast on modules with long docstrings.
    """
    intended = _replaced(func, node, new)
    start = offsets[node.lineno - 1] + _char_col(source, offsets, node.lineno, node.col_offset)
    end = offsets[node.end_lineno - 1] + _char_col(source, offsets, node.end_lineno, node.end_col_offset)
    text = ast.unparse(new)
    for candidate in (text, f"({text})"):
        own = source[span[0]:start] + candidate + source[end:span[1]]
        try:
            parsed = ast.parse(own if func.col_offset == 0 else "class _:\n" + own).body[0]
        except SyntaxError:
            continue
        if func.col_offset:
            parsed = parsed.body[0]
        if ast.dump(parsed) == intended:
            return source[:span[0]] + own + source[span[1]:]
    return None


def _char_col(source: str, offsets: list[int], lineno: int, col: int) -> int:
    """ast columns are UTF-8 byte offsets; our offsets are characters."""
    line = source[offsets[lineno - 1]:offsets[lineno]]
    return len(line.encode("utf-8")[:col].decode("utf-8", "replace"))


def _replaced(func: ast.AST, target: ast.AST, new: ast.AST) -> str:
    """ast.dump of `func` with `target` replaced by `new` (func itself is left alone)."""
    index = next(i for i, n in enumerate(ast.walk(func)) if n is target)
    clone = copy.deepcopy(func)
    victim = next(n for i, n in enumerate(ast.walk(clone)) if i == index)

    class Swap(ast.NodeTransformer):
        def visit(self, node):
            return copy.deepcopy(new) if node is victim else self.generic_visit(node)

    return ast.dump(Swap().visit(clone))


def sample(mutants: list[Mutant], per_function: int | None, seed: str) -> list[Mutant]:
    """At most `per_function` mutants of each function, drawn deterministically from `seed`."""
    by_function: dict[str, list[Mutant]] = {}
    for m in mutants:
        by_function.setdefault(m.function, []).append(m)
    chosen = []
    for name, group in by_function.items():
        group = sorted(group, key=lambda m: m.key)
        if per_function is not None and len(group) > per_function:
            group = random.Random(f"{seed}:{name}").sample(group, per_function)
        chosen += sorted(group, key=lambda m: (m.line, m.key))
    return chosen
