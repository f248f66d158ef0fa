"""Gradescope as it really runs: a built autograder.zip graded under the container's limits.

Gradescope runs each submission in a container with 768 MB of memory, 0.5 to 1 vCPU, a
10-minute timeout, as root but without CAP_SYS_ADMIN, and calls ``run_autograder``, whose
Python entry is ``python /autograder/source/run_otter.py``. `run` reproduces that here:

* a temporary root holding ``autograder/{source,submission,results}`` and
  ``submission_metadata.json``, the zip unpacked into ``source/``, the submission's files in
  ``submission/`` (``setup.sh`` never runs: it downloads installers);
* ``source/run_otter.py`` run as root with ``HOME=/root`` and a minimal environment, through
  ``capsh --drop=cap_sys_admin`` (so no network namespace can be made, as on Gradescope);
* the whole process tree in a cgroup v1 memory group capped at 768 MB (no swap on top) and a
  cpu group with a 0.5 CPU quota, killed at 10 minutes.

It returns the results.json, the wall time, the peak memory (the cgroup's own high-water
mark, which also counts page cache, and the peak PSS summed over the group's processes,
which counts torch's shared pages once) and the exit status. `unavailable()` says why the
harness cannot run here (no root, no writable cgroup v1 controllers, no capsh); tests skip
with that reason. `make bench` (autograder/bench.py) uses the same function.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
PYTHON = PROJECT / ".venv" / "bin" / "python"
if not PYTHON.exists():
    PYTHON = Path(sys.executable)
CGROUPS = Path("/sys/fs/cgroup")
MEMORY_MB = 768  # Gradescope's default container memory
CPU_SHARE = 0.5  # Gradescope's smallest default: 0.5 vCPU
TIMEOUT_SECONDS = 600  # Gradescope's default autograder timeout
CPU_PERIOD_US = 100_000
CAP_SYS_ADMIN = 21


@dataclasses.dataclass
class Run:
    """What one graded submission showed under the limits."""

    results: dict | None  # results/results.json, or None when it is missing or not JSON
    wall: float  # seconds, from start to the last process of the group gone
    peak_mb: float  # the memory cgroup's high-water mark (page cache included)
    peak_pss_mb: float  # peak PSS summed over the group's processes, sampled every 50 ms
    returncode: int | None  # run_otter.py's exit status; None when killed at the timeout
    oom_kills: int  # processes the kernel's OOM killer killed inside the group
    stdout: str
    stderr: str

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def score(self) -> float | None:
        if self.results is None:
            return None
        if "score" in self.results:
            return self.results["score"]
        return round(sum(t.get("score", 0) for t in self.results.get("tests", [])), 5)


# --------------------------------------------------------------------------- availability


def unavailable() -> str:
    """Why the harness cannot run on this machine ("" if it can)."""
    if os.geteuid() != 0:
        return "the Gradescope harness needs root (Gradescope grades as root)"
    if shutil.which("capsh") is None:
        return "the Gradescope harness needs capsh (libcap2-bin) to drop CAP_SYS_ADMIN"
    try:
        group = _Group(f"probe-{uuid.uuid4().hex[:8]}", MEMORY_MB, CPU_SHARE)
    except OSError as exc:
        return f"the Gradescope harness cannot create cgroup v1 memory and cpu groups ({exc})"
    group.remove()
    return ""


# --------------------------------------------------------------------------- cgroups


class _Group:
    """A cgroup v1 memory group and cpu group of the same name, with Gradescope's limits."""

    def __init__(self, name: str, memory_mb: int, cpu_share: float):
        self.memory = CGROUPS / "memory" / f"gradescope-harness-{name}"
        self.cpu = CGROUPS / "cpu" / f"gradescope-harness-{name}"
        self.memory.mkdir()
        try:
            self.cpu.mkdir()
            limit = str(memory_mb * 2**20)
            (self.memory / "memory.limit_in_bytes").write_text(limit)
            memsw = self.memory / "memory.memsw.limit_in_bytes"
            if memsw.exists():  # no swap on top of the limit, as in a container without swap
                memsw.write_text(limit)
            (self.cpu / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
            (self.cpu / "cpu.cfs_quota_us").write_text(str(int(CPU_PERIOD_US * cpu_share)))
        except OSError:
            self.remove()
            raise

    def join(self) -> None:
        """Move the calling process into both groups (run in the child before exec)."""
        pid = str(os.getpid())
        (self.memory / "cgroup.procs").write_text(pid)
        (self.cpu / "cgroup.procs").write_text(pid)

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.memory / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def peak_mb(self) -> float:
        return int((self.memory / "memory.max_usage_in_bytes").read_text()) / 2**20

    def oom_kills(self) -> int:
        """OOM kills in the group and in the groups below it (the grader puts each worker in a
        group of its own inside the container's, and cgroup v1 counts a kill where it happens)."""
        kills = 0
        for control in self.memory.rglob("memory.oom_control"):
            try:
                for line in control.read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        kills += int(value)
            except OSError:  # a worker's group removed meanwhile
                pass
        return kills

    def kill_all(self, seconds: float = 10.0) -> None:
        """Kill every process left in the group, until it is empty."""
        deadline = time.monotonic() + seconds
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)

    def remove(self) -> None:
        self.kill_all()
        for path in (self.memory, self.cpu):
            for _ in range(50):  # a dying process may still be listed for a moment
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)


