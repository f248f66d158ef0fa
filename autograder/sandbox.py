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
* no network: no socket but a Unix one (seccomp), and as root an empty network namespace;
* reads only beneath its own folder, the Python installation and the system's libraries,
  writes only in its own folder (Landlock);
* the OOM killer's first choice (oom_score_adj 1000), never the grader;
* when the grader is root: an unprivileged uid of its own with no groups, drawn from a large
  range, an IPC namespace of its own, and a resource group (cgroup: CPU quota, memory,
  process count) killed and removed as one when the worker is closed.

`autograder/confinement.py` holds the kernel mechanisms; what this host offers is probed
once (`host()`), and each missing one has its stated fallback (README, "What the trust
boundary guarantees"). Without root, leftover processes are found as descendants of the
grader and killed.
"""

from __future__ import annotations

import ctypes
import glob
import inspect
import os
import random
import resource
import select
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import confinement, replies
from . import worker as wire
from .verdict import Kind

IS_ROOT = os.geteuid() == 0
# Sandbox uids. By default each worker draws one at random from 2^27 uids starting at
# 0x70000000: above every account and container range in common use, so that workers of
# graders in different containers of one host (who cannot see each other's locks) share no
# uid, and so no RLIMIT_NPROC count (which the kernel keeps per uid, across the host: two
# workers sharing a uid would share its `Limits.processes`, and a fork bomb in one would
# starve the other). With k workers alive on one host, two draw the same uid with a chance of
# about k^2 / 2^28; even then kill(-1) as that uid reaches only its own container's processes
# (its own PID namespace). AUTOGRADER_SANDBOX_UID pins a small range instead, claimed in
# order (the tests; a host whose uid map is narrow).
_PINNED_UID = os.environ.get("AUTOGRADER_SANDBOX_UID")
SANDBOX_UID = int(_PINNED_UID) if _PINNED_UID else 0x70000000  # first uid of the range
UID_POOL = 1000 if _PINNED_UID else 1 << 27
_LOCKS = Path("/run/autograder-sandbox") if Path("/run").is_dir() else Path("/tmp/.autograder-sandbox")
_WORKER_SOURCE = inspect.getsource(wire)
_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker. Units may override any of them in their spec."""

    cpu_seconds: int = 300  # whole worker lifetime: the notebook plus every graded call
    memory_mb: int = 1024  # address space: `import torch` + matplotlib need ~750 MB of it; the
    # rest (~250 MB of data) keeps grader + worker inside Gradescope's 768 MB default container
    file_mb: int = 16  # largest file the worker may write, stdout included
    open_files: int = 256
    processes: int = 64  # threads count too
    cpus: float = 1.0  # CPU share of the whole worker group (cgroup quota), all its processes
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
    `kind`: what ended the request, as the grader reports it (`verdict.Kind`).
    `gone_before`: the worker had already ended when the request was to be sent (after its
    last reply: e.g. a child answered for it): nothing of this request's doing.
    """

    def __init__(self, reason: str, *, kind: Kind = Kind.CRASHED, timed_out: bool = False,
                 out_of_time: bool = False, alive: bool = False, gone_before: bool = False):
        super().__init__(reason)
        self.reason, self.kind = reason, kind
        self.timed_out, self.out_of_time, self.alive = timed_out, out_of_time, alive
        self.gone_before = gone_before


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


def _lock_uid(uid: int) -> int | None:
    """Take the lock file of `uid` (an fd to release with `release_uid`), or None if a live
    worker holds it. A lock file is removed when released, so that drawing from 2^27 uids
    leaves no trail of files; a lock taken on a file removed meanwhile is retried."""
    import fcntl

    _LOCKS.mkdir(mode=0o700, exist_ok=True)
    path = _LOCKS / f"{uid}.lock"
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # its holder removed it between our open and our lock: take a new one


def _uid_is_free(uid: int) -> bool:
    """Whether no live worker holds `uid` (checked by taking and releasing its lock)."""
    fd = _lock_uid(uid)
    if fd is None:
        return False
    release_uid(uid, fd)
    return True


def release_uid(uid: int, fd: int) -> None:
    try:
        os.unlink(_LOCKS / f"{uid}.lock")  # still locked by us: nobody holds this file
    except FileNotFoundError:
        pass
    os.close(fd)


def kill_unclaimed() -> None:
    """Kill every process of every sandbox uid that no live worker holds.

    A worker kills its uid's processes itself when it closes; this is a second sweep (the
    Gradescope guard runs it before Otter starts its logging server and kernel). It spares the
    uids whose lock a live worker holds, so it never kills another grading's worker.
    """
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
    for uid in sorted(uids):
        fd = _lock_uid(uid)
        if fd is None:  # a live worker (of another grading) owns this uid
            continue
        try:
            kill_uid(uid)
        finally:
            release_uid(uid, fd)


def claim_uid() -> tuple[int, int]:
    """A sandbox uid no other worker on this machine is using: (uid, lock fd for `release_uid`).

    Each live worker has a uid of its own, so closing one (kill every process of its uid)
    never touches another, whichever grader process started it. Drawn at random from the
    range (in order when AUTOGRADER_SANDBOX_UID pins it).
    """
    candidates = (range(SANDBOX_UID, SANDBOX_UID + UID_POOL) if _PINNED_UID
                  else (SANDBOX_UID + random.SystemRandom().randrange(UID_POOL) for _ in range(1000)))
    for uid in candidates:
        fd = _lock_uid(uid)
        if fd is None:
            continue
        if _pids_of_uid(uid):  # left over from a grader that died: clear it first
            kill_uid(uid)
        return uid, fd
    raise RuntimeError(f"no free sandbox uid in {UID_POOL} from {SANDBOX_UID}")


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
                reaped = os.waitpid(pid, os.WNOHANG)[0]
            except ChildProcessError:  # not ours: gone once it is a zombie (its parent reaps it)
                if not _alive(pid):
                    pending.discard(pid)
                continue
            # Ours (an orphan re-parented to us): gone only once reaped. Judged by its state
            # instead, one that turned zombie just after this waitpid would be left unreaped.
            if reaped == pid:
                pending.discard(pid)
        if pending:
            time.sleep(0.002)
    return signalled


def kill_strays(seconds: float = 10.0, spare: frozenset[int] = frozenset()) -> None:
    """Kill and wait out every process below us that is no live worker's and no fork server.

    Without root these are orphans a submission left (re-parented to us, a subreaper).
    Repeated until none is left, since a stray can fork while it is being killed; given up
    after `seconds` (a process in uninterruptible sleep cannot be waited out). `spare`: our
    children someone else reaps (a closing worker's own process: its Popen wants its status).
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        strays = [p for p in _descendants(os.getpid())
                  if p not in _LIVE and p not in _KEEP and p not in spare and not _is_live_child(p) and _alive(p)]
        if not strays or not kill_and_wait(strays, max(0.0, deadline - time.monotonic())):
            return


def _unread_bytes(fd: int) -> int:
    """How many bytes wait in the pipe `fd` (0 at its end: every writer has closed it)."""
    import fcntl
    import termios

    return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, bytes(4)), sys.byteorder, signed=True)


