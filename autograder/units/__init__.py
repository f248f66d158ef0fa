"""Every unit's grading spec: `autograder/units/<unit>.py` defines `UNIT`.

A unit lives in four places, one per role:

- `assignments/<unit>/`: what students receive (the generated notebook, its generator, the
  public checks `<unit>_public.py`, data files); `assignments/_public_kit.py` is shared;
- `solutions/<unit>.py`: the hidden reference;
- `autograder/units/<unit>.py`: the hidden spec (this package);
- `tests/corpus/<unit>/`: wrong, correct and hostile submissions, graded by tests/test_units.py.

`load` checks a spec against its reference and its public checks (`spec.validate`), and gives
each question the public checks registered under its name.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from ..spec import SpecError, Unit, validate

ROOT = Path(__file__).resolve().parents[2]  # the project (or the plugin folder in a Gradescope zip)
ASSIGNMENTS = ROOT / "assignments"
PUBLIC_KIT = "_public_kit"  # assignments/_public_kit.py: helpers the public modules share

_LOADED: dict[str, Unit] = {}


def names() -> list[str]:
    here = Path(__file__).parent
    return sorted(p.stem for p in here.glob("*.py") if not p.stem.startswith("_"))


def load(name: str) -> Unit:
    """The unit's spec, validated, its questions given their public checks (cached)."""
    if name not in names():
        raise KeyError(f"no unit named {name!r}; units: {', '.join(names())}")
    if name not in _LOADED:
        declared = importlib.import_module(f"{__name__}.{name}").UNIT
        file = f"autograder/units/{name}.py"
        if declared.name != name:
            raise SpecError(f"{file}: UNIT.name is {declared.name!r}, not the file's name {name!r}")
        registered = public_checks(name).CHECKS
        unit = with_public_checks(declared, registered)
        validate(unit, reference(name), registered, file)
        _LOADED[name] = unit
    return _LOADED[name]


def with_public_checks(unit: Unit, registered: dict[str, list]) -> Unit:
    """`unit` whose questions without explicit `public` checks take those registered under
    their names in the public module (`CHECKS`)."""
    return dataclasses.replace(unit, questions=tuple(
        q if q.public is not None else dataclasses.replace(q, public=tuple(registered.get(q.name, ())))
        for q in unit.questions))


def reference(name: str) -> ModuleType:
    """The hidden reference solution, imported from solutions/<unit>.py."""
    path = ROOT / "solutions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_reference_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def public_path(name: str) -> Path:
    """The unit's public checks: assignments/<unit>/<unit>_public.py."""
    return ASSIGNMENTS / name / f"{name}_public.py"


def public_checks(name: str) -> ModuleType:
    """The unit's public checks module, imported as students import it: the top-level module
    `<unit>_public`, beside the top-level `_public_kit` (cached in sys.modules)."""
    _top_level(PUBLIC_KIT, ASSIGNMENTS / f"{PUBLIC_KIT}.py")
    return _top_level(f"{name}_public", public_path(name))


def _top_level(module: str, path: Path) -> ModuleType:
    if module not in sys.modules:
        spec = importlib.util.spec_from_file_location(module, path)
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[module] = loaded
        try:
            spec.loader.exec_module(loaded)
        except BaseException:
            del sys.modules[module]
            raise
    return sys.modules[module]


def provided_path(unit: str, name: str) -> Path:
    """A provided file of a unit (see Unit.provided): assignments/<unit>/<name>, also in the Gradescope zip."""
    return ASSIGNMENTS / unit / name


def provided_module(unit: str, module: str) -> ModuleType:
    """A unit's provided <module>.py, imported in the trusted process under a private name (cached)."""
    return _top_level(f"_provided_{unit}_{module}", provided_path(unit, f"{module}.py"))
