"""The kernel's confinement mechanisms a worker uses, each one optional.

Each function here either applies one mechanism to the calling process (a worker being
started: between fork and exec, or in a fork server's child) or sets one up from the trusted
side, and reports whether it could. What this host offers is probed once (`probe()`), in a
throwaway child, so that the trusted side knows in advance what every worker will get and a
worker that fails to apply a mechanism the probe found is an error, never a silent gap.

* seccomp (Linux 3.5+, any user): the worker may open no socket but a Unix one (no inet,
  inet6, netlink, vsock, packet ...), and no io_uring (whose socket operation would bypass
  the filter), no kernel keyring, no ptrace; where it has no IPC namespace of its own, no
  System V shared memory, semaphores or message queues, nor POSIX message queues, either.
* Landlock (Linux 5.13+, any user): it reads and executes only beneath the paths it is
  given, writes only beneath its own folder; from ABI 4 no TCP bind or connect, from ABI 6
  no abstract Unix socket and no signal to a process outside its own domain.
* namespaces (CAP_SYS_ADMIN): an empty network namespace and an IPC namespace of its own.
* a resource group (a writable cgroup v1 or v2 hierarchy, i.e. root outside a locked
  container): CPU quota, memory limit, process count, CPU accounting, kill as one.
* oom_score_adj 1000: under memory pressure the kernel kills the worker, not the grader.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import signal
import stat
import struct
import time
from dataclasses import asdict, dataclass
from pathlib import Path

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWIPC, CLONE_NEWNET = 0x08000000, 0x40000000
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2


# --------------------------------------------------------------------------- seccomp
#
# No Python binding of libseccomp is maintained and installable from PyPI (pyseccomp's last
# release is from 2021 and needs libseccomp.so on the host), and the filter is a dozen
# classic-BPF instructions, so it is written here (linux/seccomp.h, linux/filter.h).

_AF_UNIX = 1
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000  # | errno


def _errno(code: int) -> int:
    return _RET_ERRNO | code


# arch (linux/audit.h), syscall numbers: x86_64 (arch/x86/entry/syscalls) and the generic
# table arm64 uses (include/uapi/asm-generic/unistd.h).
# Always refused besides non-Unix sockets: io_uring (its socket operation would bypass the
# filter), kernel keyrings (add_key, request_key, keyctl: a user's keyring outlives the worker
# and is shared by every process of its uid), ptrace and process_vm_readv/writev (other
# processes of its uid: the grader itself, without root). Refused where the worker has no IPC
# namespace: System V shared memory, semaphores, message queues and POSIX message queues
# (shmget, semget, msgget, mq_open), which outlive it and other workers could open.
_SYSCALLS = {
    "x86_64": dict(arch=0xC000003E, socket=41, socketpair=53,
                   always=(425, 426, 427, 248, 249, 250, 101, 310, 311), ipc=(29, 64, 68, 240)),
    "aarch64": dict(arch=0xC00000B7, socket=198, socketpair=199,
                    always=(425, 426, 427, 217, 218, 219, 117, 270, 271), ipc=(194, 190, 186, 180)),
}
_X32_BIT = 0x40000000  # x86_64's x32 ABI: the same calls under other numbers


def _assemble(program: list[tuple]) -> bytes:
    """struct sock_filter[]: (code, k) or (code, k, label_if_true, label_if_false); a str
    alone marks a label. Jumps are forward offsets, resolved here."""
    labels, code = {}, []
    for item in program:
        if isinstance(item, str):
            labels[item] = len(code)
        else:
            code.append(item)
    out = b""
    for index, (op, k, *jumps) in enumerate(code):
        jt, jf = (labels[j] - index - 1 if j else 0 for j in (jumps + [None, None])[:2])
        out += struct.pack("=HBBI", op, jt, jf, k)
    return out


def seccomp_program(machine: str, deny_sysv_ipc: bool) -> bytes | None:
    """The filter for this machine's architecture; None where we have no table for it."""
    table = _SYSCALLS.get(machine)
    if table is None:
        return None
    ld_w, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, |JGE|K, BPF_RET|K
    denied = list(table["always"]) + (list(table["ipc"]) if deny_sysv_ipc else [])
    program = [
        (ld_w, 4),  # seccomp_data.arch
        (jeq, table["arch"], "native", None),
        (ret, _errno(errno.ENOSYS)),  # another ABI (int 0x80 on x86_64): nothing at all
        "native",
        (ld_w, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":
        program += [(jge, _X32_BIT, "deny", None)]
    program += [(jeq, table["socket"], "domain", None), (jeq, table["socketpair"], "domain", None)]
    program += [(jeq, nr, "deny", None) for nr in denied]
    program += [
        (ret, _RET_ALLOW),
        "domain",
        (ld_w, 16),  # low 32 bits of args[0]: the kernel reads the domain as an int
        (jeq, _AF_UNIX, "allow", None),
        (ret, _errno(errno.EACCES)),
        "deny",
        (ret, _errno(errno.EPERM)),
        "allow",
        (ret, _RET_ALLOW),
    ]
    return _assemble(program)


def deny_sockets(deny_sysv_ipc: bool) -> bool:
    """Install the seccomp filter on this process and all it starts. False if it could not."""
    program = seccomp_program(platform.machine(), deny_sysv_ipc)
    if program is None:
        return False
    buffer = ctypes.create_string_buffer(program, len(program))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = SockFprog(len(program) // 8, ctypes.addressof(buffer))
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) == 0


# --------------------------------------------------------------------------- Landlock
# (linux/landlock.h) access rights, by bit:
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_CHANGES = _WRITE_FILE | sum(1 << bit for bit in range(4, 13))  # remove_*, make_*
_REFER, _TRUNCATE = 1 << 13, 1 << 14  # ABI 2, ABI 3
_READS = _EXECUTE | _READ_FILE | _READ_DIR
_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE  # what a rule on a file may allow
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2  # ABI 4
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1, 2  # ABI 6
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # on every arch
_RULE_PATH_BENEATH = 1


def landlock_abi() -> int:
    """The kernel's Landlock version; 0 without it."""
    return max(0, _libc.syscall(_SYS_CREATE_RULESET, None, 0, 1))  # 1: ..._CREATE_RULESET_VERSION


def landlock(writable: list[str], readable: list[str] | None) -> int:
    """Restrict this process and all it starts: create, change or remove files only beneath
    `writable`; read and execute only beneath `writable` + `readable` (None: reads are not
    restricted); from ABI 4 no TCP bind or connect; from ABI 6 no abstract Unix socket or
    signal reaching outside. Paths that do not exist are skipped. Returns the ABI applied
    (0: no Landlock, nothing restricted)."""
    abi = landlock_abi()
    if abi < 1:
        return 0
    changes = _CHANGES | (_REFER if abi >= 2 else 0) | (_TRUNCATE if abi >= 3 else 0)
    handled = changes | (_READS if readable is not None else 0)
    attr = [handled]
    if abi >= 4:
        attr.append(_NET_BIND_TCP | _NET_CONNECT_TCP)  # handled, and no rule grants any port
    if abi >= 6:
        attr.append(_SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL)
    attr_bytes = ctypes.create_string_buffer(struct.pack(f"={len(attr)}Q", *attr), 8 * len(attr))
    ruleset = _libc.syscall(_SYS_CREATE_RULESET, attr_bytes, 8 * len(attr), 0)
    if ruleset < 0:
        return 0
    try:
        rules = [(p, handled) for p in writable] + [(p, _READS) for p in readable or []]
        for path, allowed in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # e.g. /lib64 on a machine without it
            try:
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    allowed &= _FILE_RIGHTS
                rule = ctypes.create_string_buffer(struct.pack("=Qi", allowed & handled, fd), 12)
                if _libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, rule, 0) != 0:
                    return 0
            finally:
                os.close(fd)
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return 0
        return abi if _libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0) == 0 else 0
    finally:
        os.close(ruleset)


