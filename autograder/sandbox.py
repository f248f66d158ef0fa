"""The sandboxed worker process, seen from the trusted grader.

A `Worker` is one process running `worker.py` with:

* a private, fresh working directory holding only what it was given (the submission);
* a scrubbed environment and `sys.path` (no PYTHONPATH, no cwd on the path);
* resource limits: CPU seconds, address space, file size, open files, processes;
* stdout and stderr in a capped file the trusted side reads back;
* a wall-clock timeout on every request, enforced with SIGKILL; a deadline for the whole
  submission, and totals for all graded calls and for each function's calls;
* replies checked as the untrusted input they are (autograder/replies.py);
* a call's CPU budget counted over every process of the worker (`group_cpu_time`);
* when the grader is root: an unprivileged uid with no groups, its own network namespace
  (no network at all), and every process of that uid killed when the worker is closed.

Without root (a TA's laptop) everything above holds except the uid switch and the network
namespace; leftover processes are found as descendants of the grader and killed.
"""

from __future__ import annotations

import ctypes
import inspect
import os
import resource
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import replies
from . import worker as wire

IS_ROOT = os.geteuid() == 0
SANDBOX_UID = int(os.environ.get("AUTOGRADER_SANDBOX_UID", "64000"))  # first uid of the pool
UID_POOL = 1000  # workers alive at once on one machine, across every grader process
_LOCKS = Path("/run/autograder-sandbox") if Path("/run").is_dir() else Path("/tmp/.autograder-sandbox")
_WORKER_SOURCE = inspect.getsource(wire)
_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000
_PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker. Units may override any of them in their spec."""

    cpu_seconds: int = 300  # whole worker lifetime: the notebook plus every graded call
    memory_mb: int = 1024  # address space: `import torch` + matplotlib need ~750 MB of it; the
    # rest (~250 MB of data) keeps grader + worker inside Gradescope's 768 MB default container
    file_mb: int = 16  # largest file the worker may write, stdout included
    open_files: int = 256
    processes: int = 64  # threads count too
    cell_seconds: float = 60.0  # wall clock per notebook cell
    call_seconds: float = 20.0  # wall clock per graded call
    start_seconds: float = 60.0  # wall clock for the interpreter to start and import torch
    # Wall clock for a whole submission (start, cells, every graded call), then every request
    # fails at once: sized so that grading ends inside Gradescope's default 10 minutes at
    # 0.5 vCPU, with time left for Otter's start and for writing results.json.
    submission_seconds: float = 420.0
    calls_seconds: float = 360.0  # wall clock of all graded calls together (a training run too)
    function_seconds: float = 300.0  # of all graded calls of one function (> a training call's 270)


class WorkerLost(Exception):
    """The worker died or stopped answering; `reason` says why in a student's terms.

    `timed_out`: it ran past a wall-clock limit. `out_of_time`: the submission's own deadline
    (or its total time for graded calls) has passed, so nothing more will be asked of it.
    `alive`: the request was refused before it was sent; the worker is untouched.
    """

    def __init__(self, reason: str, *, timed_out: bool = False, out_of_time: bool = False,
                 alive: bool = False):
        super().__init__(reason)
        self.reason, self.timed_out, self.out_of_time, self.alive = reason, timed_out, out_of_time, alive


# --------------------------------------------------------------------------- host set-up


def ensure_reachable() -> list[str]:
    """As root, let the sandbox uid traverse to the interpreter and its packages.

    A Python under a 0700 home (pyenv in /root, Gradescope's miniforge in /root) cannot be
    executed by another user. We add only the search bit (o+x) to such ancestors: the user
    can then open known paths below, but cannot list the directories. Returns what changed.
    """
    if not IS_ROOT:
        return []
    needed = {Path(sys.executable), Path(os.path.realpath(sys.executable))}
    needed |= {Path(p) for p in sys.path if p and Path(p).is_dir()}
    changed = []
    for path in needed:
        for parent in [path, *path.parents] if path.is_dir() else path.parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)
                changed.append(str(parent))
    return sorted(set(changed))


def make_private(*paths: Path) -> None:
    """As root, make paths unreadable by anyone but root (the autograder, the reference)."""
    if IS_ROOT:
        for path in paths:
            if path.exists() and not path.is_symlink():
                path.chmod(path.stat().st_mode & ~0o077)


def _pids_of_uid(uid: int) -> list[int]:
    """Live (not zombie) processes of `uid`."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid and _state(entry) != "Z":
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def _state(pid: str) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def kill_uid(uid: int) -> None:
    """Kill every process of `uid`, including ones that left our session or keep forking.

    A child that takes the uid signals every process of that uid with kill(-1): SIGSTOP first,
    so that a fork bomb stops growing, then SIGKILL. Repeated until none is left, since a
    child being forked while the signals go out can miss them.
    """
    for _ in range(1000):
        if not _pids_of_uid(uid):
            return
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child only makes a few syscalls
            try:
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGSTOP)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.005)


