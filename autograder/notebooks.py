"""Stub notebooks: each `assignments/<unit>/<unit>.ipynb` is what its `make_notebook.py` writes.

`make notebooks` (`python -m autograder notebooks`) regenerates them; the build refuses a
committed notebook that differs from what its generator writes now (the reference's
docstrings or the spec's "what is graded" changed since), naming the command that fixes it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat

from . import units


def generator(unit: str, project: Path | None = None) -> Path:
    return Path(project or units.ROOT) / "assignments" / unit / "make_notebook.py"


def generate(unit: str, project: Path | None = None) -> nbformat.NotebookNode:
    """The notebook the unit's make_notebook.py builds (its `build()`), without writing it."""
    path = generator(unit, project)
    spec = importlib.util.spec_from_file_location(f"_make_notebook_{unit}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build()


def committed(unit: str, project: Path | None = None) -> Path:
    return Path(project or units.ROOT) / "assignments" / unit / f"{unit}.ipynb"


def stale(unit: str, project: Path | None = None) -> str:
    """Why the committed notebook is not what its generator writes now; empty when it is."""
    path = committed(unit, project)
    if not generator(unit, project).is_file():
        return f"no generator {generator(unit, project)}"
    if not path.is_file():
        return f"{path} does not exist"
    if nbformat.writes(generate(unit, project)) != nbformat.writes(nbformat.read(path, as_version=4)):
        return f"{path} is stale: it is not what make_notebook.py writes now"
    return ""


def regenerate(unit: str, project: Path | None = None) -> Path:
    path = committed(unit, project)
    nbformat.write(generate(unit, project), path)
    return path
