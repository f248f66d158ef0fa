"""`make bench`: what grading one submission costs, against stock `otter run`, as medians.

Measured in one run, on the same submission (the softmax reference notebook):
  * our CLI (`python -m autograder grade`): wall time and peak memory (PSS) of the process tree;
  * `otter run` against a plain Otter zip of the same unit (hidden tests executed in the
    student's own kernel, as stock Otter does): the same two figures, and the ratio;
  * the built Gradescope zip run in a simulated /autograder tree: peak memory against
    Gradescope's default 768 MB.
And for the gpt unit (`gpt_bench`): the reference's `train_sorter()` (CPU and wall time, and
its accuracy on fresh sequences, on one thread as in the sandbox), and grading one full gpt
submission (the reference, training included) with our CLI: wall time and peak memory.

Usage: python -m autograder.bench [--runs N] [--gpt-runs N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

# Stock Otter's equivalent of our hidden checks: fixed random inputs compared in the kernel.
PLAIN_TEST = '''\
OK_FORMAT = False
from otter.test_files import test_case
name = {name!r}
points = {points}

@test_case(points={points})
def test_{name}({name}):
    import torch
    import softmax_reference as ref
    for seed in range(50):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(3, 5, generator=g, dtype=torch.float64) * 10
        mask = torch.rand(3, 5, generator=g) > 0.3
        n = int(torch.randint(1, 6, (1,), generator=g))
        calls = {{
            "softmax": ((x,), {{"dim": -1}}), "log_softmax": ((x,), {{"dim": 0}}),
            "masked_softmax": ((x, mask), {{}}), "causal_mask": ((n, n + 1), {{}}),
            "padding_mask": ((torch.tensor([0, n]), 6), {{}}),
        }}
        args, kwargs = calls[{name!r}]
        torch.testing.assert_close({name}(*args, **kwargs), getattr(ref, {name!r})(*args, **kwargs))
'''


def peak_memory(command: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """Run `command`; return (wall seconds, peak summed PSS of its process tree in MB).

    PSS (proportional set size) splits pages shared between processes (torch's libraries,
    mapped by the grader and the worker alike) among them, so the sum is what the machine
    (or Gradescope's container limit) actually holds; summed RSS would count them twice.
    """
    start = time.perf_counter()
    process = psutil.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            total = 0
            try:
                for p in [process, *process.children(recursive=True)]:
                    try:
                        total += p.memory_full_info().pss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            peak = max(peak, total)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    code = process.wait()
    done.set()
    sampler.join()
    if code != 0:
        raise RuntimeError(f"{command[:4]} exited with {code}")
    return time.perf_counter() - start, peak / 2**20


def reference_notebook(directory: Path) -> Path:
    """The stub notebook with the reference's code in a cell after the imports."""
    import nbformat

    nb = nbformat.read(ROOT / "assignments" / "softmax" / "softmax.ipynb", as_version=4)
    code = (ROOT / "solutions" / "softmax.py").read_text()
    nb.cells.append(nbformat.v4.new_code_cell(code))
    path = directory / "softmax.ipynb"
    nbformat.write(nb, path)
    return path


def plain_otter_zip(directory: Path) -> Path:
    from . import units

    unit = units.load("softmax")
    tests = directory / "plain-tests"
    tests.mkdir()
    for q in unit.questions:
        (tests / f"{q.name}.py").write_text(PLAIN_TEST.format(name=q.name, points=q.points))
    shutil.copy(ROOT / "solutions" / "softmax.py", directory / "softmax_reference.py")
    out = directory / "plain-autograder.zip"
    subprocess.run([PY, "-m", "otter", "generate", "-t", str(tests), "-o", str(out), "--no-requirements",
                    "--no-environment", str(directory / "softmax_reference.py")],
                   cwd=directory, check=True, stdout=subprocess.DEVNULL)
    return out


def simulated_gradescope(directory: Path, submission: Path) -> list[str]:
    """A fresh /autograder tree with the built zip; returns the command Gradescope would run."""
    tree = Path(tempfile.mkdtemp(dir=directory)) / "autograder"
    for sub in ("source", "submission", "results"):
        (tree / sub).mkdir(parents=True)
    with zipfile.ZipFile(ROOT / "gradescope" / "dist" / "softmax" / "autograder.zip") as z:
        z.extractall(tree / "source")
    shutil.copy(submission, tree / "submission")
    (tree / "submission_metadata.json").write_text(json.dumps({"users": [], "id": 1}))
    return [PY, str(tree / "source" / "run_otter.py")]


# One training run of the gpt reference, in a fresh interpreter on one thread (as in the sandbox).
_TRAIN_ONCE = """
import json, sys, time, torch
torch.set_num_threads(1)
from autograder import units
from autograder.units import gpt, gpt_public as task
ref = units.reference("gpt")
ref.sort_batch, ref.SORT_CONFIG = task.sort_batch, ref.GPTConfig(**task.SORT_SIZES)
cpu, wall = time.process_time(), time.perf_counter()
model, losses = ref.train_sorter(seed=int(sys.argv[1]))
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
print(json.dumps([cpu, wall, gpt.judge_training(None, (dict(model.state_dict()), losses))[1]]))
"""


def gpt_notebook(directory: Path) -> Path:
    """The gpt stub notebook with the reference's code (and the task's model) in a last cell."""
    import nbformat

    nb = nbformat.read(ROOT / "assignments" / "gpt" / "gpt.ipynb", as_version=4)
    code = (ROOT / "solutions" / "gpt.py").read_text() + "\n\nSORT_CONFIG = GPTConfig(**SORT_SIZES)\n"
    nb.cells.append(nbformat.v4.new_code_cell(code))
    path = directory / "gpt.ipynb"
    nbformat.write(nb, path)
    return path


def gpt_bench(work: Path, runs: int) -> None:
    """The gpt unit: reference training time to >= 99% (median of `runs`), and grading one full
    submission (the reference notebook, training included): wall time and peak memory."""
    trained = []
    for seed in range(runs):
        out = subprocess.run([PY, "-c", _TRAIN_ONCE, str(seed)], cwd=ROOT, check=True, capture_output=True, text=True)
        trained.append(json.loads(out.stdout.strip().splitlines()[-1]))
    submission = gpt_notebook(work)
    wall, peak = median_of(runs, lambda: ([PY, "-m", "autograder", "grade", "gpt", str(submission),
                                           "--out", str(work / "gpt-out"), "--quiet"], ROOT))
    print(f"\ngpt: the reference's train_sorter(), median of {runs} runs (seeds 0..{runs - 1}), one thread:")
    print(f"  CPU {statistics.median(t[0] for t in trained):.1f} s, wall {statistics.median(t[1] for t in trained):.1f} s")
    for cpu, wall_s, verdict in trained:
        print(f"  - {cpu:.1f} s CPU: {verdict.split(' (loaded')[0]}")
    print(f"gpt: grading one full submission (the reference, training included), median of {runs} runs:")
    print(f"  wall {wall:.1f} s, peak PSS {peak:.0f} MB of Gradescope's default 768 MB")


def median_of(runs: int, make_command) -> tuple[float, float]:
    walls, peaks = [], []
    for _ in range(runs):
        command, cwd = make_command()
        wall, peak = peak_memory(command, cwd)
        walls.append(wall)
        peaks.append(peak)
    return statistics.median(walls), statistics.median(peaks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (default 5)")
    parser.add_argument("--gpt-runs", type=int, default=3, help="runs of the gpt measurements (default 3; "
                        "0 skips them: each grades with a full training run)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        submission = reference_notebook(work)
        plain = plain_otter_zip(work)
        ours = median_of(args.runs, lambda: ([PY, "-m", "autograder", "grade", "softmax", str(submission),
                                              "--out", str(work / "out"), "--quiet"], ROOT))
        otter = median_of(args.runs, lambda: ([PY, "-m", "otter", "run", "-a", str(plain), "-o",
                                               str(work), "--no-logo", str(submission)], work))
        gradescope = median_of(args.runs, lambda: (simulated_gradescope(work, submission), None))
    rows = [("our CLI (python -m autograder grade)", *ours),
            ("otter run, plain Otter zip", *otter),
            ("simulated Gradescope tree (built zip)", *gradescope)]
    print(f"Grading one softmax submission (the reference), median of {args.runs} runs:\n")
    print(f"| {'what':<40} | wall (s) | peak PSS (MB) |")
    print(f"|{'-' * 42}|----------|---------------|")
    for name, wall, peak in rows:
        print(f"| {name:<40} | {wall:8.2f} | {peak:13.0f} |")
    print(textwrap.dedent(f"""
        our CLI / otter run, wall time: {ours[0] / otter[0]:.2f}x
        Gradescope tree peak memory (PSS): {gradescope[1]:.0f} MB of Gradescope's default 768 MB"""))
    if args.gpt_runs:
        with tempfile.TemporaryDirectory() as tmp:
            gpt_bench(Path(tmp), args.gpt_runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
