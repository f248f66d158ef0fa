"""`python -m autograder build`: per unit, a Gradescope autograder zip and a student bundle.

For each unit, into ``<dist>/<unit>/`` (default ``gradescope/dist/<unit>/``), staged in
``<dist>/../build/<unit>/`` (default ``gradescope/build/<unit>/``):

``autograder.zip``
    Made by Otter's own ``otter generate`` (`otter.generate.main`), then rewritten with
    sorted entries and fixed dates so that building twice gives byte-identical zips. It holds

    - ``files/decoding_gpt_grader/``: a copy of the ``autograder`` package with this unit's
      spec only (``autograder/units/<unit>.py``: no other unit's hidden checks), its reference
      ``solutions/<unit>.py``, its public checks and provided files under ``assignments/``
      (the spec imports the public checks), importable on Gradescope as
      ``files.decoding_gpt_grader...``, and ``plans/<unit>.pkl``: every hidden check's inputs
      with the reference's answers, drawn once here (`grade.save_plans`) instead of on
      Gradescope for each submission;
    - ``tests/<question>.py``: one Otter test file per question (name = question name), one
      test case per hidden check (its name and points). The trusted grader decides each case
      (`autograder.gradescope.TrustedGrader` replaces their results); run by anything else,
      every case fails;
    - ``otter_config.json`` from ``gradescope/otter_config.json`` plus the plugin entry: PDF
      off, no ``assignment_name`` (Otter would refuse notebooks without it);
    - ``requirements.txt``: every pip package pinned exactly (the packages of the project's
      ``requirements.txt`` except the test-only ones, and everything they depend on, at the
      versions installed in ``.venv``, except what only PDF export uses: Playwright), torch as
      ``torch==<version>+cpu`` from the CPU wheel index, so Gradescope never pulls the CUDA build;
    - ``environment.yml``: the conda environment Otter's ``run_autograder`` activates
      (``otter-env``): Python 3.11 and pip, nothing else;
    - ``setup.sh``: ours, not Otter's template, which installs LaTeX tools, R build
      dependencies and Playwright's Chromium: it installs Miniforge, creates ``otter-env`` and
      pip-installs ``requirements.txt`` with ``--no-deps`` (the pins are the whole closure; a
      resolver would add Playwright back for Otter's ``nbconvert[webpdf]``);
    - ``run_otter.py``: ours, not Otter's template: it runs Otter's runner through the guard
      `autograder.gradescope.run` (see that module for what it protects against).

``student.zip``
    A folder ``<unit>/`` with every file of ``assignments/<unit>/`` (an allow-list: the folder
    holds what students receive: the stub notebook, its public checks ``<unit>_public.py``,
    data files), except the instructor scripts ``make_*.py`` (``make_notebook.py``,
    ``make_weights.py``), hidden files and bytecode; the helpers the public checks import,
    ``assignments/_public_kit.py``; Otter test files ``tests/<question>.py`` that call those checks (so ``grader.check`` works),
    and a pinned ``requirements.txt``. The build fails if anything in it contains a code line
    or a comment of the reference ``solutions/<unit>.py`` (its docstrings are copied into the
    stubs on purpose and are allowed), or of the unit's hidden spec ``autograder/units/<unit>.py``.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import inspect
import io
import json
import os
import shutil
import sys
import tokenize
import types
import zipfile
from contextlib import chdir, contextmanager
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from . import statements, units
from .gradescope import PLUGIN, PLUGIN_FOLDER
from .spec import Question, Unit

PROJECT = units.ROOT
PYTHON_VERSION = "3.11"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
TEST_ONLY = {"pytest", "pytest-xdist"}  # in requirements.txt, not needed to grade
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold: no build timestamps
# Gradescope's image (Ubuntu, x86_64, CPython 3.11): requirement markers are judged for it
GRADESCOPE_MARKERS = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                      "platform_machine": "x86_64", "implementation_name": "cpython",
                      "platform_python_implementation": "CPython", "python_version": PYTHON_VERSION}
PUBLIC_KIT = units.PUBLIC_KIT  # assignments/_public_kit.py: helpers every public module shares
MIN_CODE = 20  # a reference code line this long (whitespace collapsed) must not be shipped
MIN_COMMENT = 30  # nor a comment this long

RUN_OTTER = f'''\
"""Gradescope's entry point: `python /autograder/source/run_otter.py` (see run_autograder).

Written by decoding-gpt-autograder's build in place of Otter's template: it runs Otter's
runner through the guard in files/{PLUGIN_FOLDER}/autograder/gradescope.py, which keeps the
student's code out of Otter's root kernel and always leaves a valid results/results.json.
The autograder folder is this file's grandparent, so the zip works wherever it is unpacked.
"""

import json
import os
import sys
import traceback

AUTOGRADER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

if __name__ == "__main__":
    try:
        from files.{PLUGIN_FOLDER}.autograder.gradescope import run
    except BaseException:
        traceback.print_exc()
        os.makedirs(os.path.join(AUTOGRADER_DIR, "results"), exist_ok=True)
        with open(os.path.join(AUTOGRADER_DIR, "results", "results.json"), "w") as f:
            json.dump({{"score": 0, "tests": [], "output": "The autograder could not start, so this "
                       "submission was not graded. Please tell your instructor."}}, f, indent=2)
        sys.exit(1)
    sys.exit(run(AUTOGRADER_DIR))
'''

# Otter's template would also install LaTeX and pandoc (PDF export: off), R's build tools
# (this is a Python autograder), nb_conda_kernels (the activated env's own kernel is used) and
# Playwright's Chromium (PDF export again), which makes image builds slow or hang.
SETUP_SH = f"""\
#!/usr/bin/env bash
# Gradescope's image set-up, written by decoding-gpt-autograder's build in place of Otter's
# template: only what grading needs. Miniforge, a conda env `otter-env` with Python
# {PYTHON_VERSION} (run_autograder activates it), and requirements.txt: every package pinned,
# installed without dependency resolution (the pins are the whole closure, PDF export excluded).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends wget ca-certificates

