"""`make bench`: what grading one submission costs, against stock `otter run`, as medians.

Measured in one run, on the same submission (the softmax reference notebook):
  * our CLI (`python -m autograder grade`): wall time and peak memory (PSS) of the process tree;
  * `otter run` against a plain Otter zip of the same unit (hidden tests executed in the
    student's own kernel, as stock Otter does): the same two figures, and the ratio;
  * the built Gradescope zip run in a simulated /autograder tree: peak memory against
    Gradescope's default 768 MB;
  * the mutation audit of each unit (`python -m autograder audit UNIT`): wall and CPU time;
  * the gpt unit (`gpt_bench`): the reference's `train_sorter()` (CPU and wall time, and
    its accuracy on fresh sequences, on one thread as in the sandbox), and grading one full gpt
    submission (the reference, training included) with our CLI: wall time and peak memory.

Then, for every other unit (or those named with --units), its reference notebook graded by
the CLI and by the built zip in a simulated Gradescope tree: median wall time and peak PSS.
Run `make build` first (`make bench` does): the trees use gradescope/dist/<unit>/.

Usage: python -m autograder.bench [--runs N] [--units U ...] [--no-audit] [--gpt-runs N]
       python -m autograder.bench --class [--submissions 100] [--otter 10]   (class scale)
       python -m autograder.bench --gradescope [--units U ...] [--gradescope-runs N]
           (every unit's reference under Gradescope's limits, beside stock `otter run`)
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


def _run_sampled(command: list[str], cwd: Path | None, sample, interval: float) -> float:
    """Run `command`, calling `sample(process)` every `interval` s while it runs; its wall seconds."""
    start = time.perf_counter()
    process = psutil.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = threading.Event()

    def sampling() -> None:
        while not done.is_set():
            sample(process)
            time.sleep(interval)

    sampler = threading.Thread(target=sampling)
    sampler.start()
    code = process.wait()
    done.set()
    sampler.join()
    if code != 0:
        raise RuntimeError(f"{command[:4]} exited with {code}")
    return time.perf_counter() - start


def peak_memory(command: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """Run `command`; return (wall seconds, peak summed PSS of its process tree in MB).

    PSS (proportional set size) splits pages shared between processes (torch's libraries,
    mapped by the grader and the worker alike) among them, so the sum is what the machine
    (or Gradescope's container limit) actually holds; summed RSS would count them twice.
    """
    peak = 0

    def sample(process: psutil.Popen) -> None:
        nonlocal peak
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

    seconds = _run_sampled(command, cwd, sample, 0.05)
    return seconds, peak / 2**20


def reference_notebook(directory: Path, unit: str = "softmax") -> Path:
    """The stub completed with the reference's code, as a student would hand it in (its
    functions in their cells, so Otter's in-notebook checks see them too)."""
    import nbformat

    from .corpus import UnitFiles

    path = directory / unit / f"{unit}.ipynb"
    path.parent.mkdir(exist_ok=True)
    nbformat.write(UnitFiles(unit).reference_notebook(), path)
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


def simulated_gradescope(directory: Path, submission: Path, unit: str = "softmax") -> list[str]:
    """A fresh /autograder tree with the built zip; returns the command Gradescope would run."""
    tree = Path(tempfile.mkdtemp(dir=directory)) / "autograder"
    for sub in ("source", "submission", "results"):
        (tree / sub).mkdir(parents=True)
    with zipfile.ZipFile(ROOT / "gradescope" / "dist" / unit / "autograder.zip") as z:
        z.extractall(tree / "source")
    shutil.copy(submission, tree / "submission")
    (tree / "submission_metadata.json").write_text(json.dumps({"users": [], "id": 1}))
    return [PY, str(tree / "source" / "run_otter.py")]


# One training run of the gpt reference, in a fresh interpreter on one thread (as in the sandbox).
_TRAIN_ONCE = """
import json, sys, time, torch
torch.set_num_threads(1)
from autograder import units
from autograder.units import gpt
task = units.public_checks("gpt")
ref = units.reference("gpt")
ref.sort_batch, ref.sort_sizes = task.sort_batch, task.sort_sizes
cpu, wall = time.process_time(), time.perf_counter()
model, losses = ref.train_sorter(seed=int(sys.argv[1]))
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
print(json.dumps([cpu, wall, gpt.judge_training(None, (dict(model.state_dict()), losses))[1]]))
"""


def gpt_bench(work: Path, runs: int) -> None:
    """The gpt unit: reference training time to >= 99% (median of `runs`), and grading one full
    submission (the reference notebook, training included): wall time and peak memory."""
    trained = []
    for seed in range(runs):
        out = subprocess.run([PY, "-c", _TRAIN_ONCE, str(seed)], cwd=ROOT, check=True, capture_output=True, text=True)
        trained.append(json.loads(out.stdout.strip().splitlines()[-1]))
    submission = reference_notebook(work, "gpt")
    wall, peak = median_of(runs, lambda: ([PY, "-m", "autograder", "grade", "gpt", str(submission),
                                           "--out", str(work / "gpt-out"), "--quiet", "--force"], ROOT))
    print(f"\ngpt: the reference's train_sorter(), median of {runs} runs (seeds 0..{runs - 1}), one thread:")
    print(f"  CPU {statistics.median(t[0] for t in trained):.1f} s, wall {statistics.median(t[1] for t in trained):.1f} s")
    for cpu, wall_s, verdict in trained:
        print(f"  - {cpu:.1f} s CPU: {verdict.split(' (loaded')[0]}")
    print(f"gpt: grading one full submission (the reference, training included), median of {runs} runs:")
    print(f"  wall {wall:.1f} s, peak PSS {peak:.0f} MB of Gradescope's default 768 MB")


def median_of(runs: int, make_command) -> tuple[float, float]:
    """Medians of (wall, peak PSS) over `runs` runs. Our CLI is run with --force: it resumes,
    so without it every run after the first would find the submission graded and do nothing."""
    walls, peaks = [], []
    for _ in range(runs):
        command, cwd = make_command()
        wall, peak = peak_memory(command, cwd)
        walls.append(wall)
        peaks.append(peak)
    return statistics.median(walls), statistics.median(peaks)


def unit_rows(work: Path, runs: int, names: list[str]) -> list[tuple[str, float, float, float, float]]:
    """(unit, CLI wall, CLI peak PSS, Gradescope tree wall, tree peak PSS) per unit, medians."""
    rows = []
    for unit in names:
        submission = reference_notebook(work, unit)
        cli = median_of(runs, lambda: ([PY, "-m", "autograder", "grade", unit, str(submission),
                                        "--out", str(work / unit / "out"), "--quiet", "--force"], ROOT))
        tree = median_of(runs, lambda: (simulated_gradescope(work, submission, unit), None))
        rows.append((unit, *cli, *tree))
    return rows


def audit_times(directory: Path) -> list[tuple[str, float, float, str]]:
    """`python -m autograder audit UNIT` once per unit, with its defaults (cap, battery, 2 jobs):
    (unit, wall seconds, CPU seconds of the whole process tree, its summary line)."""
    import resource

    from . import units

    rows = []
    for name in units.names():
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run([PY, "-m", "autograder", "audit", name, "--out", str(directory / "audit")],
                              cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        summary = (done.stdout.strip().splitlines() or [done.stderr.strip()[-200:]])[0]
        rows.append((name, wall, cpu, summary.split(" -> ")[0]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (default 5)")
    parser.add_argument("--units", nargs="*", metavar="U",
                        help="units to measure besides softmax (default: every other unit but gpt)")
    parser.add_argument("--no-audit", action="store_true", help="skip timing `audit` per unit (minutes)")
    parser.add_argument("--class", dest="class_scale", action="store_true",
                        help="instead: grade a class of --submissions with --jobs 1 and 2, and "
                             "`otter run` on --otter of them")
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--otter", type=int, default=10)
    parser.add_argument("--gpt-runs", type=int, default=3, help="runs of the gpt measurements (default 3; "
                        "0 skips them: each grades with a full training run)")
    parser.add_argument("--gradescope", action="store_true",
                        help="instead: every unit's (or --units') reference under Gradescope's limits, beside "
                             "stock `otter run` (needs root, cgroup v1 and capsh)")
    parser.add_argument("--gradescope-runs", type=int, default=3, help="runs per unit with --gradescope (default 3)")
    args = parser.parse_args(argv)
    if args.class_scale:
        return class_bench(args.submissions, args.otter)
    if args.gradescope:
        from . import units

        return gradescope_bench(args.gradescope_runs, args.units or units.names())
    from . import units

    # gpt is measured by gpt_bench: its reference notebook trains a model (a minute per run)
    others = [u for u in units.names() if u not in ("softmax", "gpt")] if args.units is None else args.units
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        submission = reference_notebook(work)
        plain = plain_otter_zip(work)
        ours = median_of(args.runs, lambda: ([PY, "-m", "autograder", "grade", "softmax", str(submission),
                                              "--out", str(work / "out"), "--quiet", "--force"], ROOT))
        otter = median_of(args.runs, lambda: ([PY, "-m", "otter", "run", "-a", str(plain), "-o",
                                               str(work), "--no-logo", str(submission)], work))
        gradescope = median_of(args.runs, lambda: (simulated_gradescope(work, submission), None))
        per_unit = unit_rows(work, args.runs, others)
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
    if per_unit:
        print(f"\nEvery other unit's reference notebook, median of {args.runs} runs:\n")
        print("| unit       | CLI wall (s) | CLI peak PSS (MB) | Gradescope wall (s) | Gradescope peak PSS (MB) |")
        print("|------------|--------------|-------------------|---------------------|--------------------------|")
        for unit, cli_wall, cli_peak, tree_wall, tree_peak in per_unit:
            print(f"| {unit:<10} | {cli_wall:12.2f} | {cli_peak:17.0f} | {tree_wall:19.2f} | {tree_peak:24.0f} |")
    if not args.no_audit:
        with tempfile.TemporaryDirectory() as tmp:
            audits = audit_times(Path(tmp))
        print("\nMutation audit per unit (python -m autograder audit UNIT, default cap and battery, 2 jobs):\n")
        print(f"| {'unit':<12} | wall (s) | CPU (s) | result |")
        print(f"|{'-' * 14}|----------|---------|--------|")
        for name, wall, cpu, summary in audits:
            print(f"| {name:<12} | {wall:8.1f} | {cpu:7.1f} | {summary} |")
    if args.gpt_runs:
        with tempfile.TemporaryDirectory() as tmp:
            gpt_bench(Path(tmp), args.gpt_runs)
    return 0



# --------------------------------------------------------------------------- Gradescope's limits

GRADESCOPE_USAGE = "python -m autograder.bench --gradescope [--units U ...] [--gradescope-runs 3]"


# A conventional Otter gpt assignment: each question's test compares the student's code with
# the reference in the student's own kernel, and train_sorter's trains the model there, with the
# same budget and bar as ours (one training run, judged on 2000 fresh sequences in the
# reference architecture), so that its time compares like with like.
GPT_STOCK_TEST = '''\
OK_FORMAT = False
from otter.test_files import test_case
name = {name!r}
points = {points}

@test_case(points={points})
def test_{name}({args}):
    import torch
    import gpt_reference as ref
    sizes = dict(vocab_size=10, n_ctx=11, d_model=48, n_heads=3, n_layers=2)
{body}
'''
GPT_STOCK_BODIES = {
    "layer_norm": ("layer_norm", """
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        x, w, b = (torch.randn(*shape, generator=g) for shape in ((4, 8), (8,), (8,)))
        torch.testing.assert_close(layer_norm(x, w, b), ref.layer_norm(x, w, b))"""),
    "gelu": ("gelu", """
    for seed in range(20):
        x = torch.randn(4, 8, generator=torch.Generator().manual_seed(seed)) * 3
        torch.testing.assert_close(gelu(x), ref.gelu(x))"""),
    "cross_entropy": ("cross_entropy", """
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        logits, targets = torch.randn(4, 5, 7, generator=g), torch.randint(7, (4, 5), generator=g)
        targets[:, :2] = -100
        torch.testing.assert_close(cross_entropy(logits, targets), ref.cross_entropy(logits, targets))"""),
    "GPT": ("GPT, GPTConfig", """
    for seed in range(5):
        torch.manual_seed(seed)
        theirs, ours = GPT(GPTConfig(**sizes)), ref.GPT(ref.GPTConfig(**sizes))
        ours.load_state_dict(theirs.state_dict())
        idx = torch.randint(10, (3, 11), generator=torch.Generator().manual_seed(seed))
        torch.testing.assert_close(theirs(idx), ours(idx))"""),
    "generate": ("generate", """
    for seed in range(5):
        torch.manual_seed(seed)
        model = ref.GPT(ref.GPTConfig(**sizes)).eval()
        idx = torch.randint(10, (3, 4), generator=torch.Generator().manual_seed(seed))
        assert torch.equal(generate(model, idx, 6), ref.generate(model, idx, 6))"""),
    "train_sorter": ("train_sorter", """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as our worker trains
    try:
        trained, losses = train_sorter(length=6, digits=10)
    finally:
        torch.set_num_threads(threads)
    model = ref.GPT(ref.GPTConfig(**sizes))
    model.load_state_dict(trained.state_dict())
    model.eval()
    digits = torch.randint(10, (2000, 6), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = ref.generate(model, digits, 6)[:, 6:]
    assert (out == digits.sort(dim=1).values).all(dim=1).float().mean().item() >= 0.99"""),
}


# A conventional Otter tokenizer assignment: each function compared with the reference in the
# kernel on fixed inputs, and train_bpe also trained on the same 1 MB text as our timed check,
# against the reference's merges computed when the zip is built (as ours are), so that its time
# compares like with like.
TOKENIZER_STOCK_TEST = '''\
OK_FORMAT = False
from otter.test_files import test_case
name = {name!r}
points = {points}

@test_case(points={points})
def test_{name}({args}):
    import json
    import random
    import tokenizer_reference as ref
    texts = ["aaabdaaabac", "hello world, hello there! don't stop", "ab ab ab <|endoftext|> ab",
             "naïve café 日本 😀 123 456"]
    rng = random.Random(0)
    texts += ["".join(rng.choice("ab c\\nd'é") for _ in range(rng.randint(0, 60))) for _ in range(16)]
{body}
'''
TOKENIZER_STOCK_BODIES = {
    "merge": ("merge", """
    for seed in range(20):
        ids = [random.Random(seed).randint(0, 3) for _ in range(30)]
        assert merge(ids, (1, 2), 256) == ref.merge(ids, (1, 2), 256)"""),
    "train_bpe": ("train_bpe", """
    for text in texts:
        assert train_bpe(text, 270, ["<|endoftext|>"]) == ref.train_bpe(text, 270, ["<|endoftext|>"])
    with open("tokenizer_big.json") as f:
        big = json.load(f)
    merges, vocab = train_bpe(big["text"], big["vocab_size"], big["special_tokens"])
    assert [list(m) for m in merges] == big["merges"]"""),
    "encode": ("encode", """
    for text in texts:
        merges, _ = ref.train_bpe(text + " abc abc", 280, ["<|endoftext|>"])
        assert encode(text, merges, ["<|endoftext|>"]) == ref.encode(text, merges, ["<|endoftext|>"])"""),
    "decode": ("decode", """
    for text in texts:
        merges, vocab = ref.train_bpe(text + " abc abc", 280, ["<|endoftext|>"])
        ids = ref.encode(text, merges, ["<|endoftext|>"])
        assert decode(ids, vocab) == ref.decode(ids, vocab) == text"""),
}


def tokenizer_big_file(directory: Path) -> Path:
    """The 1 MB training text of tokenizer's timed check, with the reference's merges on it."""
    from .units import tokenizer as spec

    text, vocab_size, special = spec.big_call().args
    merges, _ = spec.BIG_EXPECTED()  # what our grader ships in its zip
    path = directory / "tokenizer_big.json"
    path.write_text(json.dumps({"text": text, "vocab_size": vocab_size, "special_tokens": list(special),
                                "merges": [list(m) for m in merges]}))
    return path


def conventional_otter_zip(directory: Path, unit: str, template: str, bodies: dict, extra: list[Path] = ()) -> Path:
    """A conventional Otter assignment for `unit` (a test file per question from `template` and
    `bodies`, the reference shipped as <unit>_reference.py, and `extra` files), built with
    `otter generate`."""
    from . import units

    tests = directory / f"{unit}-stock-tests"
    tests.mkdir()
    for q in units.load(unit).questions:
        args, body = bodies[q.name]
        (tests / f"{q.name}.py").write_text(template.format(name=q.name, points=q.points, args=args,
                                                            body=body.lstrip("\n")))
    reference = directory / f"{unit}_reference.py"
    shutil.copy(ROOT / "solutions" / f"{unit}.py", reference)
    out = directory / f"{unit}-stock-autograder.zip"
    subprocess.run([PY, "-m", "otter", "generate", "-t", str(tests), "-o", str(out), "--no-requirements",
                    "--no-environment", str(reference), *map(str, extra)],
                   cwd=directory, check=True, stdout=subprocess.DEVNULL)
    return out


def stock_otter_zip(directory: Path, unit: str) -> Path:
    """Stock Otter for a unit: the plain Otter zip of softmax (50 seeded random inputs per
    question, checked in the student's kernel); for gpt, the conventional assignment above
    (its test trains the model, as ours does), and for tokenizer the conventional assignment
    above (its train_bpe test trains on the same 1 MB text); for the other units, which have no such tests,
    the built zip without our plugin, whose test cases fail at once: Otter executing the same
    notebook in its kernel, a lower bound on a conventional Otter assignment's time."""
    if unit == "softmax":
        return plain_otter_zip(directory)
    if unit == "gpt":
        return conventional_otter_zip(directory, "gpt", GPT_STOCK_TEST, GPT_STOCK_BODIES)
    if unit == "tokenizer":
        return conventional_otter_zip(directory, "tokenizer", TOKENIZER_STOCK_TEST, TOKENIZER_STOCK_BODIES,
                                      [tokenizer_big_file(directory)])
    out = directory / f"stock-{unit}.zip"
    with zipfile.ZipFile(ROOT / "gradescope" / "dist" / unit / "autograder.zip") as built, \
            zipfile.ZipFile(out, "w") as stock:
        for info in built.infolist():
            data = built.read(info)
            if info.filename == "otter_config.json":
                config = json.loads(data)
                config["plugins"] = []
                data = json.dumps(config).encode()
            stock.writestr(info, data)
    return out


def gradescope_rows(work: Path, runs: int, names: list[str]) -> list[tuple]:
    """Per unit, its reference notebook under Gradescope's limits (tests/gradescope_harness.py:
    768 MB, 0.5 CPU, no CAP_SYS_ADMIN): the built zip, then stock `otter run` on the same
    notebook. (unit, [ours: wall, peak PSS, cgroup peak, score], [stock: the same]), medians."""
    sys.path.insert(0, str(ROOT / "tests"))
    import gradescope_harness as harness
    import nbformat

    from .corpus import UnitFiles

    rows = []
    for unit in names:
        notebook = {f"{unit}.ipynb": nbformat.writes(UnitFiles(unit).reference_notebook()).encode()}
        stock_zip = stock_otter_zip(work, unit)
        stock_command = [str(harness.PYTHON), "-m", "otter", "run", "-a", str(stock_zip), "-o", "{ag}/results",
                         "--no-logo", f"{{ag}}/submission/{unit}.ipynb"]
        ours, stock = [], []
        for _ in range(runs):  # alternated, so that a change in the machine's load hits both
            ours.append(harness.run(ROOT / "gradescope" / "dist" / unit / "autograder.zip", notebook))
            stock.append(harness.run(stock_zip, notebook, command=stock_command))

        def medians(measured):
            return [statistics.median(r.wall for r in measured), statistics.median(r.peak_pss_mb for r in measured),
                    statistics.median(r.peak_mb for r in measured), measured[0].score]

        rows.append((unit, medians(ours), medians(stock)))
    return rows


def gradescope_bench(runs: int, names: list[str]) -> int:
    sys.path.insert(0, str(ROOT / "tests"))
    import gradescope_harness as harness

    reason = harness.unavailable()
    if reason:  # e.g. a laptop: the rest of `make bench` stands; this table is not measured
        print(f"Not measured under Gradescope's limits: {reason}.")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        rows = gradescope_rows(Path(tmp), runs, names)
    print(f"Every unit's reference notebook under Gradescope's limits (768 MB, 0.5 CPU, no CAP_SYS_ADMIN), "
          f"median of {runs} runs:\n")
    print("| unit       | built zip wall (s) | peak PSS (MB) | cgroup peak (MB) | score | "
          "stock otter run wall (s) | peak PSS (MB) | cgroup peak (MB) | score | wall ratio |")
    print("|------------|--------------------|---------------|------------------|-------|"
          "--------------------------|---------------|------------------|-------|------------|")
    for unit, ours, stock in rows:
        print(f"| {unit:<10} | {ours[0]:18.1f} | {ours[1]:13.0f} | {ours[2]:16.0f} | {ours[3]:5g} | "
              f"{stock[0]:24.1f} | {stock[1]:13.0f} | {stock[2]:16.0f} | {stock[3]:5g} | {ours[0] / stock[0]:9.2f}x |")
    print("\nStock otter run: softmax with its plain Otter tests (50 random inputs per question); gpt with "
          "tests comparing with the reference in the kernel, train_sorter's training the model (one run, "
          ">= 99% on 2000 fresh sequences); the other units' built zip without our plugin (every test "
          "fails at once: Otter executing the notebook).")
    return 0


# --------------------------------------------------------------------------- class scale

CLASS_USAGE = "python -m autograder.bench --class [--submissions 100] [--otter 10]"


def class_corpus(directory: Path, count: int) -> list[Path]:
    """`count` softmax submissions cycling through a mixed corpus: the reference, every correct
    and wrong (one-bug) entry of tests/corpus/softmax, two hostile ones and the malformed files,
    each notebook built as a student would hand it in (autograder/corpus.py)."""
    import nbformat

    from .corpus import UnitFiles

    files = UnitFiles("softmax")
    entries = [files.load_entry(kind, name) for kind in ("correct", "wrong") for name in files.corpus_names(kind)]
    entries += [files.load_entry("hostile", name) for name in ("fork_bomb", "memory_hog")]
    notebooks = [files.reference_notebook()] + [files.entry_notebook(e) for e in entries]
    malformed = sorted(p for p in (files.corpus / "malformed").iterdir() if p.suffix in (".ipynb", ".zip"))
    kinds = [("nb", nb) for nb in notebooks] + [("file", p) for p in malformed]
    paths = []
    for i in range(count):
        kind, what = kinds[i % len(kinds)]
        path = directory / "class" / f"s{i:03d}{what.suffix if kind == 'file' else '.ipynb'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "file":
            shutil.copy(what, path)
        else:
            nbformat.write(what, path)
        paths.append(path)
    return paths


def memory_by_role(command: list[str], cwd: Path) -> tuple[float, dict[str, float]]:
    """Run the CLI; (wall seconds, peak PSS in MB of: the trusted process, the fork server,
    the median worker, the largest worker (the memory hog's, if graded), the whole tree)."""
    peaks = {"trusted": 0.0, "fork server": 0.0, "whole tree": 0.0}
    workers: dict[int, float] = {}  # pid -> its peak

    def sample(process: psutil.Popen) -> None:
        total = 0
        try:
            tree = [process, *process.children(recursive=True)]
        except psutil.Error:
            tree = []
        forked = {}  # the fork server and its workers share a command line: pid -> parent
        for p in tree:
            try:
                if "The fork server" in " ".join(p.cmdline()[:7]):
                    forked[p.pid] = p.ppid()
            except psutil.Error:
                continue
        servers = {pid for pid, parent in forked.items() if parent not in forked}
        for p in tree:
            try:
                pss = p.memory_full_info().pss / 2**20
                cmd = " ".join(p.cmdline())[:200]
            except psutil.Error:
                continue
            total += pss
            role = ("trusted" if p.pid == process.pid or "multiprocessing" in cmd
                    else "fork server" if p.pid in servers else "worker")
            if role == "worker":
                workers[p.pid] = max(workers.get(p.pid, 0.0), pss)
            else:
                peaks[role] = max(peaks[role], pss)
        peaks["whole tree"] = max(peaks["whole tree"], total)

    seconds = _run_sampled(command, cwd, sample, 0.1)
    peaks["median worker"] = statistics.median(workers.values()) if workers else 0.0
    peaks["largest worker"] = max(workers.values(), default=0.0)
    return seconds, peaks


def class_bench(submissions: int, otter_count: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        paths = class_corpus(work, submissions)
        results = {}
        for jobs in (1, 2):
            out = work / f"out-{jobs}"
            wall, peaks = memory_by_role([PY, "-m", "autograder", "grade", "softmax", str(paths[0].parent),
                                          "--out", str(out), "--jobs", str(jobs), "--quiet"], ROOT)
            seconds = [json.loads(p.read_text()).get("seconds", 0) for p in out.glob("*/graded.json")]
            seconds = [s for s in seconds if s]  # malformed files are never sent to a worker
            results[jobs] = (wall, statistics.median(seconds), peaks)
        plain = plain_otter_zip(work)
        gradable = [p for p in paths if p.suffix == ".ipynb"][:otter_count]  # the first are gradable
        otter_walls, otter_scores = [], []
        for path in gradable:
            start = time.perf_counter()
            subprocess.run([PY, "-m", "otter", "run", "-a", str(plain), "-o", str(work), "--no-logo", str(path)],
                           cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            otter_walls.append(time.perf_counter() - start)
            tests = json.loads((work / "results.json").read_text())["tests"]
            otter_scores.append(sum(t.get("score") or 0 for t in tests))
            (work / "results.json").unlink()
        ours = [sum(c["score"] for q in json.loads((work / "out-1" / p.stem / "graded.json").read_text())
                    ["report"]["questions"] for c in q["checks"]) for p in gradable]
    otter = statistics.median(otter_walls)
    print(f"Class scale: {submissions} softmax submissions (mixed corpus), in one run:\n")
    print("| what                         | total wall (s) | wall per submission (s) | median grading (s) | vs otter run |")
    print("|------------------------------|----------------|-------------------------|--------------------|--------------|")
    for jobs, (wall, median, _) in results.items():
        per = wall / submissions
        print(f"| our CLI, --jobs {jobs}             | {wall:14.1f} | {per:23.2f} | {median:18.2f} | {otter / per:11.1f}x |")
    print(f"| otter run, {len(otter_walls)} sequentially     | {sum(otter_walls):14.1f} | {otter:23.2f} | "
          f"{'':18} | {1:11.1f}x |")
    print(f"\nOn those {len(gradable)} notebooks, total points: otter run (stock tests: 50 seeded random inputs "
          f"per question) {sum(otter_scores):g}, our CLI {sum(ours):g}; per notebook:")
    print("  " + ", ".join(f"{a:g}/{b:g}" for a, b in zip(otter_scores, ours)))
    print("\nPeak PSS (MB) by process, --jobs 1 / --jobs 2:")
    for role in ("trusted", "fork server", "median worker", "largest worker", "whole tree"):
        print(f"  {role:<14} {results[1][2][role]:7.0f} / {results[2][2][role]:7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
