"""`python -m autograder new UNIT`: the skeleton of a new unit, that builds and grades as is.

It writes, for a unit `foo` (docs/writing-a-unit.md explains each file):

    solutions/foo.py                      the hidden reference: one example function, `scale`
    autograder/units/foo.py               the hidden spec: one question, one hidden check
    assignments/foo/foo_public.py         the public checks students run (grader.check)
    assignments/foo/make_notebook.py      the stub notebook's generator (then run: foo.ipynb)
    tests/corpus/foo/correct/plain.py     a correct submission: full marks
    tests/corpus/foo/wrong/adds_factor.py a wrong one: it loses the question, with its hint

and the stub notebook assignments/foo/foo.ipynb, generated. tests/test_units.py then grades the
unit's reference, stub and corpus with no test edit.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from . import units

HELP = """\
Write the skeleton of a new unit UNIT: a reference with one example function, a spec with one
question and one hidden check, public checks, a notebook generator and the notebook it writes,
and a corpus with one correct and one wrong submission. It builds, grades and is covered by
the test suite (tests/test_units.py) as it is. Then, following docs/writing-a-unit.md:

  1. solutions/UNIT.py               replace `scale` by the functions students write
                                     (plain code; the docstrings become the stubs' docstrings)
  2. autograder/units/UNIT.py        a Question per graded function: its Checks (inputs,
                                     Examples with hints, comparator), its points
  3. assignments/UNIT/UNIT_public.py reference-free checks, registered with @_check("question")
  4. assignments/UNIT/make_notebook.py  the prose, then `make notebooks` (never edit the .ipynb)
  5. tests/corpus/UNIT/              wrong/ (LOSES, HINT), correct/, hostile/ entries
  6. make test; make build UNITS=UNIT; make audit UNITS=UNIT

Example:
  python -m autograder new layernorm
"""


class ScaffoldError(Exception):
    """The skeleton cannot be written; the message says why."""


def files(unit: str) -> dict[str, str]:
    """Relative path -> text of every hand-written file of the skeleton."""
    return {
        f"solutions/{unit}.py": REFERENCE.format(unit=unit),
        f"autograder/units/{unit}.py": SPEC.format(unit=unit),
        f"assignments/{unit}/{unit}_public.py": PUBLIC.format(unit=unit),
        f"assignments/{unit}/make_notebook.py": GENERATOR.format(unit=unit),
        f"tests/corpus/{unit}/correct/plain.py": CORRECT,
        f"tests/corpus/{unit}/wrong/adds_factor.py": WRONG,
    }


def write_unit(unit: str, project: Path | None = None) -> list[Path]:
    """Write the skeleton into `project` (default: this one) and generate its notebook."""
    project = Path(project or units.ROOT)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", unit) or keyword.iskeyword(unit):
        raise ScaffoldError(f"{unit!r} is not a unit name: lower case letters, digits and _, "
                            "starting with a letter (it becomes a Python module name)")
    wanted = {project / path: text for path, text in files(unit).items()}
    existing = [str(p) for p in wanted if p.exists()]
    if (project / "assignments" / unit).exists():
        existing.append(str(project / "assignments" / unit))
    if existing:
        raise ScaffoldError(f"unit {unit!r} exists already: {', '.join(existing)}")
    for path, text in wanted.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (project / "tests" / "corpus" / unit / "hostile").mkdir(exist_ok=True)
    written = list(wanted)
    if project.resolve() == units.ROOT.resolve():
        from . import notebooks

        written.append(notebooks.regenerate(unit, project))
    else:  # another tree: its own interpreter imports its own autograder package
        import subprocess
        import sys

        subprocess.run([sys.executable, str(project / "assignments" / unit / "make_notebook.py")],
                       cwd=project, check=True, capture_output=True, text=True)
        written.append(project / "assignments" / unit / f"{unit}.ipynb")
    return written


# --------------------------------------------------------------------------- the files

REFERENCE = '''\
"""Reference solution of unit `{unit}`: hidden from students, the single source of truth.

Plain code, one function per graded name. Each function's signature and docstring become its
stub in the notebook (assignments/{unit}/make_notebook.py reads them with `ast`); its code
never reaches a student (the build checks that).
"""

import torch


def scale(x, factor=2.0):
    """Multiply every entry of `x` by `factor`.

    Args:
        x: a float tensor of any shape.
        factor: a Python float.

    Returns:
        A new tensor of x's shape and dtype: `x * factor`. `x` is not changed.
    """
    return x * factor
'''

SPEC = '''\
"""Unit `{unit}`: the hidden grading spec (docs/writing-a-unit.md).

One Question per graded piece of work: the student names it grades, its hidden Checks (each
compares the student's function with solutions/{unit}.py on hypothesis-drawn inputs and on
explicit Examples aimed at classic bugs, each with the hint a student reads when it fails).
The public checks of each question are those registered under its name in
assignments/{unit}/{unit}_public.py.
"""

from hypothesis import strategies as st

from .. import strategies as ts
from ..spec import Call, Check, Example, Question, Unit
from ..strategies import tensor
from . import public_checks

public = public_checks("{unit}")  # assignments/{unit}/{unit}_public.py


@st.composite
def scale_calls(draw):
    """x of any small shape, float32 or float64, and a factor."""
    dtype = draw(ts.dtypes())
    x = draw(ts.floats(draw(ts.shapes()), dtype, 10.0))
    factor = draw(st.floats(-4.0, 4.0, allow_nan=False))
    return Call((x,), {{"factor": factor}}, names=("x",))


scale_q = Question(
    "scale", functions=("scale",),
    checks=(
        Check("matches the reference (any shape, float32 and float64)", "scale", scale_calls(), points=2,
              examples=(Example(Call((tensor([1.0, -2.0]),), {{"factor": 3.0}}, names=("x",)),
                                "multiply by `factor`, do not add it"),)),
    ))

UNIT = Unit(
    name="{unit}",
    questions=(scale_q,),
    banned=(),  # dotted names of torch functions students may not call, e.g. ("torch.softmax",)
)
'''

PUBLIC = '''\
"""Public checks for the `{unit}` unit: what `grader.check("<question>")` runs.

You may read this file: it contains no reference solution. Each check is a function that takes
your function(s) as keyword arguments named like them in the notebook and raises
AssertionError, showing the failing call, when the property does not hold. The first line of
its docstring is its display name. The grader also runs hidden checks.
"""

import torch
from hypothesis import given
from hypothesis import strategies as st

import _public_kit as kit  # assignments/_public_kit.py, shipped beside this module

# question name -> its checks, in display order (filled in by @_check below); each question of
# the spec (autograder/units/{unit}.py) takes the checks registered under its name
CHECKS, _check = kit.registry()
_SETTINGS = kit.hypothesis_settings(max_examples=20)


@_check("scale")
def scale_worked_example(scale):
    """matches the worked example in the notebook"""
    x = torch.tensor([1.0, -2.0])
    out, call = kit.call(scale, "scale", x, factor=3.0, shape=x.shape)
    if not torch.equal(out, torch.tensor([3.0, -6.0])):
        kit.fail(call, "wrong values", expected=torch.tensor([3.0, -6.0]), got=out)


@_check("scale")
def scale_keeps_the_dtype(scale):
    """returns x's shape and dtype"""

    @_SETTINGS
    @given(st.sampled_from([torch.float32, torch.float64]), st.integers(0, 4))
    def prop(dtype, n):
        x = torch.ones(n, dtype=dtype)
        out, call = kit.call(scale, "scale", x, shape=x.shape)
        if out.dtype != dtype:
            kit.fail(call, f"returned dtype {{out.dtype}}, expected {{dtype}}")

    kit.run(prop, scale, "scale", lambda f: f(torch.zeros(1)))
'''

GENERATOR = '''\
"""The prose of the student notebook {unit}.ipynb (instructors only); notebook_kit.py makes the
stubs and the closing cells.
`make notebooks` (or .venv/bin/python assignments/{unit}/make_notebook.py) writes it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from notebook_kit import code, demo, finish, md, question, stubs, submitting, write  # noqa: E402


def build():
    s = stubs("{unit}")  # the functions the spec grades, as the reference declares them
    cells = [
        md("""
# {unit}

Implement each function, then run the `grader.check` cell after it. Run the next cell first.
"""),
        code("""
import otter
grader = otter.Notebook("{unit}.ipynb")

import torch
"""),
        md("""
## 1. Scaling

**Worked example:** `scale(torch.tensor([1.0, -2.0]), 3.0)` is `[3.0, -6.0]`.
"""),
        *question("scale", s, demo("""
print(scale(torch.tensor([1.0, -2.0]), 3.0))
""")),
        *submitting("{unit}"),
    ]
    return finish(cells, "{unit}")


if __name__ == "__main__":
    write(build, "{unit}")
'''

CORRECT = '''\
"""Correct: the factor applied with an explicit multiplication of the tensor by a scalar tensor."""

import torch


def scale(x, factor=2.0):
    return x * torch.tensor(factor, dtype=x.dtype)
'''

WRONG = '''\
"""Bug: adds the factor instead of multiplying by it."""

LOSES = {"scale"}
HINT = "do not add it"


def scale(x, factor=2.0):
    return x + factor
'''
