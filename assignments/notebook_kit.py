"""What every unit's make_notebook.py shares: stubs from the reference, cell helpers, metadata.

Instructors only; never shipped to students. A generator keeps its prose and calls these:

    s = stubs("softmax")                        # name -> stub source, for what the spec grades
    cells = [md("# Title"), *question("softmax", s, try_it), ...]
    return finish(cells, "softmax")             # its build(); then, under __main__:
    write(build, "softmax")

Nothing is restated by hand: the question names and the functions each grades come from the
unit's spec (autograder/units/<unit>.py), the signatures and docstrings from its reference
(solutions/<unit>.py).
"""

import ast
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

PROJECT = Path(__file__).resolve().parents[1]
# the generators read the unit's spec (autograder.units); run as scripts, the project root is
# not on the path
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))


def reference(unit_name):
    return PROJECT / "solutions" / f"{unit_name}.py"


def spec(unit_name):
    from autograder import units

    return units.load(unit_name)


def stubs(unit_name):
    """name -> stub source, for every function and nn.Module class the spec's questions grade.

    A graded name the reference defines some other way (a dataclass, say) gets no stub here:
    its generator writes that one itself."""
    graded = [f for q in spec(unit_name).questions for f in q.functions]
    return stub_sources(reference(unit_name), graded)


def docstring(reference, node, indent):
    doc = ast.get_docstring(node, clean=True)
    if not doc:
        raise SystemExit(f"{reference}: {node.name} has no docstring")
    body = "\n".join((indent + line).rstrip() for line in doc.splitlines())
    return f'{indent}"""{body.lstrip()}\n{indent}"""\n'


def _raise(name, indent):
    return (f"{indent}# YOUR CODE HERE\n"
            f'{indent}raise NotImplementedError("{name}: replace this line with your implementation")\n')


def _function_stub(reference, node):
    return f"def {node.name}({ast.unparse(node.args)}):\n" + docstring(reference, node, "    ") + _raise(node.name, "    ")


def _class_stub(reference, node):
    """The class docstring, and for each public or dunder method (helpers like `_init_weights`
    are the student's to choose) its signature, its docstring if it has one, and a raise
    (after super().__init__() in __init__)."""
    bases = ", ".join(ast.unparse(b) for b in node.bases)
    parts = [f"class {node.name}({bases}):\n", docstring(reference, node, "    ")]
    for method in node.body:
        if not isinstance(method, ast.FunctionDef):
            continue
        if method.name.startswith("_") and not method.name.endswith("__"):
            continue
        parts.append(f"\n    def {method.name}({ast.unparse(method.args)}):\n")
        if ast.get_docstring(method):
            parts.append(docstring(reference, method, "        "))
        if method.name == "__init__":
            parts.append("        super().__init__()\n")
        parts.append(_raise(f"{node.name}.{method.name}", "        "))
    return "".join(parts)


def stub_sources(reference, names):
    """name -> source of a stub: the reference's signature and docstring, and a raise.

    Read with `ast`: the reference is never imported or copied; only each function's argument
    list and docstring reach the notebook (for a class: its docstring and its methods'). A name
    the reference does not define stops the build.
    """
    names = set(names)
    stubs = {}
    found = set()
    for node in ast.parse(reference.read_text()).body:
        if node.__class__ not in (ast.FunctionDef, ast.ClassDef) or node.name not in names:
            continue
        found.add(node.name)
        if isinstance(node, ast.FunctionDef):
            stubs[node.name] = _function_stub(reference, node)
        elif not node.decorator_list:
            stubs[node.name] = _class_stub(reference, node)
    missing = names - found
    if missing:
        raise SystemExit(f"{reference}: no function(s) {sorted(missing)}")
    return stubs


def write(build, unit_name):
    """Write what `build()` makes to assignments/<unit>/<unit>.ipynb (a generator's __main__)."""
    output = PROJECT / "assignments" / unit_name / f"{unit_name}.ipynb"
    nbformat.write(build(), output)
    print(f"wrote {output.relative_to(PROJECT)}")


def submitting(unit_name):
    """The closing cells: "Submitting" (the steps, then what is graded, written from the unit's
    spec (autograder/units/<unit>.py) so that it never states more, or other, than the grader
    does) and the export cell."""
    from autograder import statements

    unit = spec(unit_name)
    graded = {f for q in unit.questions for f in q.functions}
    classes = [n.name for n in ast.parse(reference(unit_name).read_text()).body
               if isinstance(n, ast.ClassDef) and n.name in graded]
    found_by_name = ("Your functions are found by name", "Your functions and your class are found by name",
                     "Your functions and classes are found by name")[min(len(classes), 2)]
    return [md(f"""
## Submitting

1. Make sure every `grader.check(...)` above passes, and re-read each docstring: the
   public checks are necessary, not sufficient. The autograder runs the hidden checks below,
   comparing your code with a reference solution on many more inputs.
2. Restart the kernel and run all cells (*Kernel → Restart & Run All*), so that the
   notebook you submit works from top to bottom.
3. Run the cell below and upload the zip file it creates (or this `.ipynb`) to Gradescope.

{found_by_name}, so keep the names and signatures exactly as given.

### What is graded

{statements.graded_table(unit)}

{statements.banned_sentence(unit)}
"""), code("grader.export(pdf=False)")]


def md(text):
    return new_markdown_cell(text.strip("\n"))


def code(text):
    return new_code_cell(text.strip("\n"))


def demo(source):
    """A cell that tries functions out (not graded). While a function it uses is still a stub,
    it prints one line instead of a traceback, so *Run All* on a half-done notebook still
    reaches every grader.check cell."""
    body = "\n".join("    " + line if line.strip() else "" for line in source.strip("\n").splitlines())
    # a stub's message starts with the name of what it stubs: "softmax: replace this line ..."
    return (f"try:\n{body}\nexcept NotImplementedError as exc:\n"
            f"    print(f\"(not run: {{str(exc).split(':')[0]}} is not implemented yet)\")\n")


def question(name, stubs, try_it):
    """The cells of one question: the stub, a cell to try it, the check."""
    return [
        code(stubs[name]),
        code(try_it),
        code(f'grader.check("{name}")'),
    ]


def finish(cells, unit):
    """The notebook: deterministic cell ids (regenerating gives the same file), Otter metadata."""
    nb = new_notebook(cells=cells)
    for n, cell in enumerate(nb.cells):
        cell.id = f"{unit}-{n:02d}"
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "otter": {"assignment_name": unit},
    }
    nbformat.validate(nb)
    return nb