def _exiting(pid: int) -> bool:
    """Whether `pid` has ended or is ending (PF_EXITING: tearing down torch's address space takes
    a few ms, during which it still looks alive)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return True
    return fields[0] in ("Z", "X") or bool(int(fields[6]) & 0x4)


def _alive(pid: int) -> bool:
    try:
        return _state(str(pid)) not in ("Z", "X")
    except OSError:
        return False


def _is_live_child(pid: int) -> bool:
    """Whether pid descends from a worker still in use (kept when another worker is closed)."""
    return any(pid in _descendants(live) for live in _LIVE)


landlock_abi = confinement.landlock_abi
_HOST: confinement.HostConfinement | None = None


def host() -> confinement.HostConfinement:
    """What confinement a worker gets on this host (probed once per process)."""
    global _HOST
    if _HOST is None:
        _HOST = confinement.probe(IS_ROOT)
        if _HOST.cgroups:
            confinement.sweep_groups("autograder-", _uid_is_free)
        if not _HOST.network:  # the one gap a TA must know of before grading untrusted code
            print("autograder: warning: this kernel offers neither seccomp nor a network namespace: "
                  "student code can reach the network", file=sys.stderr)
        if not _HOST.landlock:
            print("autograder: warning: this kernel has no Landlock: student code can read (and, "
                  "without root, write) every file the grader's user can", file=sys.stderr)
    return _HOST


def readable_paths() -> list[str]:
    """Where a worker may read and execute besides its own folder: the Python installation
    and its packages, the system's programs and libraries, and the few files of /etc, /dev,
    /proc and /sys that Python, torch (cpuinfo), NumPy and matplotlib read. Not the project,
    not another worker's folder, not /tmp, not /home, not /root: nothing else."""
    python = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
              os.path.dirname(sys.executable), os.path.dirname(os.path.realpath(sys.executable))}
    python |= {p for name in ("stdlib", "platstdlib", "purelib", "platlib")
               if (p := sysconfig.get_paths().get(name))}
    project = os.path.realpath(Path(__file__).resolve().parents[1])
    prefixes = [os.path.realpath(p) for p in python]
    for entry in sys.path:  # packages installed elsewhere (a .pth file), never the project
        real = os.path.realpath(entry) if entry else ""
        if entry and os.path.isdir(real) and (not real.startswith(project + os.sep) and real != project
                                              or any(real.startswith(p) for p in prefixes)):
            python.add(entry)
    system = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
              "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
              "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/mime.types",
              *glob.glob("/etc/python3*"), "/etc/matplotlibrc", "/etc/fonts",
              "/dev/urandom", "/dev/random", "/dev/zero",
              "/proc/self", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat", "/proc/sys/vm/overcommit_memory",
              "/sys/devices/system/cpu", "/sys/devices/system/node",
              "/sys/kernel/mm/transparent_hugepage"]
    return sorted(python) + system