wget -nv https://github.com/conda-forge/miniforge/releases/download/{{miniforge}}/Miniforge3-Linux-$(uname -m).sh \\
    -O /tmp/miniforge.sh
bash /tmp/miniforge.sh -b
rm /tmp/miniforge.sh
echo "export PATH=/root/miniforge3/bin:\\$PATH" >> /root/.bashrc
export PATH=/root/miniforge3/bin:$PATH

mamba env create -f /autograder/source/environment.yml
mamba run -n otter-env python -m pip install --no-cache-dir --no-deps -r /autograder/source/requirements.txt
mamba shell init --shell bash
"""

ENVIRONMENT_YML = f"""\
# The conda environment Otter's run_autograder activates; setup.sh pip-installs requirements.txt.
name: otter-env
channels:
  - conda-forge
dependencies:
  - python={PYTHON_VERSION}
  - pip
"""
NOT_FOR_GRADING = {"playwright"}  # nbconvert's webpdf extra: PDF export, which stays off

FILES_INIT = '"""The autograder\'s support files (makes `files` a regular package on Gradescope)."""\n'


class BuildError(Exception):
    """The unit cannot be built; the message says what to fix."""


# --------------------------------------------------------------------------- entry point


def build_units(names: list[str], dist: Path) -> int:
    """Build every unit in `names` into `dist`; the exit status (0: all built)."""
    failed = []
    for name in names:
        try:
            autograder_zip, student_zip = build_unit(name, Path(dist))
        except BuildError as exc:
            print(f"error: unit '{name}': {exc}", file=sys.stderr)
            failed.append(name)
            continue
        for path in (autograder_zip, student_zip):
            print(f"built {_shown(path)} ({path.stat().st_size // 1024} KiB)")
    if failed:
        print(f"error: could not build {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def build_unit(name: str, dist: Path, staging: Path | None = None,
               project: Path | None = None) -> tuple[Path, Path]:
    """Build one unit; returns the paths of autograder.zip and student.zip.

    `project` (default: this project) holds assignments/, solutions/, the autograder package
    to ship, gradescope/otter_config.json and requirements.txt; the unit's spec is imported.
    """
    project = Path(project or PROJECT)
    unit = units.load(name)
    out = Path(dist).resolve() / name
    staging = (Path(staging) if staging else Path(dist).resolve().parent / "build" / name).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("autograder.zip", "student.zip"):  # never leave a zip from an older build
        (out / stale).unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    student = student_files(unit, project)
    check_no_leaks(unit, student, project)
    from . import notebooks

    why = notebooks.stale(name, project)
    if why:
        raise BuildError(f"{why}; regenerate it with `make notebooks` "
                         f"(or .venv/bin/python assignments/{name}/make_notebook.py) and commit it")
    autograder_zip = build_autograder_zip(unit, staging / "autograder", out / "autograder.zip", project)
    student_zip = out / "student.zip"
    write_zip(student_zip, {f"{unit.name}/{path}": data for path, data in student.items()})
    return autograder_zip, student_zip


# --------------------------------------------------------------------------- autograder.zip