def kill_unclaimed() -> None:
    """Kill every process of every sandbox uid that no live worker holds.

    A worker kills its uid's processes itself when it closes; this is a second sweep (the
    Gradescope guard runs it before Otter starts its logging server and kernel). It spares the
    uids whose lock a live worker holds, so it never kills another grading's worker.
    """
    import fcntl

    if not IS_ROOT:
        return
    uids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                uid = os.stat(f"/proc/{entry}").st_uid
            except OSError:
                continue
            if SANDBOX_UID <= uid < SANDBOX_UID + UID_POOL:
                uids.add(uid)
    _LOCKS.mkdir(mode=0o700, exist_ok=True)
    for uid in sorted(uids):
        fd = os.open(_LOCKS / f"{uid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a live worker (of another grading) owns this uid
            os.close(fd)
            continue
        try:
            kill_uid(uid)
        finally:
            os.close(fd)


def claim_uid() -> tuple[int, int]:
    """A sandbox uid no other worker on this machine is using: (uid, lock fd to close when done).

    Each live worker has a uid of its own, so closing one (kill every process of its uid)
    never touches another, whichever grader process started it.
    """
    import fcntl

    _LOCKS.mkdir(mode=0o700, exist_ok=True)
    for uid in range(SANDBOX_UID, SANDBOX_UID + UID_POOL):
        fd = os.open(_LOCKS / f"{uid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if _pids_of_uid(uid):  # left over from a grader that died: clear it first
            kill_uid(uid)
        return uid, fd
    raise RuntimeError(f"all {UID_POOL} sandbox uids from {SANDBOX_UID} are in use")


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


# --------------------------------------------------------------------------- the worker

_LIVE: set[int] = set()  # pids of workers still in use in this process (never swept)


def kill_and_wait(pids: list[int], seconds: float = 10.0) -> bool:
    """SIGKILL `pids` and return once each is gone (reaped if it is our child, or a zombie).
    False if none could be signalled.

    A killed process is not gone at once: on a loaded machine it can wait its turn on a CPU
    to exit, and meanwhile still counts as a live process of its user.
    """
    pending = set()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            pending.add(pid)
        except (ProcessLookupError, PermissionError):  # gone, or not ours to kill
            pass
    signalled = bool(pending)
    deadline = time.monotonic() + seconds
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:  # ours (an orphan re-parented to us)
                    pending.discard(pid)
                    continue
            except ChildProcessError:
                pass
            if not _alive(pid):
                pending.discard(pid)
        if pending:
            time.sleep(0.002)
    return signalled


def kill_strays(seconds: float = 10.0) -> None:
    """Kill and wait out every process below us that is no live worker's and no fork server.

    Without root these are orphans a submission left (re-parented to us, a subreaper).
    Repeated until none is left, since a stray can fork while it is being killed; given up
    after `seconds` (a process in uninterruptible sleep cannot be waited out).
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        strays = [p for p in _descendants(os.getpid())
                  if p not in _LIVE and p not in _KEEP and not _is_live_child(p) and _alive(p)]
        if not strays or not kill_and_wait(strays, max(0.0, deadline - time.monotonic())):
            return


def _alive(pid: int) -> bool:
    try:
        return _state(str(pid)) not in ("Z", "X")
    except OSError:
        return False


def _is_live_child(pid: int) -> bool:
    """Whether pid descends from a worker still in use (kept when another worker is closed)."""
    return any(pid in _descendants(live) for live in _LIVE)


# Landlock (Linux >= 5.13): any process may give up filesystem rights, for itself and all it
# starts. Access rights (linux/landlock.h) that create, change or remove files:
_LL_WRITE_FILE, _LL_REFER, _LL_TRUNCATE = 1 << 1, 1 << 13, 1 << 14
_LL_CHANGES = _LL_WRITE_FILE | sum(1 << bit for bit in range(4, 13))  # remove_*, make_*
_SYS_LL_CREATE_RULESET, _SYS_LL_ADD_RULE, _SYS_LL_RESTRICT_SELF = 444, 445, 446  # every arch
_PR_SET_NO_NEW_PRIVS = 38


def landlock_abi() -> int:
    """The kernel's Landlock version; 0 without it."""
    return max(0, _libc.syscall(_SYS_LL_CREATE_RULESET, None, 0, 1))  # 1: ..._CREATE_RULESET_VERSION


def writes_only_beneath(*paths: str) -> bool:
    """Forbid this process (and its children) to create, change or remove any file except
    beneath `paths`; reading stays allowed. False where the kernel has no Landlock."""
    abi = landlock_abi()
    if abi < 1:
        return False
    changes = _LL_CHANGES | (_LL_REFER if abi >= 2 else 0) | (_LL_TRUNCATE if abi >= 3 else 0)
    handled = ctypes.c_uint64(changes)  # struct landlock_ruleset_attr, its first field only
    ruleset = _libc.syscall(_SYS_LL_CREATE_RULESET, ctypes.byref(handled), ctypes.sizeof(handled), 0)
    if ruleset < 0:
        return False
    try:
        for path in paths:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                allowed = changes if stat.S_ISDIR(os.fstat(fd).st_mode) else changes & (_LL_WRITE_FILE | _LL_TRUNCATE)
                rule = ctypes.create_string_buffer(struct.pack("=Qi", allowed, fd), 12)  # path_beneath_attr
                if _libc.syscall(_SYS_LL_ADD_RULE, ruleset, 1, rule, 0) != 0:  # 1: LANDLOCK_RULE_PATH_BENEATH
                    return False
            finally:
                os.close(fd)
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return _libc.syscall(_SYS_LL_RESTRICT_SELF, ruleset, 0) == 0
    finally:
        os.close(ruleset)


def confine(limits: Limits, uid: int | None, nproc: int, workdir: str) -> None:
    """In a new worker process, before any student code: limits, no network, the sandbox uid,
    and no writing outside its own folder (Landlock: without root, the only thing between a
    notebook and the TA's files, other submissions' included; with root, a second wall).

    Runs between fork and exec for a fresh worker, and in a fork server's child (autograder/
    forkserver.py) before it runs the worker's loop: the same guarantees either way.
    """
    writes_only_beneath(workdir, os.devnull)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over-long output: EFBIG, not death
    for res, value in [
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_AS, limits.memory_mb << 20),
        (resource.RLIMIT_FSIZE, limits.file_mb << 20),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_NPROC, nproc),
        (resource.RLIMIT_CORE, 0),
    ]:
        resource.setrlimit(res, (value, value))
    if uid is not None:
        _libc.unshare(_CLONE_NEWNET)  # best effort: no network at all
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def worker_env(workdir: Path) -> dict[str, str]:
    """The whole environment of a worker: nothing inherited from the grader."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }


def _popen(worker: "Worker", req_read: int, rep_write: int, nproc: int) -> subprocess.Popen:
    """A fresh interpreter running worker.py (the default way to start a worker)."""
    limits, uid = worker.limits, worker.uid
    return subprocess.Popen(
        [sys.executable, "-s", "-B", "-P", "-u", "-c", _WORKER_SOURCE, str(req_read), str(rep_write)],
        stdin=subprocess.DEVNULL,
        stdout=worker._output,
        stderr=worker._output,
        cwd=worker.workdir,
        env=worker_env(worker.workdir),
        pass_fds=(req_read, rep_write),
        start_new_session=True,
        preexec_fn=lambda: confine(limits, uid, nproc, str(worker.workdir)),
    )


# How workers are started in this process: None for a fresh interpreter each (_popen), or a
# fork server's `spawn` (same signature; returns an object with pid, wait() and returncode).
_SPAWNER = None
_KEEP: set[int] = set()  # our own helper processes (fork servers): never swept as stragglers


def use_spawner(spawn, keep_pid: int | None = None) -> None:
    """Start every later Worker of this process with `spawn` (None: back to fresh interpreters)."""
    global _SPAWNER
    _SPAWNER = spawn
    if keep_pid is not None:
        _KEEP.add(keep_pid)


class Worker:
    """One sandboxed worker process. Use as a context manager; `close()` kills everything."""

    def __init__(self, files: dict[str, bytes], limits: Limits = Limits()):
        self.limits = limits
        self.uid, self._uid_lock = claim_uid() if IS_ROOT else (None, None)
        self._private = Path(tempfile.mkdtemp(prefix="autograder-trusted-"))  # root-only
        self.workdir = Path(tempfile.mkdtemp(prefix="autograder-sandbox-"))
        for name, data in files.items():
            (self.workdir / Path(name).name).write_bytes(data)
        if self.uid is not None:
            for path in [self.workdir, *self.workdir.iterdir()]:
                os.chown(path, self.uid, self.uid)
        self._output = open(self._private / "output.txt", "w+b")
        self._process: subprocess.Popen | None = None
        self._call_cpu_budget: float | None = None  # of the call in progress, if it has one
        self._cpu = _GroupCpu()  # CPU of every process of the worker, as seen so far
        self.deadline = time.monotonic() + limits.submission_seconds  # of the whole submission
        self._calls_left = limits.calls_seconds  # wall clock graded calls may still use
        self._function_used: dict[str, float] = {}  # wall clock used by each function's calls
        self._calls_end: float | None = None  # during a graded call: when its time is up
        self._calls_started = 0.0
        self._timed_out: dict[str, WorkerLost] = {}  # functions that timed out: never called again
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    # -- process life

    def _start(self) -> None:
        req_read, self._req = os.pipe()
        self._rep, rep_write = os.pipe()
        limits, uid = self.limits, self.uid
        nproc = limits.processes if uid is not None else len(_pids_of_uid(os.getuid())) + limits.processes
        spawn = _SPAWNER or _popen
        try:
            self._process = spawn(self, req_read, rep_write, nproc)
        except BaseException:
            os.close(self._req)
            os.close(self._rep)
            raise
        finally:
            os.close(req_read)
            os.close(rep_write)
        _LIVE.add(self._process.pid)
        self._request({"op": "ping"}, timeout=self.limits.start_seconds, what="starting Python")

    def close(self) -> None:
        """Kill the worker and everything it started; remove its files."""
        self._kill_only()
        if self._uid_lock is not None:
            os.close(self._uid_lock)
            self._uid_lock = None
        self._output.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
        shutil.rmtree(self._private, ignore_errors=True)

    def restart(self) -> None:
        """A fresh process with the same files (after a crash or a timeout)."""
        self._kill_only()
        self._start()

    def _kill_only(self) -> None:
        if self._process is None:
            return
        for fd in (self._req, self._rep):
            try:
                os.close(fd)
            except OSError:
                pass
        stragglers = [] if self.uid is not None else _descendants(self._process.pid)
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.uid is not None:
            kill_uid(self.uid)
        else:  # children that left the session: ours by descent, or orphans re-parented to us
            _LIVE.discard(self._process.pid)
            kill_and_wait(stragglers)
            kill_strays()
        self._process.wait()
        self._process = None

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests

    def output(self, limit: int = 4000) -> str:
        """The last `limit` characters the student's code printed."""
        self._output.flush()
        size = self._output.seek(0, os.SEEK_END)
        self._output.seek(max(0, size - limit))
        return self._output.read().decode("utf-8", "replace")

    def exec_cell(self, index: int, source: str) -> dict:
        return self._request(
            {"op": "exec", "cell": index, "source": source},
            timeout=self.limits.cell_seconds,
            what=f"running cell {index}",
        )[0]

    def provide(self, module: str, file: str) -> dict:
        """Make `file` (one of the worker's files, e.g. a unit's model class) importable as `module`."""
        return self._request({"op": "provide", "module": module, "file": file},
                             timeout=self.limits.cell_seconds, what=f"loading the provided {file}")[0]

    def call(self, header: dict, blobs: list[bytes], timeout: float | None = None,
             cpu_seconds: float | None = None) -> tuple[dict, list[bytes]]:
        """One graded call. `cpu_seconds`: a CPU-time budget for this call alone (e.g. a training
        run): the worker lowers its own soft RLIMIT_CPU for the call (SIGXCPU past it). Student
        code could raise it again, so the caller should also compare `cpu_time()` before and
        after; the worker's hard limit and the wall-clock timeout still bound the call."""
        if cpu_seconds is not None:
            header = dict(header, cpu_seconds=cpu_seconds)
        self._refuse_timed_out([header])
        self._call_cpu_budget = cpu_seconds
        start = self._open_calls(header)
        try:
            return self._request(dict(header, op="call"), blobs, timeout=timeout or self.limits.call_seconds,
                                 what="answering a graded call")
        except WorkerLost as lost:
            self._remember_timeout(header, lost)
            raise
        finally:
            self._call_cpu_budget = None
            self._close_calls(header, start)

    def call_many(self, headers: list[dict], blobs: list[bytes]) -> tuple[list[tuple[dict, list[bytes]]], WorkerLost | None]:
        """Several graded calls in one request (`blobs` shared by every header), answered in
        order; each answer has the wall-clock limit of one call. Returns the answers read and,
        if the worker was lost on the way, why (the answers read before stand)."""
        what = "answering a graded call"
        answers: list[tuple[dict, list[bytes]]] = []
        start = self._open_calls(headers[0])  # a batch is one check's calls: one function
        try:
            self._refuse_timed_out(headers)
            self._send({"op": "calls", "calls": [dict(h, op="call") for h in headers]}, blobs, what)
            while len(answers) < len(headers):
                answers.append(self._receive(self.limits.call_seconds, what, "call"))
        except WorkerLost as lost:
            if not lost.alive:
                self._remember_timeout(headers[len(answers)], lost)
            return answers, lost
        finally:
            self._close_calls(headers[0], start)
        return answers, None

    def _open_calls(self, header: dict) -> float:
        """Start timing graded calls of header's function: when they must end, by the total
        time of all calls and of this function's calls."""
        start = time.monotonic()
        used = self._function_used.get(str(header.get("target")), 0.0)
        self._calls_end = start + min(self._calls_left, self.limits.function_seconds - used)
        self._calls_started = start
        return start

    def _close_calls(self, header: dict, start: float) -> None:
        spent = time.monotonic() - start
        self._calls_left -= spent
        target = str(header.get("target"))
        self._function_used[target] = self._function_used.get(target, 0.0) + spent
        self._calls_end = None

    def _refuse_timed_out(self, headers: list[dict]) -> None:
        """A function that timed out once is not called again: its later calls fail at once."""
        for header in headers:
            lost = self._timed_out.get(str(header.get("target")))
            if lost is not None:
                raise WorkerLost(f"{lost.reason} (on an earlier input: it is not called again)",
                                 timed_out=True, alive=self._process is not None)
            if self._function_used.get(str(header.get("target")), 0.0) >= self.limits.function_seconds:
                raise WorkerLost(f"used up the {self.limits.function_seconds:g} s all graded calls of one "
                                 "function may take together", timed_out=True, alive=self._process is not None)
        if self._calls_left <= 0:
            raise WorkerLost(f"used up the {self.limits.calls_seconds:g} s all graded calls of a "
                             "submission may take together", timed_out=True, out_of_time=True,
                             alive=self._process is not None)

    def _remember_timeout(self, header: dict, lost: WorkerLost) -> None:
        if lost.timed_out and not lost.out_of_time and not lost.alive:
            self._timed_out.setdefault(str(header.get("target")), lost)

    def cpu_time(self) -> float:
        """CPU seconds (user + system) the worker and every process it started have used so far,
        read by us from /proc (see `group_cpu_time`). Never raises: a worker that has exited
        keeps the time last seen."""
        return group_cpu_time(self)

    def _request(self, header: dict, blobs=(), *, timeout: float, what: str) -> tuple[dict, list[bytes]]:
        self._send(header, blobs, what)
        return self._receive(timeout, what, header["op"])

    def _out_of_time(self, what: str) -> WorkerLost:
        """Why a wait ended at a bound of more than one request: the submission's deadline, the
        total time of graded calls (both end the submission), or one function's (only it)."""
        now = time.monotonic()
        if now >= self.deadline:
            reason = f"ran past the {self.limits.submission_seconds:g} s a whole submission may take"
        elif self._calls_end is not None and self._calls_left - (now - self._calls_started) <= 0.01:
            reason = f"used up the {self.limits.calls_seconds:g} s all graded calls of a submission may take together"
        else:
            return WorkerLost(f"used up the {self.limits.function_seconds:g} s all graded calls of one function "
                              f"may take together (while {what})", timed_out=True)
        return WorkerLost(f"{reason} (while {what})", timed_out=True, out_of_time=True)

    def _send(self, header: dict, blobs, what: str) -> None:
        if self._process is None:
            raise WorkerLost("is not running")
        if time.monotonic() >= self.deadline:
            raise self._out_of_time(what)
        if select.select([self._rep], [], [], 0)[0]:  # it spoke out of turn: a forged answer?
            self._kill_only()
            raise WorkerLost(f"sent a reply before it was asked anything, before {what}")
        try:
            wire.send(self._req, header, list(blobs))
        except (BrokenPipeError, OSError):
            raise self._lost(what, timed_out=False) from None

    def _receive(self, timeout: float, what: str, op: str) -> tuple[dict, list[bytes]]:
        now = time.monotonic()
        # the submission's deadline, and for graded calls their total time, bound every wait
        limit = min(self.deadline, self._calls_end) if op == "call" and self._calls_end else self.deadline
        deadline = min(now + timeout, limit)
        try:
            if self._call_cpu_budget is not None:
                self._await_within_budget(deadline, what)
            reply = wire.recv(self._rep, deadline=deadline)
            replies.check(op, reply[0])
            return reply
        except TimeoutError:
            if deadline >= limit:
                self._kill_only()
                raise self._out_of_time(what) from None
            raise self._lost(what, timed_out=True) from None
        except EOFError:
            raise self._lost(what, timed_out=False) from None
        except ValueError as exc:  # MalformedReply too
            self._kill_only()
            raise WorkerLost(f"sent back something unreadable while {what} ({exc})") from None

    def _await_within_budget(self, deadline: float, what: str) -> None:
        """Wait for the reply, measuring the CPU of the whole worker group meanwhile: a call with
        a CPU budget (training) must not escape it by working in processes it starts."""
        budget, start = self._call_cpu_budget, group_cpu_time(self)
        while not select.select([self._rep], [], [], max(0.0, min(0.25, deadline - time.monotonic())))[0]:
            if time.monotonic() >= deadline:
                return  # recv times out at once
            if group_cpu_time(self) - start > budget:
                self._kill_only()
                raise WorkerLost(f"used more than its budget of {budget:g} s of CPU time while {what} "
                                 "(counting every process it started)")

    def _lost(self, what: str, timed_out: bool) -> WorkerLost:
        """Kill the process and explain, in a student's terms, what happened to it."""
        process = self._process
        self._kill_only()
        code = process.returncode if process else None
        if timed_out:
            return WorkerLost(f"timed out while {what}: your code took too long (infinite loop or sleep?)",
                              timed_out=True)
        if code is not None and code < 0:
            sig = -code
            if sig == signal.SIGXCPU and self._call_cpu_budget is not None:
                return WorkerLost(f"used more than its budget of {self._call_cpu_budget:g} s of CPU time while {what}")
            if sig == signal.SIGXCPU:
                return WorkerLost(f"used more than {self.limits.cpu_seconds} s of CPU time while {what}")
            if sig == signal.SIGKILL:
                return WorkerLost(f"was killed while {what} (out of memory or CPU time?)")
            if sig == signal.SIGSEGV:
                return WorkerLost(f"crashed (segmentation fault) while {what}")
            return WorkerLost(f"was killed by signal {signal.Signals(sig).name} while {what}")
        if code:
            return WorkerLost(
                f"exited (status {code}) while {what}: do not call exit(), sys.exit() or os._exit() in the notebook"
            )
        return WorkerLost(f"stopped while {what}: do not call exit() or os._exit() in the notebook")