def plan(uid: int | None, group: "confinement.ResourceGroup | None") -> dict:
    """What `confine` must apply to a worker (JSON, so a fork server can be sent it)."""
    found = host()
    return {
        "network_namespace": uid is not None and found.network_namespace,
        "ipc_namespace": uid is not None and found.ipc_namespace,
        "seccomp": found.seccomp,
        "landlock": found.landlock,
        "readable": readable_paths(),
        "cgroup_procs": group.procs_files if group is not None else [],
    }


class ConfinementFailed(OSError):
    """A mechanism this host offers (its probe succeeded) failed for one worker."""


def confine(limits: Limits, uid: int | None, nproc: int, workdir: str, plan: dict) -> None:
    """In a new worker process, before any student code: its resource group, the OOM killer's
    first choice, reads and writes confined (Landlock), no sockets but Unix ones (seccomp),
    limits, namespaces, the sandbox uid. `plan` (from `plan()`) says which mechanisms this
    host has; one of them failing here raises, so a worker never starts with less than the
    host promised.

    Runs between fork and exec for a fresh worker, and in a fork server's child (autograder/
    forkserver.py) before it runs the worker's loop: the same guarantees either way.
    """
    confinement.join(plan["cgroup_procs"])
    # As root this also makes 1000 the floor: the sandbox uid cannot lower it again. (Raising
    # one's own score is never refused where /proc is mounted: no fallback to plan for.)
    confinement.set_oom_score_adj(1000)
    if plan["landlock"] and not confinement.landlock([workdir, os.devnull], plan["readable"]):
        raise ConfinementFailed("Landlock")
    ipcns = plan["ipc_namespace"] and confinement.unshare(confinement.CLONE_NEWIPC)
    if plan["ipc_namespace"] and not ipcns:
        raise ConfinementFailed("IPC namespace")
    if plan["network_namespace"] and not confinement.unshare(confinement.CLONE_NEWNET):
        raise ConfinementFailed("network namespace")
    if plan["seccomp"] and not confinement.deny_sockets(deny_sysv_ipc=not ipcns):
        raise ConfinementFailed("seccomp")
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