def build_autograder_zip(unit: Unit, stage: Path, target: Path, project: Path) -> Path:
    """Stage the inputs of `otter generate`, run it, and normalise its zip into `target`."""
    reference = project / "solutions" / f"{unit.name}.py"
    if not reference.is_file():
        raise BuildError(f"no reference solution {_shown(reference)}")
    plugin = stage / PLUGIN_FOLDER
    shutil.copytree(project / "autograder", plugin / "autograder",
                    ignore=_only_this_unit(project / "autograder" / "units", unit.name))
    (plugin / "solutions").mkdir()
    shutil.copy2(reference, plugin / "solutions" / reference.name)
    # the spec imports the unit's public checks (its questions' `public`), as students do
    public = project / "assignments" / unit.name / f"{unit.public_module}.py"
    if not public.is_file():
        raise BuildError(f"no public checks module {_shown(public)}")
    (plugin / "assignments" / unit.name).mkdir(parents=True)
    shutil.copy2(public, plugin / "assignments" / unit.name / public.name)
    shutil.copy2(project / "assignments" / f"{PUBLIC_KIT}.py", plugin / "assignments" / f"{PUBLIC_KIT}.py")
    if project.resolve() == PROJECT.resolve():  # the plan is drawn with this project's grader
        from .grade import save_plans

        (plugin / "plans").mkdir()
        save_plans(unit, units.reference(unit.name), plugin / "plans" / f"{unit.name}.pkl")
    for name in unit.provided:  # e.g. a model class and its weights: the trusted side uses them too
        provided = project / "assignments" / unit.name / name
        if not provided.is_file():
            raise BuildError(f"no provided file {_shown(provided)} (listed in the unit's `provided`)")
        shutil.copy2(provided, plugin / "assignments" / unit.name / name)
    tests = stage / "tests"
    tests.mkdir()
    for question in unit.questions:
        (tests / f"{question.name}.py").write_text(autograder_test_file(question))
    (stage / "otter_config.json").write_text(json.dumps(otter_config(unit, project), indent=2) + "\n")
    (stage / "requirements.txt").write_text(gradescope_requirements(project))

    raw = stage.parent / "otter-generate.zip"
    with _importable_plugin(stage), chdir(stage):
        import otter.generate

        try:
            otter.generate.main(
                tests_dir="tests", output_path=str(raw), config="otter_config.json",
                requirements="requirements.txt", overwrite_requirements=True, no_environment=True,
                files=[PLUGIN_FOLDER], lang="python", python_version=PYTHON_VERSION,
            )
        except Exception as exc:
            raise BuildError(f"otter generate failed: {type(exc).__name__}: {exc}") from exc
    with zipfile.ZipFile(raw) as generated:
        entries = {info.filename: generated.read(info) for info in generated.infolist()
                   if not info.is_dir() and "__pycache__" not in info.filename
                   and not info.filename.endswith(".pyc")}
    if "run_otter.py" not in entries or "environment.yml" not in entries:
        raise BuildError("otter generate made an unexpected zip (no run_otter.py or environment.yml)")
    entries["run_otter.py"] = RUN_OTTER.encode()
    entries["setup.sh"] = setup_sh().encode()
    entries["environment.yml"] = ENVIRONMENT_YML.encode()
    entries["requirements.txt"] = (stage / "requirements.txt").read_bytes()
    entries["files/__init__.py"] = FILES_INIT.encode()
    write_zip(target, entries, executable={"run_autograder", "setup.sh"})
    return target


def _only_this_unit(specs: Path, unit_name: str):
    """copytree's ignore: bytecode, hidden files, and every other unit's spec."""
    generic = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")

    def ignore(folder: str, names: list[str]) -> set[str]:
        ignored = set(generic(folder, names))
        if Path(folder).resolve() == specs.resolve():
            ignored |= {n for n in names if n.endswith(".py") and not n.startswith("_") and n != f"{unit_name}.py"}
        return ignored

    return ignore


def otter_config(unit: Unit, project: Path) -> dict:
    """gradescope/otter_config.json with this unit's plugin entry; refuses unsafe settings."""
    template = project / "gradescope" / "otter_config.json"
    config = json.loads(template.read_text()) if template.is_file() else {}
    for key, why in [("assignment_name", "Otter would refuse notebooks whose metadata lacks it"),
                     ("token", "PDF upload renders the student's notebook as root"),
                     ("course_id", "PDF upload renders the student's notebook as root"),
                     ("assignment_id", "PDF upload renders the student's notebook as root")]:
        if config.get(key):
            raise BuildError(f"{_shown(template)} sets '{key}': remove it ({why})")
    for key in ("pdf", "grade_from_log", "zips", "use_submission_pdf"):
        if config.get(key):
            raise BuildError(f"{_shown(template)} sets '{key}': it must stay false")
    config.update(pdf=False, lang="python")
    config["plugins"] = [{PLUGIN: {"unit": unit.name}}]
    return config


def _test_file_head(question: Question, docstring: list[str]) -> list[str]:
    """The lines every generated Otter test file starts with: its docstring, the import Otter
    needs, and the question's name."""
    return [f'"""{docstring[0]}', *docstring[1:-1], f'{docstring[-1]}"""', "",
            "from otter.test_files import test_case", "", "OK_FORMAT = False", "", f"name = {question.name!r}"]


def autograder_test_file(question: Question) -> str:
    """An Otter test file whose cases mirror the question's hidden checks (names, points)."""
    lines = _test_file_head(question, [
        f"Question `{question.name}` ({question.points:g} points): a test case per hidden check.",
        "",
        "On Gradescope the trusted grader decides every case (its plugin replaces these results",
        "with its verdicts); run by anything else, every case fails, so this file can award no",
        "points by itself. Generated by `python -m autograder build`.",
    ]) + [""]
    for index, check in enumerate(question.checks, 1):
        lines += [
            "",
            f"@test_case(name={check.name!r}, points={check.points!r}, hidden=False)",
            f"def check_{index}():",
            '    raise AssertionError("not graded: only the trusted grader decides this check")',
            "",
        ]
    return "\n".join(lines)


def setup_sh() -> str:
    import otter.generate

    return SETUP_SH.format(miniforge=otter.generate.MINIFORGE_VERSION)