# --------------------------------------------------------------------------- namespaces, OOM


def unshare(flags: int) -> bool:
    return _libc.unshare(flags) == 0


def set_oom_score_adj(value: int) -> bool:
    """Set this process's oom_score_adj. Raising it needs no privilege; as root (with
    CAP_SYS_RESOURCE) it also becomes the floor the process may not lower it below."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------- what the host offers


@dataclass(frozen=True)
class HostConfinement:
    """What a worker on this host gets (probed once per grading process)."""

    network_namespace: bool  # an empty network namespace (root with CAP_SYS_ADMIN)
    ipc_namespace: bool  # System V IPC objects of its own, gone with it (same)
    seccomp: bool  # no socket but Unix ones, no io_uring, keyring, ptrace; no SysV IPC without the namespace
    landlock: int  # Landlock ABI (0: none): reads and writes confined to listed folders
    cgroups: str  # "v1", "v2" or "" (no writable hierarchy): CPU, memory, processes as a group

    @property
    def network(self) -> bool:
        """Whether a worker is cut from the network (every inet socket refused, or none routable)."""
        return self.network_namespace or self.seccomp

    def as_dict(self) -> dict:
        return asdict(self)


def _try_in_child(mechanism) -> bool:
    """Whether `mechanism()` succeeds, tried in a short-lived child so we stay unchanged."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only makes a few syscalls
        try:
            os.write(write, b"1" if mechanism() else b"0")
        finally:
            os._exit(0)
    os.close(write)
    try:
        return os.read(read, 1) == b"1"
    finally:
        os.close(read)
        os.waitpid(pid, 0)


