"""Every unit's grading spec: `autograder/units/<unit>.py` defines `UNIT`.

A unit's public, reference-free checks live beside it in `<unit>_public.py` (shipped to
students); its hidden reference is `solutions/<unit>.py` (never shipped).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from ..spec import Unit

ROOT = Path(__file__).resolve().parents[2]  # the project (or the plugin folder in a Gradescope zip)


def names() -> list[str]:
    here = Path(__file__).parent
    return sorted(p.stem for p in here.glob("*.py") if not p.stem.startswith("_") and not p.stem.endswith("_public"))


def load(name: str) -> Unit:
    if name not in names():
        raise KeyError(f"no unit named {name!r}; units: {', '.join(names())}")
    return importlib.import_module(f"{__name__}.{name}").UNIT


def reference(name: str) -> ModuleType:
    """The hidden reference solution, imported from solutions/<unit>.py."""
    path = ROOT / "solutions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_reference_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def provided_path(unit: str, name: str) -> Path:
    """A provided file of a unit (see Unit.provided): assignments/<unit>/<name>, also in the Gradescope zip."""
    return ROOT / "assignments" / unit / name


def provided_module(unit: str, module: str) -> ModuleType:
    """A unit's provided <module>.py, imported in the trusted process under a private name (cached)."""
    key = f"_provided_{unit}_{module}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, provided_path(unit, f"{module}.py"))
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[key] = loaded
        spec.loader.exec_module(loaded)
    return sys.modules[key]