def _pss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except (OSError, ValueError):
            pass
    return total / 1024


# --------------------------------------------------------------------------- the tree


def build_zip(unit: str, dist: Path) -> Path:
    """`python -m autograder build UNIT --dist DIST`; the autograder.zip's path."""
    subprocess.run([str(PYTHON), "-m", "autograder", "build", unit, "--dist", str(dist)],
                   cwd=PROJECT, check=True, capture_output=True, text=True, timeout=600)
    return Path(dist) / unit / "autograder.zip"


def lay_out(autograder_zip: Path, submission: dict[str, bytes], parent: Path | None = None) -> Path:
    """<tmp>/autograder/{source,submission,results} as Gradescope lays it out; the tmp root."""
    root = Path(tempfile.mkdtemp(prefix="gradescope-harness-", dir=parent))
    root.chmod(0o755)
    ag = root / "autograder"
    for sub in ("source", "submission", "results"):
        (ag / sub).mkdir(parents=True)
    ag.chmod(0o755)
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(ag / "source")
    for name, data in submission.items():
        (ag / "submission" / name).write_bytes(data)
    (ag / "submission_metadata.json").write_text(json.dumps({
        "id": 123456, "created_at": "2026-11-27T12:00:00.000000-08:00", "assignment": {"title": "harness"},
        "submission_method": "upload", "users": [{"email": "student@example.edu", "id": 1, "name": "A Student"}],
    }))
    return root


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The minimal environment of Gradescope's run_autograder: root's HOME, a PATH whose first
    Python is the grading environment's (Gradescope's activated otter-env; here .venv)."""
    env = {"PATH": f"{PYTHON.parent}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": "/root", "LANG": "C.UTF-8"}
    if "AUTOGRADER_SANDBOX_UID" in os.environ:  # tests and helpers running side by side keep apart
        env["AUTOGRADER_SANDBOX_UID"] = os.environ["AUTOGRADER_SANDBOX_UID"]
    env.update(extra or {})
    return env


def run(autograder_zip: Path, submission: dict[str, bytes], *, memory_mb: int = MEMORY_MB,
        cpu_share: float = CPU_SHARE, timeout: float = TIMEOUT_SECONDS,
        env: dict[str, str] | None = None, command: list[str] | None = None) -> Run:
    """Grade `submission` ({file name: contents}) with the built zip under Gradescope's limits.

    `env` adds to the minimal environment; `command` replaces ``python source/run_otter.py``
    (run in <root>/autograder; "{ag}" in it stands for that folder), e.g. stock `otter run`
    for a side-by-side measurement, which must write ``{ag}/results/results.json``.
    """
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    root = lay_out(autograder_zip, submission)
    ag = root / "autograder"
    argv = [a.replace("{ag}", str(ag)) for a in command] if command else \
        [str(PYTHON), str(ag / "source" / "run_otter.py")]
    group = _Group(uuid.uuid4().hex[:12], memory_mb, cpu_share)
    try:
        start = time.monotonic()
        proc = subprocess.Popen(
            ["capsh", "--drop=cap_sys_admin", "--", "-c", 'exec "$0" "$@"', *argv],
            cwd=ag, env=environment(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, preexec_fn=group.join, start_new_session=True)
        peak_pss, oom_kills = 0.0, 0
        done = threading.Event()

        def sample() -> None:  # a worker's own group is gone when it closes: watch it meanwhile
            nonlocal peak_pss, oom_kills
            while not done.wait(0.05):
                peak_pss = max(peak_pss, _pss_mb(group.pids()))
                oom_kills = max(oom_kills, group.oom_kills())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
            returncode: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            group.kill_all()
            stdout, stderr = proc.communicate()
            returncode = None
        group.kill_all()  # whatever run_otter.py left behind ends with the container
        wall = time.monotonic() - start
        done.set()
        sampler.join()
        try:
            results = json.loads((ag / "results" / "results.json").read_text())
        except (OSError, ValueError):
            results = None
        return Run(results, wall, group.peak_mb(), peak_pss, returncode, max(oom_kills, group.oom_kills()),
                   stdout[-20000:], stderr[-20000:])
    finally:
        group.remove()
        shutil.rmtree(root, ignore_errors=True)


def effective_capabilities(env: dict[str, str] | None = None) -> int:
    """CapEff of a process started the way `run` starts run_otter.py (to prove the drop)."""
    out = subprocess.run(["capsh", "--drop=cap_sys_admin", "--", "-c", "grep CapEff /proc/self/status"],
                         env=environment(env), capture_output=True, text=True, check=True).stdout
    return int(out.split()[1], 16)
