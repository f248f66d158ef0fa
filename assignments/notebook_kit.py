"""What every unit's make_notebook.py shares: stubs from the reference, cell helpers, metadata.

Instructors only; never shipped to students. A generator keeps its prose and calls these:

    stubs = stub_sources(REFERENCE, QUESTIONS)   # name -> stub source
    cells = [md("# Title"), *question("softmax", stubs, try_it), ...]
    nbformat.write(finish(cells, "softmax"), OUTPUT)
"""

import ast
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def stub_sources(reference, questions):
    """name -> source of a stub: the reference's signature and docstring, and a raise.

    Read with `ast`: the reference is never imported or copied; only each function's argument
    list and docstring reach the notebook. `questions` maps each name to the signature
    the student API (docs/units/) fixes; a reference that disagrees stops the build.
    """
    tree = ast.parse(reference.read_text())
    stubs = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in questions:
            signature = f"{node.name}({ast.unparse(node.args)})"
            if signature != questions[node.name]:
                raise SystemExit(f"{reference}: {signature} differs from the student API's (docs/units/) {questions[node.name]}")
            doc = ast.get_docstring(node, clean=True)
            if not doc:
                raise SystemExit(f"{reference}: {node.name} has no docstring")
            body = "\n".join(("    " + line).rstrip() for line in doc.splitlines())
            stubs[node.name] = (
                f"def {signature}:\n"
                f'    """{body.lstrip()}\n    """\n'
                f"    # YOUR CODE HERE\n"
                f'    raise NotImplementedError("{node.name}: replace this line with your implementation")\n'
            )
    missing = set(questions) - set(stubs)
    if missing:
        raise SystemExit(f"{reference}: no function(s) {sorted(missing)}")
    return stubs


PROJECT = Path(__file__).resolve().parents[1]


def submitting(unit_name, found_by_name="Your functions are found by name"):
    """The closing "Submitting" cell: the steps, then what is graded, written from the unit's
    spec (autograder/units/<unit>.py) so that it never states more, or other, than the grader
    does."""
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    from autograder import statements, units

    unit = units.load(unit_name)
    return md(f"""
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
""")


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