def probe(root: bool) -> HostConfinement:
    """What this host lets a worker have, each mechanism tried for real (namespaces and the
    filter in throwaway children, a resource group made and removed): `root` is whether the
    grader is, since only root can switch to the sandbox uid and own cgroups."""
    netns = root and _try_in_child(lambda: unshare(CLONE_NEWNET))
    ipcns = root and _try_in_child(lambda: unshare(CLONE_NEWIPC))
    return HostConfinement(
        network_namespace=netns, ipc_namespace=ipcns,
        seccomp=_try_in_child(lambda: deny_sockets(deny_sysv_ipc=not ipcns)),
        landlock=landlock_abi(),
        cgroups=ResourceGroup.version() if root else "",
    )


# --------------------------------------------------------------------------- resource groups

_CGROUP = Path("/sys/fs/cgroup")
_V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "pids")


def _own_cgroups() -> dict[str, str]:
    """controller -> our cgroup's path in its hierarchy ("" -> the v2 unified one)."""
    found = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            found[controller] = path
    return found


class ResourceGroup:
    """A worker's own cgroup (v1: one per controller; v2: one), created below the grader's
    own, so a container's or a test harness's limits still bound it: a CPU quota, a memory
    limit, a process count, CPU accounting for the whole group, and one kill for all of it.

    Creating it needs a writable hierarchy (root, and not a container's read-only mount);
    where that fails, `dirs` stays empty and every method does nothing: the worker then has
    only its per-process rlimits (the stated fallback).
    """

    def __init__(self, name: str, memory_mb: int, cpus: float, processes: int):
        self.dirs: list[Path] = []
        self.unified = False
        try:
            if (_CGROUP / "cgroup.controllers").exists():
                self._make_v2(name, memory_mb, cpus, processes)
            else:
                self._make_v1(name, memory_mb, cpus, processes)
        except OSError:
            self.remove()
            self.dirs = []

    @staticmethod
    def version() -> str:
        """Which hierarchy a group can be made in here ("" if none), by making a test group."""
        group = ResourceGroup(f"autograder-probe-{os.getpid()}", 1024, 1.0, 64)
        try:
            return ("v2" if group.unified else "v1") if group.dirs else ""
        finally:
            group.remove()

    def _make_v1(self, name, memory_mb, cpus, processes) -> None:
        own = _own_cgroups()
        settings = {
            "memory": {"memory.limit_in_bytes": memory_mb << 20},
            "cpu": {"cpu.cfs_period_us": 100_000, "cpu.cfs_quota_us": int(cpus * 100_000)},
            "cpuacct": {},
            "pids": {"pids.max": processes},
        }
        for controller in _V1_CONTROLLERS:
            if controller not in own:
                raise OSError(f"no cgroup v1 {controller} controller")
            mount = _CGROUP / controller  # co-mounted ones ("cpu,cpuacct") have this link too
            folder = mount / own[controller].lstrip("/") / name
            if folder in self.dirs:
                continue
            folder.mkdir()
            self.dirs.append(folder)
            for file, value in settings[controller].items():
                (folder / file).write_text(str(value))

    def _make_v2(self, name, memory_mb, cpus, processes) -> None:
        self.unified = True
        parent = _CGROUP / _own_cgroups().get("", "/").lstrip("/")
        enabled = (parent / "cgroup.subtree_control").read_text().split()
        missing = [c for c in ("cpu", "memory", "pids") if c not in enabled]
        if missing:  # refused (EBUSY) where our own group holds processes and is not the root
            (parent / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))
        folder = parent / name
        folder.mkdir()
        self.dirs.append(folder)
        (folder / "memory.max").write_text(str(memory_mb << 20))
        if (folder / "memory.swap.max").exists():  # no swapping past the limit
            (folder / "memory.swap.max").write_text("0")
        (folder / "cpu.max").write_text(f"{int(cpus * 100_000)} 100000")
        (folder / "pids.max").write_text(str(processes))

    @property
    def procs_files(self) -> list[str]:
        """What a process writes its pid to to join the group (the worker does, at start)."""
        return [str(d / "cgroup.procs") for d in self.dirs]

    def pids(self) -> list[int]:
        found: set[int] = set()
        for folder in self.dirs:
            try:
                found.update(int(p) for p in (folder / "cgroup.procs").read_text().split())
            except OSError:
                pass
        return sorted(found)

    def kill(self, seconds: float = 10.0) -> None:
        """SIGKILL every process of the group and wait until none is left in it."""
        if not self.dirs:
            return
        kill_file = self.dirs[0] / "cgroup.kill"  # v2, Linux 5.14+: atomic, even for a fork bomb
        deadline = time.monotonic() + seconds
        while self.pids() and time.monotonic() < deadline:
            if self.unified and kill_file.exists():
                try:
                    kill_file.write_text("1")
                except OSError:
                    pass
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.005)

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) used by every process ever in the group; None without one."""
        for folder in self.dirs:
            try:
                if self.unified:
                    for line in (folder / "cpu.stat").read_text().splitlines():
                        if line.startswith("usage_usec "):
                            return int(line.split()[1]) / 1e6
                elif (folder / "cpuacct.usage").exists():
                    return int((folder / "cpuacct.usage").read_text()) / 1e9
            except (OSError, ValueError):
                return None
        return None

    def remove(self) -> None:
        """Kill what is left and remove the group, and any group below it (one its processes'
        grader made and left when it was killed)."""
        nested = [ResourceGroup.existing(sub) for d in self.dirs for sub in _subfolders(d)]
        for group in nested:
            group.remove()
        self.kill()
        for folder in reversed(self.dirs):
            for _ in range(200):  # a killed process leaves its group a moment after it died
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.005)
        self.dirs = []

    @classmethod
    def existing(cls, *dirs: Path) -> "ResourceGroup":
        """A group made earlier (e.g. by a grader that was killed), to kill and remove."""
        group = cls.__new__(cls)
        group.dirs, group.unified = list(dirs), (_CGROUP / "cgroup.controllers").exists()
        return group


def _subfolders(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir()]
    except OSError:
        return []


def sweep_groups(prefix: str, is_free) -> None:
    """Remove the groups below ours named `prefix`<uid>-… whose uid `is_free(uid)` says no
    live worker holds: left by a grader that was killed before it could close its workers."""
    own = _own_cgroups()
    folders = {(_CGROUP / c / own[c].lstrip("/")) if c else (_CGROUP / own[c].lstrip("/"))
               for c in own if c in ("",) + _V1_CONTROLLERS}
    for folder in folders:
        for sub in _subfolders(folder):
            uid = sub.name.removeprefix(prefix).split("-")[0]
            if sub.name.startswith(prefix) and uid.isdigit() and is_free(int(uid)):
                ResourceGroup.existing(sub).remove()


def join(procs_files: list[str]) -> None:
    """In the worker being started: move this process into its resource group."""
    for path in procs_files:
        with open(path, "w") as f:
            f.write(str(os.getpid()))
