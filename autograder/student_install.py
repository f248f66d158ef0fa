"""Set up this assignment's Python environment: `python install.py` (shipped as install.py).

One command on Linux, macOS (Apple Silicon) and Windows. Outside a virtual environment it
creates one in `.venv` beside this file and installs into it; inside one (venv or conda) it
installs there. It installs the pinned packages of requirements.txt (on Linux, those of
requirements-linux-cpu.txt: torch's CPU build from PyTorch's CPU index instead of the
multi-GB CUDA build), then Otter without its dependencies (requirements-otter.txt): the
notebook needs only Otter's `grader.check` and `grader.export`, whose dependencies are in
requirements.txt; Otter's own (Playwright, Docker bindings, ...) are for instructors.

Standard library only: it runs before anything is installed.
"""

import os
import platform
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
MIN_PYTHON = (3, 11)
HOSTED = ("Use a hosted notebook instead (Google Colab, or your course's JupyterHub): upload this "
          "folder, then run  %pip install -r requirements.txt  and  "
          "%pip install --no-deps -r requirements-otter.txt  in a cell, and open the notebook there.")


def unsupported() -> str:
    """Why torch 2.13.0 has no wheel for this machine, or "" if it has one."""
    machine = platform.machine().lower()
    if sys.platform == "darwin":
        if machine in ("x86_64", "i386"):
            return "torch 2.13.0 has no build for Intel Macs."
        major = int((platform.mac_ver()[0] or "0").split(".")[0])
        if major and major < 14:
            return f"torch 2.13.0 needs macOS 14 or later on Apple Silicon (this is macOS {platform.mac_ver()[0]})."
    if sys.platform == "win32" and machine in ("arm64", "aarch64"):
        return "torch 2.13.0 has no build for Windows on ARM."
    return ""


def needs_torch() -> bool:
    requirements = HERE / "requirements.txt"
    return requirements.is_file() and any(
        line.strip().lower().startswith("torch==") for line in requirements.read_text().splitlines())


def in_virtual_env() -> bool:
    return sys.prefix != sys.base_prefix or bool(os.environ.get("CONDA_PREFIX"))


def venv_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def pip(python: Path, *args: str) -> None:
    command = [str(python), "-m", "pip", "install", *args]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, cwd=HERE, check=True)


def main() -> int:
    if sys.version_info < MIN_PYTHON:
        print(f"Python {'.'.join(map(str, MIN_PYTHON))} or later is needed; this is {platform.python_version()}. "
              "Install it from python.org (or with your package manager), then run this again with it, "
              "e.g.  python3.11 install.py  (Windows:  py -3.11 install.py).", file=sys.stderr)
        return 1
    why = unsupported() if needs_torch() else ""
    if why:
        print(f"{why}\n{HOSTED}", file=sys.stderr)
        return 1
    if in_virtual_env():
        python, where = Path(sys.executable), sys.prefix
    else:
        folder = HERE / ".venv"
        if not venv_python(folder).exists():
            print(f"creating a virtual environment in {folder}", flush=True)
            venv.create(folder, with_pip=True)
        python, where = venv_python(folder), str(folder)
    requirements = "requirements-linux-cpu.txt" if sys.platform.startswith("linux") else "requirements.txt"
    try:
        pip(python, "-r", requirements)
        pip(python, "--no-deps", "-r", "requirements-otter.txt")
    except subprocess.CalledProcessError as exc:
        print(f"pip failed (exit status {exc.returncode}); see its message above.", file=sys.stderr)
        return 1
    notebook = next(HERE.glob("*.ipynb")).name
    jupyter = Path(where) / ("Scripts" if sys.platform == "win32" else "bin") / "jupyter"
    print(f"\nDone. Start Jupyter with\n    {jupyter} lab {notebook}\n"
          "and choose the kernel 'Python 3' if it asks.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