class _GroupCpu:
    """What `group_cpu_time` has seen of one worker's processes."""

    def __init__(self):
        self.own: dict[tuple[int, int], float] = {}  # (pid, start tick): its own user + system s
        self.alive: set[tuple[int, int]] = set()
        self.reaped = 0.0  # the worker's children's time it waited for (cutime + cstime)
        self.total = 0.0


def _cpu_of(pid: int) -> tuple[tuple[int, int], float, float] | None:
    """((pid, start tick), own CPU s, reaped children's CPU s) from /proc; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return (pid, int(fields[19])), (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def _group_pids(worker: "Worker") -> list[int]:
    """Every process of the worker: as root, every process of its uid (zombies too); otherwise
    the worker and its descendants, and the orphans it left (re-parented to us, a subreaper)."""
    if worker._process is None:
        return []
    if worker.uid is not None:
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.stat(f"/proc/{entry}").st_uid == worker.uid:
                        pids.append(int(entry))
                except OSError:
                    pass
        return pids
    ours = worker._process.pid
    others = (_LIVE | _KEEP) - {ours}
    found = [ours, *_descendants(ours)]
    excluded = set(others).union(*(_descendants(p) for p in others)) if others else set()
    return found + [p for p in _descendants(os.getpid()) if p not in excluded and p not in found]


def group_cpu_time(worker: "Worker") -> float:
    """CPU seconds used so far by every process of the worker's group: each process's own time
    at the last look (a process that exits between two looks loses at most what it used since
    the one before), plus the time of children the worker waited for that we never saw alive.

    Without cgroups nothing else sums a group's CPU: a process reaped by someone else than the
    worker takes its time with it. Callers look often during a long call (see
    `Worker._await_within_budget`). Never raises; monotonic.
    """
    seen = worker._cpu
    if worker._process is None:
        return seen.total
    alive = set()
    for pid in _group_pids(worker):
        sample = _cpu_of(pid)
        if sample is None:
            continue
        key, own, reaped = sample
        alive.add(key)
        seen.own[key] = max(own, seen.own.get(key, 0.0))
        if pid == worker._process.pid:
            seen.reaped = max(seen.reaped, reaped)
    seen.alive = alive
    gone = sum(t for k, t in seen.own.items() if k not in alive and k[0] != worker._process.pid)
    seen.total = max(seen.total, sum(seen.own.values()) + max(0.0, seen.reaped - gone))
    return seen.total


def become_subreaper() -> None:
    """Without root, orphans of the sandbox re-parent to us, so `close()` can find and kill them."""
    if not IS_ROOT:
        _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
