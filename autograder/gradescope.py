"""Gradescope glue: the trusted grader inside an Otter-built autograder zip.

The zip (built by `autograder/build.py` with `otter generate`) holds::

    run_otter.py                    Gradescope runs `python /autograder/source/run_otter.py`; ours
                                    calls `run()` below instead of Otter's runner directly
    files/decoding_gpt_grader/      this package (autograder/) and solutions/<unit>.py
    tests/<question>.py             one Otter test file per question, one test case per check
    otter_config.json               pdf off, no assignment_name, the `TrustedGrader` plugin

`run(autograder_dir)`, the guarded entry point, wraps Otter's own runner:

1. it kills every process of the sandbox uid (nothing may be left to talk to Otter's logging
   server, which `pickle.loads` whatever connects to it), and forks the process that will
   become the worker as soon as torch is imported, before anything secret is loaded
   (`_start_fork_server`);
2. it moves everything the student uploaded out of ``submission/`` into a root-only folder
   and leaves a valid placeholder notebook there, so Otter's `nbformat.read` of the
   submission (done before any plugin event) cannot crash on a malformed file, Otter never
   `dill.load`s an uploaded ``.OTTER_LOG``, and no uploaded file (say ``otter.py``) sits on
   the cwd or `sys.path` of Otter's root kernel;
3. it lets the sandbox uid reach Python (`sandbox.ensure_reachable`) and makes the
   autograder folder root-only, so student code cannot read the reference or the tests;
4. it runs Otter's runner, whose `TrustedGrader` plugin (below) grades the original
   submission with `grade()` (student code runs only in the sandboxed worker) and writes the
   trusted verdicts into Otter's test results, so Otter's results.json carries our scores.
   Otter executes no notebook: its kernel would have nothing left to do
   (`_results_without_kernel`); used without the guard, the plugin replaces the notebook
   Otter executes with one that contains no student code;
5. whatever happened, it kills the sandbox uid's processes again and makes sure
   ``results/results.json`` exists and agrees with the trusted report (it writes the report
   itself, or a clear error, if Otter produced nothing usable), with every text marked as
   plain text (`report.OUTPUT_FORMATS`: Gradescope would render the top-level output as HTML).

PDF export stays off (the config says so, and the plugin forces it off again).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from otter.plugins import AbstractOtterPlugin

PLUGIN_FOLDER = "decoding_gpt_grader"  # files/<this>/ in the zip
PLUGIN = f"files.{PLUGIN_FOLDER}.autograder.gradescope.TrustedGrader"
STASH = ".trusted"  # <autograder_dir>/.trusted/submission/: the original upload, root-only
IGNORED_PARTS = ("__MACOSX", ".ipynb_checkpoints")


class _State:
    """What the guard and the plugin share (they live in the same process and module)."""

    def __init__(self) -> None:
        self.guarded = False  # run() moved the submission (else: plugin used on its own)
        self.original: Path | None = None  # the file to grade
        self.problem = ""  # why no file could be chosen, for the student
        self.unit = None
        self.report = None  # the trusted Report
        self.server = None  # the fork server the worker starts from (pool.ForkServer)


STATE = _State()


# --------------------------------------------------------------------------- the plugin


class TrustedGrader(AbstractOtterPlugin):
    """Otter plugin: grade with the trusted, sandboxed grader; Otter only reports.

    Configured in otter_config.json as ``{"files.decoding_gpt_grader.autograder.gradescope.
    TrustedGrader": {"unit": "<unit>"}}``.
    """

    def __init__(self, submission_path, submission_metadata, plugin_config):
        super().__init__(submission_path, submission_metadata, plugin_config or {})

    @property
    def unit_name(self) -> str:
        return str(self.plugin_config.get("unit", ""))

    def before_grading(self, config) -> None:
        from . import units
        from .grade import grade, load_plans, zero_report

        # Otter checks these after this event: no PDF of the student's notebook, no log.
        config.pdf = False
        config.token = None
        config.grade_from_log = False
        config.use_submission_pdf = False
        if not STATE.guarded:  # e.g. `otter run` by an instructor: protect what we can
            _use_without_guard(Path(self.submission_path))
        unit = STATE.unit = units.load(self.unit_name)
        if STATE.original is None:
            STATE.report = zero_report(unit, "submission", "malformed", STATE.problem)
        else:
            # grade from a private folder: nothing (e.g. hypothesis's cache) lands in submission/
            scratch = Path(tempfile.mkdtemp(prefix="decoding-gpt-grading-"))
            before = os.getcwd()
            os.chdir(scratch)
            try:
                reference = units.reference(unit.name)
                # the inputs and the reference's answers, drawn at build time (else drawn now)
                load_plans(unit, reference, units.ROOT / "plans" / f"{unit.name}.pkl")
                STATE.report = grade(unit, reference, STATE.original)
            finally:
                os.chdir(before)
                shutil.rmtree(scratch, ignore_errors=True)
        _close_fork_server()  # graded: if no worker was forked from it, it goes now
        _kill_sandbox()

    def before_execution(self, submission):
        """The notebook Otter's root kernel executes: nothing of the student's."""
        import nbformat

        _kill_sandbox()  # nothing of the sandbox uid may reach the logging server started next
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [
            nbformat.v4.new_markdown_cell(
                "This submission was graded by decoding-gpt-autograder's trusted grader, with "
                "the student's code running in a sandbox; none of it runs in this kernel."),
            nbformat.v4.new_code_cell("pass"),
        ]
        return nb

    def after_grading(self, results) -> None:
        """Give each Otter test case the trusted verdict of the check it mirrors."""
        if STATE.report is not None:
            apply_report(results, STATE.report)


def apply_report(results, report) -> None:
    """Replace the test case results of `results` (Otter's GradingResults) with `report`'s.

    Each question's test file keeps its test cases when they mirror the question's checks
    (same names, order and points); otherwise (or when Otter could not run the tests at all)
    the file is rebuilt from the report, so the scores always equal the report's.
    """
    from otter.test_files import TestCase, TestCaseResult
    from otter.test_files.exception_test import ExceptionTestFile

    files = {}
    for question in report.questions:
        test_file = results.results.get(question.name)
        mirrored = test_file is not None and [
            (tc.name, float(tc.points or 0)) for tc in test_file.test_cases
        ] == [(c.name, float(c.max_score)) for c in question.checks]
        if not mirrored:
            cases = [TestCase(name=c.name, body=None, hidden=False, points=c.max_score,
                              success_message=None, failure_message=None) for c in question.checks]
            test_file = ExceptionTestFile(question.name, f"tests/{question.name}.py", cases,
                                          all_or_nothing=False)
        test_file.all_or_nothing = False
        test_file.test_case_results = [
            TestCaseResult(test_case=case, message=_message(check), passed=check.passed)
            for case, check in zip(test_file.test_cases, question.checks)
        ]
        files[question.name] = test_file
    results.results = files
    if results.catastrophic_error is not None:  # Otter's kernel failed; our verdicts stand
        results._catastrophic_error = None
    results.set_output(report.summary())


def _message(check) -> str:
    if check.passed:
        return f"✅ passed ({check.score:g}/{check.max_score:g} points)"
    return f"❌ failed ({check.score:g}/{check.max_score:g} points)\n{check.message}".rstrip()


def _start_fork_server(ag: Path) -> None:
    """Fork the process the worker will start from, now that this one has imported torch (the
    grader needs it) and before anything secret (the unit's spec, the reference) is loaded.

    A worker started as a new interpreter imports torch a second time: on Gradescope's
    0.5 CPU that alone was a few seconds of the student's wait, and its memory came on top of
    the grader's. The forked server shares torch's pages with this process, finishes warming
    up (pyplot) while Otter and the grader load, and confines each worker it forks exactly
    as a new interpreter is confined (`sandbox.confine`).
    """
    import gc

    import torch  # noqa: F401  (before the fork: its pages are then shared)

    from .pool import ForkServer

    # Out of the garbage collector's sight, in both processes: a collection writes to every
    # object it scans, and each page written after the fork is copied, once for each side.
    gc.freeze()
    STATE.server = ForkServer(fork=True, private=(str(ag / "source"),))


def _close_fork_server() -> None:
    if STATE.server is not None:
        STATE.server.close()
        STATE.server = None


def _kill_sandbox() -> None:
    """Kill what is left of the sandbox (every uid no live worker holds)."""
    from . import sandbox

    sandbox.kill_unclaimed()


def _use_without_guard(submission: Path) -> None:
    """The plugin without `run()`: grade a root-only copy, and drop any uploaded Otter log."""
    from . import sandbox

    private = Path(tempfile.mkdtemp(prefix="decoding-gpt-submission-"))
    STATE.original = private / submission.name
    shutil.copy2(submission, STATE.original)
    (submission.parent / ".OTTER_LOG").unlink(missing_ok=True)
    sandbox.ensure_reachable()
    sandbox.become_subreaper()


# --------------------------------------------------------------------------- the guard


def run(autograder_dir: str | os.PathLike) -> int:
    """Grade `<autograder_dir>/submission` with Otter and the trusted grader (see module doc).

    Always leaves a valid `<autograder_dir>/results/results.json`; returns 0 when it holds
    grades, 1 when it holds an error message.
    """
    ag = Path(autograder_dir).resolve()
    results_dir = ag / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "results.json").unlink(missing_ok=True)
    STATE.__init__()
    STATE.guarded = True
    failure = ""
    try:
        from . import sandbox

        unit_name = _configured_unit(ag)
        _kill_sandbox()
        _start_fork_server(ag)
        _stash_submission(ag, unit_name)
        if not (ag / "submission_metadata.json").exists():  # Gradescope always writes it
            (ag / "submission_metadata.json").write_text("{}")
        sandbox.ensure_reachable()  # must come before make_private: it adds o+x to ancestors
        sandbox.make_private(ag, ag / "source", ag / STASH)
        sandbox.become_subreaper()

        from otter.run.run_autograder import main as run_otter
        from otter.run.run_autograder.runners import python_runner

        python_runner.grade_notebook = _results_without_kernel  # this process grades one submission
        run_otter(str(ag))
    except BaseException as exc:  # Otter or we failed: results.json is still written below
        traceback.print_exc()
        failure = f"{type(exc).__name__}: {exc}".strip()
    finally:
        _close_fork_server()
        _kill_sandbox()
        ok = _ensure_results(results_dir / "results.json", failure)
    print(f"decoding-gpt-autograder: results written to {results_dir / 'results.json'}", flush=True)
    return 0 if ok else 1


def _results_without_kernel(*args, plugin_collection=None, **kwargs):
    """Otter's `grade_notebook` on the guarded path, where the trusted grader has graded the
    submission (the plugin's before_grading event) and nothing is left to execute.

    Otter would start a Jupyter kernel as root, run the placeholder notebook and the test
    files (which only fail), and then the plugin replaces every verdict: seconds of the
    student's wait on a 0.5 CPU container, and Otter's logging server listening meanwhile.
    Instead Otter gets empty results, the plugin's after_grading event fills them with the
    trusted verdicts (`apply_report`), and Otter writes results.json from them as usual.
    """
    from otter.test_files import GradingResults

    results = GradingResults.without_results(RuntimeError("the trusted grader did not report"))
    if plugin_collection is not None:
        plugin_collection.run("after_grading", results)
    return results


def _configured_unit(ag: Path) -> str:
    config = json.loads((ag / "source" / "otter_config.json").read_text())
    for plugin in config.get("plugins", []):
        if isinstance(plugin, dict) and PLUGIN in plugin:
            return str(plugin[PLUGIN]["unit"])
    raise RuntimeError(f"otter_config.json does not configure the plugin {PLUGIN}")


def _stash_submission(ag: Path, unit_name: str) -> None:
    """Move every uploaded file to <ag>/.trusted/submission; leave only a placeholder notebook."""
    import nbformat

    submission = ag / "submission"
    submission.mkdir(exist_ok=True)
    stash = ag / STASH
    shutil.rmtree(stash, ignore_errors=True)
    stash.mkdir(mode=0o700)
    target = stash / "submission"
    shutil.move(str(submission), str(target))
    submission.mkdir()
    placeholder = nbformat.v4.new_notebook()
    placeholder.cells = [nbformat.v4.new_markdown_cell(
        "Placeholder: the submission was moved to a root-only folder and is graded there by "
        "the trusted grader.")]
    nbformat.write(placeholder, str(submission / f"{unit_name}.ipynb"))
    STATE.original, STATE.problem = choose_submission(target, unit_name)


def choose_submission(folder: Path, unit_name: str) -> tuple[Path | None, str]:
    """The uploaded file to grade: the notebook (preferably <unit>.ipynb), else one zip."""

    def found(pattern: str) -> list[Path]:
        return sorted(p for p in folder.rglob(pattern) if p.is_file() and not p.is_symlink()
                      and not any(part in IGNORED_PARTS or part.startswith("._")
                                  for part in p.relative_to(folder).parts))

    notebooks, zips = found("*.ipynb"), found("*.zip")
    if len(notebooks) == 1:
        return notebooks[0], ""
    named = [p for p in notebooks if p.name == f"{unit_name}.ipynb"]
    if len(named) == 1:
        return named[0], ""
    if not notebooks and len(zips) == 1:
        return zips[0], ""
    uploaded = ", ".join(str(p.relative_to(folder)) for p in sorted(folder.rglob("*")) if p.is_file())
    if notebooks:
        return None, (f"Cannot grade this submission: it holds {len(notebooks)} notebooks; submit "
                      f"only {unit_name}.ipynb (uploaded: {uploaded}).")
    return None, (f"Cannot grade this submission: it holds no notebook (.ipynb); submit "
                  f"{unit_name}.ipynb (uploaded: {uploaded or 'nothing'}).")


def _ensure_results(path: Path, failure: str) -> bool:
    """Make `path` a valid results.json that agrees with the trusted report."""
    from .report import OUTPUT_FORMATS

    report = STATE.report
    written = _read_json(path)
    if report is not None:
        if written is not None and _agrees(written, report):
            if any(written.get(key) != value for key, value in OUTPUT_FORMATS.items()):
                _write_json(path, {**written, **OUTPUT_FORMATS})  # Otter sets no format
            return True
        data = report.to_gradescope()
        why = f" ({failure})" if failure else ""
        data["output"] += (f"\n\nnote: Otter did not report these grades{why}; they are the "
                           "trusted grader's own.")
        _write_json(path, data)
        return True
    message = ("The autograder failed before it could grade this submission"
               + (f" ({failure})" if failure else "")
               + ". Your score is 0 for now; please tell your instructor.")
    if STATE.unit is None:
        try:
            from . import units

            STATE.unit = units.load(_configured_unit(path.parent.parent))
        except Exception:
            pass
    if STATE.unit is not None:
        from .grade import zero_report

        data = zero_report(STATE.unit, "submission", "crash", message).to_gradescope()
    else:
        data = {"score": 0, "output": message, "tests": []}
    _write_json(path, data)
    return False


def _agrees(results: Any, report) -> bool:
    """Whether Otter's results.json gives every question exactly the report's score."""
    try:
        return _same_scores(results, report)
    except (TypeError, ValueError, AttributeError):
        return False


def _same_scores(results: Any, report) -> bool:
    if not isinstance(results, dict) or not isinstance(results.get("tests"), list):
        return False
    tests = {t.get("name"): t for t in results["tests"] if isinstance(t, dict)}
    for question in report.questions:
        test = tests.get(question.name)
        if test is None or round(float(test.get("score", -1)), 5) != question.score \
                or round(float(test.get("max_score", -1)), 5) != question.max_score:
            return False
    if "score" in results:  # Gradescope uses it instead of the sum of the tests' scores
        return round(float(results["score"]), 5) == report.score
    total = sum(float(t.get("score", 0) or 0) for t in results["tests"] if isinstance(t, dict))
    return round(total, 5) == report.score


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":  # pragma: no cover - run_otter.py is the entry point
    sys.exit(run(sys.argv[1] if len(sys.argv) > 1 else "/autograder"))