def gradescope_requirements(project: Path) -> str:
    """requirements.txt for Gradescope: every package pinned, torch from the CPU index.

    The packages are those of the project's requirements.txt (minus the test-only ones) and
    all their dependencies (minus those only PDF export uses), each at the version installed
    in this environment, which must match requirements.txt's pins. setup.sh installs them
    with --no-deps, so the pins carry no extras: the closure already holds what they add.
    """
    wanted: dict[str, set[str]] = {}
    direct = []
    for line in (project / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        key = canonicalize_name(req.name)
        if key in TEST_ONLY:
            continue
        installed = _installed_version(req.name)
        if not req.specifier.contains(installed.split("+")[0], prereleases=True):
            raise BuildError(f"requirements.txt pins {line} but {req.name} {installed} is installed; "
                             "run `make venv` (or fix the pin)")
        direct.append(key)
        wanted.setdefault(key, set()).update(req.extras)
    queue = list(direct)
    while queue:  # the dependency closure, with extras, judged for Gradescope's platform
        key = queue.pop()
        extras = wanted[key]
        for text in metadata.distribution(key).requires or []:
            req = Requirement(text)
            if req.marker and not any(_marker_holds(req.marker, extra) for extra in [""] + sorted(extras)):
                continue
            dep = canonicalize_name(req.name)
            if dep in NOT_FOR_GRADING:
                continue
            before = set(wanted.get(dep, set())) if dep in wanted else None
            wanted.setdefault(dep, set()).update(req.extras)
            if before is None or wanted[dep] != before:
                queue.append(dep)
    pins = []
    for key in sorted(wanted):
        name = metadata.distribution(key).metadata["Name"]
        version = _installed_version(key)
        if key == "torch" and "+" not in version:
            version += "+cpu"
        pins.append(f"{name}=={version}")
    header = [
        "# Gradescope's pip packages (generated by `python -m autograder build`): the grader's",
        "# requirements and everything they depend on, pinned to the versions in .venv, except",
        "# Playwright (PDF export only; it is off). setup.sh installs them with --no-deps.",
        "# torch comes from the CPU wheel index, never as the multi-GB CUDA build.",
        f"--extra-index-url={TORCH_INDEX}",
    ]
    return "\n".join(header + pins) + "\n"


def _marker_holds(marker: Marker, extra: str) -> bool:
    return marker.evaluate(dict(GRADESCOPE_MARKERS, extra=extra))


def _installed_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        raise BuildError(f"{name} is not installed in {sys.prefix}; run `make venv`") from None


@contextmanager
def _importable_plugin(stage: Path):
    """Make `files.<plugin folder>` importable at build time: `otter generate` imports the plugin.

    On Gradescope, `files` is the zip's files/ folder; here a stand-in package points at the
    staging folder. Nothing may write bytecode into what gets zipped.
    """
    saved = {k: v for k, v in sys.modules.items() if k == "files" or k.startswith("files.")}
    for key in saved:
        del sys.modules[key]
    package = types.ModuleType("files")
    package.__path__ = [str(stage)]
    sys.modules["files"] = package
    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = dont_write
        for key in [k for k in sys.modules if k == "files" or k.startswith("files.")]:
            del sys.modules[key]
        sys.modules.update(saved)


# --------------------------------------------------------------------------- student.zip


def student_files(unit: Unit, project: Path) -> dict[str, bytes]:
    """The student bundle: relative path -> contents."""
    folder = project / "assignments" / unit.name
    notebook = folder / f"{unit.name}.ipynb"
    if not notebook.is_file():
        raise BuildError(f"no stub notebook {_shown(notebook)}")
    files: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_dir() or any(part.startswith(".") or part in ("__pycache__",) for part in relative.parts):
            continue
        if path.suffix == ".pyc" or (path.suffix == ".py" and path.name.startswith("make_")):
            continue  # instructor tooling: make_notebook.py, make_weights.py
        files[relative.as_posix()] = path.read_bytes()
    try:
        json.loads(files[notebook.name])
    except ValueError as exc:
        raise BuildError(f"{_shown(notebook)} is not valid JSON ({exc})") from None

    public = folder / f"{unit.public_module}.py"
    if public.name not in files:
        raise BuildError(f"no public checks module {_shown(public)}")
    if _check_stands_alone(public):  # it imports the kit: ship the kit too (the kit imports torch)
        kit = project / "assignments" / f"{PUBLIC_KIT}.py"
        _check_stands_alone(kit)
        files[kit.name] = kit.read_bytes()
    for question in unit.questions:
        if not question.public:
            raise BuildError(f"question '{question.name}' has no public checks: grader.check would test nothing")
        files[f"tests/{question.name}.py"] = student_test_file(
            question, unit.public_module, unit.banned_for(question)).encode()
    files["install.py"] = STUDENT_INSTALLER.read_bytes()
    for name, text in student_requirements(unit, files).items():
        files[name] = text.encode()
    files["README.md"] = student_readme(unit, files).encode()
    return files


def _check_stands_alone(module: Path) -> bool:
    """A public checks module is shipped as a top-level module: it may import the kit of
    helpers shipped beside it (`import _public_kit`), nothing else of ours.
    Returns whether it imports the kit."""
    uses_kit = False
    for node in ast.walk(ast.parse(module.read_text())):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        if isinstance(node, ast.ImportFrom) and node.level:
            names = ["." + (node.module or "")] if node.module else ["." + a.name for a in node.names]
        for imported in names:
            if imported.lstrip(".") == PUBLIC_KIT:
                uses_kit = True
                continue
            if imported.startswith((".", "autograder", "solutions")):
                raise BuildError(f"{_shown(module)} imports {imported}: the public checks must stand "
                                 "alone (they are shipped to students as a top-level module)")
    return uses_kit


# Shared by every student test file: runs a question's public checks as ONE Otter test case,
# so grader.check prints one message per question (a stub: one "not implemented yet" line,
# not one per check), and reports what the hidden grader refuses in its words: a banned call
# (by its Python name, or by the ATen operator that does its work, BANNED_OPS, as the worker
# sees it) and a side effect (torch's default dtype or grad mode changed, hooks left on).
STUDENT_RUNNER = '''
def _not_implemented(exc):
    while exc is not None:  # the checks turn NotImplementedError into an AssertionError saying so
        if isinstance(exc, NotImplementedError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class _Seen:
    """What your functions did, while a check ran them, that the grader gives no marks for."""

    def __init__(self):
        self.banned = []  # (your function, the banned call)
        self.effects = []  # (your function, the kind of side effect: a key of SIDE_EFFECTS)
        self.inside_banned = 0  # > 0 while a banned function runs: its own operators are no news


def _watch_modes(seen, who):
    """[a TorchFunctionMode recording calls of BANNED torch functions, a TorchDispatchMode
    recording the ATen operators of BANNED_OPS]; [] without torch or without a ban."""
    if not BANNED:
        return []
    try:
        from torch.overrides import TorchFunctionMode, resolve_name
        from torch.utils._python_dispatch import TorchDispatchMode
    except ImportError:  # torch not installed: your code cannot call it either
        return []
    exact, prefixes = set(BANNED), tuple(b[:-1] for b in BANNED if b.endswith(".*"))
    by_identity = {}
    for banned in BANNED:
        obj = None
        try:
            parts = banned.split(".")
            obj = __import__(parts[0])
            for part in parts[1:]:
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            continue
        try:
            by_identity[obj] = banned
        except TypeError:
            pass

    class Watch(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            try:
                found = by_identity.get(func)
            except TypeError:
                found = None
            if not found:
                resolved = resolve_name(func) or ""
                if resolved in exact:
                    found = resolved
                elif prefixes:
                    resolved = resolved or f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', '')}"
                    found = resolved if resolved.startswith(prefixes) else None
            if not found:
                return func(*args, **(kwargs or {}))
            seen.banned.append((who, found))
            seen.inside_banned += 1
            try:
                return func(*args, **(kwargs or {}))
            finally:
                seen.inside_banned -= 1

    class Operators(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            op = getattr(getattr(func, "overloadpacket", None), "__name__", "")
            name = BANNED_OPS.get(op) or BANNED_OPS.get("*")
            if name and not seen.inside_banned:
                seen.banned.append((who, f"{name} (its operator aten.{op})"))
            return func(*args, **(kwargs or {}))

    return [Watch()] + ([Operators()] if BANNED_OPS else [])


_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
_GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                 "_global_backward_pre_hooks")


def _torch_state(values):
    """torch's settings a graded call must leave as it found them, and the hook counts of the
    modules among `values` (None without torch)."""
    import sys

    torch = sys.modules.get("torch")  # not imported yet: nothing of it can change
    if torch is None:
        return None
    from torch.nn.modules import module as nn_module

    # (a module whose __init__ is running is not set up yet: only the given ones are counted)
    models = [v for v in values if isinstance(v, torch.nn.Module) and "_modules" in vars(v)]
    return {"default_dtype": torch.get_default_dtype(), "grad_mode": torch.is_grad_enabled(),
            "global_hooks": tuple(len(getattr(nn_module, n, None) or ()) for n in _GLOBAL_HOOKS),
            "models": models, "hooks": [_hook_count(model) for model in models]}


def _hook_count(model):
    return sum(len(getattr(m, n, None) or ()) for m in model.modules() for n in _HOOK_DICTS)


def _note_effects(seen, who, before, values):
    """Record the side effects of one call, and restore torch's settings as the grader does."""
    after = _torch_state(values)
    if before is None or after is None:
        return
    import torch

    after["hooks"] = [_hook_count(model) for model in before["models"]]
    for kind in ("default_dtype", "grad_mode", "global_hooks", "hooks"):
        if after[kind] != before[kind] and (who, kind) not in seen.effects:
            seen.effects.append((who, kind))
    # (only when changed: this may run inside the watch of an outer call, e.g. your function
    # that a check hands to numerical_gradient)
    if after["default_dtype"] != before["default_dtype"]:
        torch.set_default_dtype(before["default_dtype"])
    if after["grad_mode"] != before["grad_mode"]:
        torch.set_grad_enabled(before["grad_mode"])


def _watched(name, value, seen):
    """`value` (your function or class) with its calls watched for banned calls and side effects."""
    import contextlib
    import functools

    def enter(call):
        @functools.wraps(call)
        def wrapper(*args, **kwargs):
            values = list(args) + list(kwargs.values())
            before = _torch_state(values)
            try:
                with contextlib.ExitStack() as modes:
                    for mode in _watch_modes(seen, name):
                        modes.enter_context(mode)
                    return call(*args, **kwargs)
            finally:
                _note_effects(seen, name, before, values)
        return wrapper

    if isinstance(value, type):
        if not hasattr(value, "forward"):  # e.g. a config dataclass: nothing to watch
            return value
        return type(value.__name__, (value,), {"__init__": enter(value.__init__), "__call__": enter(value.__call__),
                                               "__module__": value.__module__, "__qualname__": value.__qualname__,
                                               "__doc__": value.__doc__})
    return enter(value) if callable(value) else value


def _refused(seen):
    """What the grader says of the first banned call or side effect seen (None: nothing seen)."""
    if seen.banned:
        who = seen.banned[0][0]
        calls = ", ".join(sorted({banned for name, banned in seen.banned if name == who}))
        return (f"`{who}` called {calls}, which this question does not allow; "
                "write it yourself with basic operations")
    if seen.effects:
        who = seen.effects[0][0]
        said = "; ".join(SIDE_EFFECTS[kind] for name, kind in seen.effects if name == who)
        return f"`{who}` has a side effect a graded function must not have.\\nHint: it {said}"
    return None


def _run(functions, checks):
    for name, value in functions.items():
        if value is None:
            raise AssertionError(f"`{name}` is not defined: run the cell that defines it, then this check")
    seen = _Seen()
    given = {name: _watched(name, value, seen) for name, value in functions.items()}
    failures = []
    for title, check in checks:
        try:
            check(**given)
        except Exception as exc:
            if _not_implemented(exc):
                raise AssertionError(str(exc).splitlines()[0]) from None
            failures.append(f"{title}:\\n    " + str(exc).replace("\\n", "\\n    "))
        refused = _refused(seen)
        if refused:
            raise AssertionError(refused) from None
    if failures:
        raise AssertionError(f"{len(failures)} of {len(checks)} public checks failed:\\n" + "\\n".join(failures))
'''


def runner_constants(banned: tuple[str, ...]) -> dict:
    """The constants STUDENT_RUNNER reads: BANNED (torch names), BANNED_OPS ({ATen operator:
    banned name}: the worker's own table), SIDE_EFFECTS ({kind: what the grader says of it})."""
    from .verdict import SIDE_EFFECTS
    from .worker import banned_ops

    return {"BANNED": list(banned), "BANNED_OPS": banned_ops(banned), "SIDE_EFFECTS": dict(SIDE_EFFECTS)}


def student_test_file(question: Question, public_module: str, banned: tuple[str, ...] = ()) -> str:
    """An Otter test file for `grader.check(question)`: one test case that runs every public check."""
    lines = _test_file_head(question, [
        f'Public checks of question `{question.name}`: what grader.check("{question.name}") runs.',
        "",
        f"The test case calls each check of {public_module}.py listed below with your function(s);",
        "read that file to see what a check tests. The grader runs more (hidden) checks than these.",
        "Generated by `python -m autograder build`.",
    ]) + [
        "# torch functions this question does not allow (the grader gives 0 for a call of one), the",
        "# ATen operators that do their work, and what the grader says of a side effect",
        *(f"{name} = {value!r}" for name, value in runner_constants(banned).items()),
        STUDENT_RUNNER,
    ]
    params: list[str] = []
    entries = []
    for check in question.public:
        if check.__module__.rsplit(".", 1)[-1] != public_module:
            raise BuildError(f"public check {check.__name__} of '{question.name}' is not in {public_module}.py")
        names = list(inspect.signature(check).parameters)
        params += [p for p in names if p not in params]
        title = (inspect.getdoc(check) or check.__name__).strip().splitlines()[0]
        call = f"{public_module}.{check.__name__}({', '.join(f'{p}={p}' for p in names)})"
        entries.append(f"        ({title!r}, lambda {', '.join(names)}, **_: {call}),")
    lines += [
        "",
        f"@test_case(name={f'{len(entries)} public checks'!r}, hidden=False)",
        f"def public_checks({', '.join(params)}):",
        f"    import {public_module}",
        "",
        f"    _run({{{', '.join(f'{p!r}: {p}' for p in params)}}}, [",
        *entries,
        "    ])",
        "",
    ]
    return "\n".join(lines)


# What a student's notebook needs of Otter: `import otter`, `grader.check` and `grader.export`.
# Those import the packages below (measured by tracing the imports of check and export), and
# not Otter's other dependencies (Playwright, Docker bindings, jupytext, ...). fica names
# Sphinx as a dependency but never imports it. So both install without their dependencies
# (requirements-otter.txt, `pip install --no-deps`) and these go in requirements.txt.
OTTER_NO_DEPS = ("otter-grader", "fica")
OTTER_RUNTIME = ("dill", "ipylab", "ipython", "ipywidgets", "jinja2", "jupyter-client", "nbconvert",
                 "nbformat", "pandas", "python-frontmatter", "pyyaml", "wrapt")
# To open and run the notebook: the kernel (in .venv) and JupyterLab (students only, so pinned
# here rather than in the project's requirements).
NOTEBOOK_APPS = ("ipykernel",)
JUPYTERLAB = "jupyterlab==4.6.6"
STUDENT_INSTALLER = Path(__file__).with_name("student_install.py")


def student_requirements(unit: Unit, files: dict[str, bytes]) -> dict[str, str]:
    """requirements.txt (what the notebook and the public checks import, Otter's runtime,
    Jupyter), requirements-linux-cpu.txt (the same with torch's CPU build) and
    requirements-otter.txt (installed with --no-deps)."""
    modules = set()
    for path, data in files.items():
        if path.endswith(".ipynb"):
            sources = [_cell_source(c) for c in json.loads(data).get("cells", []) if c.get("cell_type") == "code"]
        elif path.endswith(".py") and not path.startswith("tests/") and path != "install.py":
            sources = [data.decode()]
        else:
            continue
        for source in sources:
            try:
                tree = ast.parse(source)
            except SyntaxError:  # IPython syntax: its imports are not needed to find the packages
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    modules.add(node.module.split(".")[0])
    providers = metadata.packages_distributions()
    local = {Path(p).stem for p in files if p.endswith(".py")}
    dists = set(OTTER_RUNTIME) | set(NOTEBOOK_APPS)
    for module in sorted(modules - local - set(sys.stdlib_module_names) - {"otter"}):
        if module not in providers:
            raise BuildError(f"the student bundle imports '{module}', which is not installed in .venv")
        dists.update(providers[module])
    dists -= set(OTTER_NO_DEPS)

    def pin(dist):
        return f"{metadata.distribution(dist).metadata['Name']}=={_installed_version(dist).split('+')[0]}"

    pins = sorted([pin(d) for d in dists] + [JUPYTERLAB], key=str.lower)
    torch_pin = next((p for p in pins if p.lower().startswith("torch==")), None)
    main = "\n".join([
        f"# What the '{unit.name}' notebook needs (generated by `python -m autograder build`).",
        "# `python install.py` installs it (see README.md); by hand, in a Python 3.11+ environment:",
        "#   pip install -r requirements.txt                (macOS on Apple Silicon, Windows)",
        "#   pip install -r requirements-linux-cpu.txt      (Linux: torch's CPU build)",
        "#   pip install --no-deps -r requirements-otter.txt",
        *pins,
    ]) + "\n"
    linux = [
        "# Linux: requirements.txt with torch's CPU build from PyTorch's CPU index (PyPI's Linux",
        "# torch is the multi-GB CUDA build).  pip install -r requirements-linux-cpu.txt",
    ]
    if torch_pin:
        linux += [f"--extra-index-url {TORCH_INDEX}", f"{torch_pin}+cpu"]
    linux.append("-r requirements.txt")
    otter = [
        "# Otter's notebook API (grader.check, grader.export), without the dependencies it needs",
        "# only for instructors; what it does need is in requirements.txt.",
        "#   pip install --no-deps -r requirements-otter.txt",
        *sorted(pin(d) for d in OTTER_NO_DEPS),
    ]
    return {"requirements.txt": main, "requirements-linux-cpu.txt": "\n".join(linux) + "\n",
            "requirements-otter.txt": "\n".join(otter) + "\n"}


def student_readme(unit: Unit, files: dict[str, bytes]) -> str:
    """README.md of the bundle: set-up, Jupyter, the checks, submitting, what is graded."""
    notebook = f"{unit.name}.ipynb"
    uses_torch = any(line.startswith("torch==") for line in files["requirements.txt"].decode().splitlines())
    torch_build = "the CPU build of torch, " if uses_torch else ""
    linux_note = ("On Linux, plain `pip install -r requirements.txt` would download torch's multi-GB CUDA build.\n\n"
                  if uses_torch else "")
    unserved = f"""**Machines torch 2.13.0 cannot serve:** Intel Macs, macOS 13 or earlier on Apple Silicon, and
Windows on ARM have no torch 2.13.0 build (`install.py` says so and stops). Work in a hosted
notebook instead (Google Colab, or your course's JupyterHub): upload this folder, run
`%pip install -r requirements.txt` and `%pip install --no-deps -r requirements-otter.txt` in a
cell, restart the runtime, and open `{notebook}` there.""" if uses_torch else (
        "This notebook uses NumPy, not torch: every platform with Python 3.11+ can run it.")
    return f"""# {unit.name}: the assignment notebook

You need **Python {PYTHON_VERSION} or later** and an internet connection for
the first set-up. Nothing else: no GPU, no conda.

## 1. Set up (once)

In a terminal, in this folder:

| system | command |
|---|---|
| Linux, macOS | `python3 install.py` |
| Windows | `py install.py` |

`install.py` creates a virtual environment in `.venv/` here (or uses the one you are in, if
you activated one) and installs into it the exact versions this notebook is checked with: {torch_build}JupyterLab and its Python kernel, and the part of Otter that runs the
checks. It takes a few minutes and about 1 GB.

What it runs, if you prefer to do it yourself (in a Python {PYTHON_VERSION}+ environment):

| system | torch build | commands |
|---|---|---|
| Linux (x86_64, ARM) | CPU, from PyTorch's CPU index | `pip install -r requirements-linux-cpu.txt` then `pip install --no-deps -r requirements-otter.txt` |
| macOS 14+ on Apple Silicon | PyPI's (CPU and Apple GPU) | `pip install -r requirements.txt` then `pip install --no-deps -r requirements-otter.txt` |
| Windows (x86_64) | PyPI's (CPU) | `pip install -r requirements.txt` then `pip install --no-deps -r requirements-otter.txt` |

{linux_note}{unserved}

## 2. Start Jupyter

| system | command |
|---|---|
| Linux, macOS | `.venv/bin/jupyter lab {notebook}` |
| Windows | `.venv\\Scripts\\jupyter lab {notebook}` |

(`jupyter lab {notebook}` if you installed into an environment you activated.) The notebook
opens in your browser with the kernel "Python 3". Run the first code cell first.

## 3. Work, and check your work

Write each function where the notebook says `# YOUR CODE HERE`, run its cell, then its
`grader.check("...")` cell. The checks are **public and reference-free**: worked examples from
the notebook and properties every correct answer has (e.g. "rows sum to 1"), tried on many small
inputs; a failure shows an input on which your code is wrong. They also report a call the
question does not allow, exactly as the autograder does. Passing them is necessary, not
sufficient: the autograder compares your code with a reference solution on many more inputs.
*Kernel -> Restart Kernel and Run All Cells* runs the whole notebook; cells that use a function
you have not written yet say so in one line instead of failing.

## 4. Submit

Run the last cell, `grader.export(pdf=False)`: it saves a zip file next to the notebook. Upload
that zip (or `{notebook}` itself) to Gradescope. Your functions are found by name: keep the
names and signatures as given.

## What is graded

{statements.graded_table(unit)}

{statements.banned_sentence(unit)}

## Files

- `{notebook}`: the notebook you work in.
- `{unit.public_module}.py`{", `_public_kit.py`" if "_public_kit.py" in files else ""}, `tests/`: the public checks `grader.check` runs.
- `install.py`, `requirements*.txt`: the set-up above.
"""


def _cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


# --------------------------------------------------------------------------- leak check


def secret_fragments(source: str, min_code: int = MIN_CODE, min_comment: int = MIN_COMMENT,
                     api_constants: bool = False) -> list[tuple[int, str]]:
    """(line, text) of the code lines and comments of `source` that must stay hidden.

    Docstrings, `def`/`class` headers (the signatures are public), imports and short lines
    are left out; whitespace is collapsed. With `api_constants` (a reference), so are its
    module-level assignments to public UPPER_CASE names: constants the API fixes and the
    notebook states (the tokenizer's pre-tokenization PATTERN), not solution code.
    """
    tree = ast.parse(source)
    public_lines: set[int] = set()
    if api_constants:
        for node in tree.body:
            if isinstance(node, ast.Assign) and all(
                    isinstance(t, ast.Name) and t.id.isupper() and not t.id.startswith("_") for t in node.targets):
                public_lines.update(range(node.lineno, node.end_lineno + 1))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                public_lines.update(range(body[0].lineno, body[0].end_lineno + 1))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            public_lines.update(range(start, node.body[0].lineno))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            public_lines.update(range(node.lineno, node.end_lineno + 1))
    comments = {tok.start[0]: (tok.start[1], tok.string)
                for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.COMMENT}
    fragments = []
    for number, line in enumerate(source.splitlines(), 1):
        comment = comments.get(number)
        code = " ".join((line[:comment[0]] if comment else line).split())
        if number not in public_lines and len(code) >= min_code and "NotImplementedError" not in code:
            fragments.append((number, code))
        if comment:
            text = " ".join(comment[1].lstrip("#").split())
            if sum(c.isalnum() for c in text) >= min_comment:  # prose, not a ruler of dashes
                fragments.append((number, text))
    return fragments


def _windows(fragments: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Pairs of fragments on consecutive lines, joined: a spec leaks by two lines in a row."""
    return [(a, f"{x} {y}") for (a, x), (b, y) in zip(fragments, fragments[1:]) if b == a + 1]


def check_no_leaks(unit: Unit, files: dict[str, bytes], project: Path) -> None:
    """Raise BuildError if any shipped file holds reference code or hidden-check code.

    Leaks: a code line or comment of the reference (docstrings, signatures and imports are
    public), or two consecutive code lines of the unit's spec (its hidden checks).
    """
    reference = project / "solutions" / f"{unit.name}.py"
    spec = project / "autograder" / "units" / f"{unit.name}.py"
    secrets = []
    for path in (reference, spec):
        if not path.is_file():
            raise BuildError(f"missing {_shown(path)}")
        fragments = secret_fragments(path.read_text(), api_constants=path == reference)
        # any line of the reference is its solution; the spec's lines can be as generic as a
        # hypothesis strategy the public checks share, so two lines in a row count there
        secrets += [(path, number, text) for number, text in
                    (fragments if path == reference else _windows(fragments))]
    problems = []
    for name, data in sorted(files.items()):
        text = " ".join(_shipped_text(name, data).split())
        for path, number, fragment in secrets:
            if fragment in text:
                problems.append(f"  {name} contains line {number} of {_shown(path)}: {fragment}")
    if problems:
        raise BuildError("the student bundle would leak hidden code:\n" + "\n".join(problems))


def _shipped_text(name: str, data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    if not name.endswith(".ipynb"):
        return text
    try:
        cells = json.loads(text).get("cells", [])
    except ValueError:
        return text
    parts = [text]
    for cell in cells:
        parts.append(_cell_source(cell))
        for output in cell.get("outputs", []) or []:
            for value in [output.get("text", "")] + list((output.get("data") or {}).values()):
                parts.append("".join(value) if isinstance(value, list) else str(value))
    return "\n".join(parts)


# --------------------------------------------------------------------------- zips


def write_zip(path: Path, entries: dict[str, bytes], executable: set[str] = frozenset()) -> None:
    """A reproducible zip: sorted entries, a fixed date, fixed permissions, fixed compression."""
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the permissions below are honoured
            info.external_attr = (0o100755 if name in executable else 0o100644) << 16
            archive.writestr(info, entries[name], compresslevel=9)
    os.replace(tmp, path)


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