def popen_worker(worker: "Worker", req_read: int, rep_write: int, nproc: int) -> subprocess.Popen:
    """A fresh interpreter running worker.py (the default way to start a worker)."""
    limits, uid, how = worker.limits, worker.uid, worker.plan
    return subprocess.Popen(
        [sys.executable, "-s", "-B", "-P", "-u", "-c", _WORKER_SOURCE, str(req_read), str(rep_write)],
        stdin=subprocess.DEVNULL,
        stdout=worker.output_file,
        stderr=worker.output_file,
        cwd=worker.workdir,
        env=worker_env(worker.workdir),
        pass_fds=(req_read, rep_write),
        start_new_session=True,
        preexec_fn=lambda: confine(limits, uid, nproc, str(worker.workdir), how),
    )


# How workers are started in this process: None for a fresh interpreter each (popen_worker), or a
# fork server's `spawn` (same signature; returns an object with pid, wait() and returncode).
_SPAWNER = None
_KEEP: set[int] = set()  # our own helper processes (fork servers): never swept as stragglers


def stop_keeping(pid: int) -> None:
    """`pid` (kept by `use_spawner`) is no longer a helper of ours: from now on it is swept
    like any worker (a fork server that became a worker, or one that was closed)."""
    _KEEP.discard(pid)


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
        self.group: confinement.ResourceGroup | None = None
        if host().cgroups:
            self.group = confinement.ResourceGroup(
                f"autograder-{self.uid if self.uid is not None else os.getpid()}-{id(self):x}",
                limits.memory_mb, limits.cpus, limits.processes)
        self.plan = plan(self.uid, self.group)
        self._private = Path(tempfile.mkdtemp(prefix="autograder-trusted-"))  # root-only
        self.workdir = Path(tempfile.mkdtemp(prefix="autograder-sandbox-"))
        for name, data in files.items():
            (self.workdir / Path(name).name).write_bytes(data)
        if self.uid is not None:
            for path in [self.workdir, *self.workdir.iterdir()]:
                os.chown(path, self.uid, self.uid)
        self.output_file = open(self._private / "output.txt", "w+b")
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
        spawn = _SPAWNER or popen_worker
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
        if self.group is not None:
            self.group.remove()
            self.group = None
        if self._uid_lock is not None:
            release_uid(self.uid, self._uid_lock)
            self._uid_lock = None
        self.output_file.close()
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
        if self.group is not None:  # every process it started, whatever uid or session
            self.group.kill()
        if self.uid is not None:
            kill_uid(self.uid)
        else:  # children that left the session: ours by descent, or orphans re-parented to us
            _LIVE.discard(self._process.pid)
            kill_and_wait(stragglers)
            kill_strays(spare=frozenset({self._process.pid}))
        self._process.wait()
        self._process = None

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests

    def output(self, limit: int = 4000) -> str:
        """The last `limit` characters the student's code printed."""
        self.output_file.flush()
        size = self.output_file.seek(0, os.SEEK_END)
        self.output_file.seek(max(0, size - limit))
        return self.output_file.read().decode("utf-8", "replace")

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
                                 kind=lost.kind, timed_out=True, alive=self._process is not None)
            if self._function_used.get(str(header.get("target")), 0.0) >= self.limits.function_seconds:
                raise WorkerLost(f"used up the {self.limits.function_seconds:g} s all graded calls of one "
                                 "function may take together", kind=Kind.TIME_SPENT, timed_out=True,
                                 alive=self._process is not None)
        if self._calls_left <= 0:
            raise WorkerLost(f"used up the {self.limits.calls_seconds:g} s all graded calls of a "
                             "submission may take together", kind=Kind.OUT_OF_TIME, timed_out=True,
                             out_of_time=True, alive=self._process is not None)

    def _remember_timeout(self, header: dict, lost: WorkerLost) -> None:
        if lost.timed_out and not lost.out_of_time and not lost.alive:
            self._timed_out.setdefault(str(header.get("target")), lost)

    def cpu_time(self) -> float:
        """CPU seconds (user + system) the worker and every process it started have used so far,
        read by us: from its cgroup where it has one, else from /proc (see `group_cpu_time`).
        Never raises: a worker that has exited keeps the time last seen."""
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
                              f"may take together (while {what})", kind=Kind.TIME_SPENT, timed_out=True)
        return WorkerLost(f"{reason} (while {what})", kind=Kind.OUT_OF_TIME, timed_out=True, out_of_time=True)

    def _send(self, header: dict, blobs, what: str) -> None:
        if self._process is None:
            raise WorkerLost("is not running")
        if time.monotonic() >= self.deadline:
            raise self._out_of_time(what)
        if select.select([self._rep], [], [], 0)[0]:
            if not _unread_bytes(self._rep):  # end of file: the worker and all it started are gone
                lost = self._lost(what, timed_out=False)
                lost.gone_before = True
                raise lost
            self._kill_only()  # it spoke out of turn: a forged answer?
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
            if self._process is not None and (self._process.poll() is not None or _exiting(self._process.pid)):
                # The worker never exits after replying: a process it started answered for it
                # and it ended (or ends) itself. Its next request would meet a dead worker: the
                # loss is this request's.
                raise self._lost(what, timed_out=False)
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
                                 "(counting every process it started)", kind=Kind.OVER_CPU)

    def _lost(self, what: str, timed_out: bool) -> WorkerLost:
        """Kill the process and explain, in a student's terms, what happened to it."""
        process = self._process
        self._kill_only()
        code = process.returncode if process else None
        if timed_out:
            return WorkerLost(f"timed out while {what}: your code took too long (infinite loop or sleep?)",
                              kind=Kind.TIMED_OUT, timed_out=True)
        if code is not None and code < 0:
            sig = -code
            if sig == signal.SIGXCPU and self._call_cpu_budget is not None:
                return WorkerLost(f"used more than its budget of {self._call_cpu_budget:g} s of CPU time while {what}",
                                  kind=Kind.OVER_CPU)
            if sig == signal.SIGXCPU:
                return WorkerLost(f"used more than {self.limits.cpu_seconds} s of CPU time while {what}",
                                  kind=Kind.OVER_CPU)
            if sig == signal.SIGKILL:
                return WorkerLost(f"was killed while {what} (out of memory or CPU time?)", kind=Kind.KILLED)
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
    """CPU seconds used so far by every process of the worker's group: from its cgroup's CPU
    accounting where it has one. Otherwise, from /proc: each process's own time
    at the last look (a process that exits between two looks loses at most what it used since
    the one before), plus the time of children the worker waited for that we never saw alive.

    Without cgroups nothing else sums a group's CPU: a process reaped by someone else than the
    worker takes its time with it. Callers look often during a long call (see
    `Worker._await_within_budget`). Never raises; monotonic.
    """
    if worker.group is not None:  # a cgroup counts every process it ever held, reaped or not
        used = worker.group.cpu_seconds()
        if used is not None:
            return used
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


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent dies (e.g. a fork server with the
    grader that started it, a grading process with the CLI)."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def become_subreaper() -> None:
    """Without root, orphans of the sandbox re-parent to us, so `close()` can find and kill them."""
    if not IS_ROOT:
        _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
