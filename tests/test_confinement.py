"""The worker's kernel confinement (autograder/confinement.py), tried as a hostile notebook would:
no network on any path (as root, as root without CAP_SYS_ADMIN as on Gradescope, as an ordinary
user), nothing readable outside what a worker needs, System V IPC that does not outlive it, a
resource group, the OOM killer's first choice, a sandbox uid drawn from a large range.

A cell's findings are printed as one JSON line (`CELL` below) and read back from its output.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder import confinement, sandbox

from conftest import EXPECTED_SANDBOX_UID, PROJECT, PYTHON, REFERENCE, leftover_processes

SHM_KEY = 0x41470000 + EXPECTED_SANDBOX_UID % 0x10000  # one per pytest worker

# What a hostile notebook tries; {port}, {paths}, {create} are filled in by `cell()`.
CELL = r'''
import ctypes, json, os, socket
_found = {{}}
try:
    with socket.create_connection(("127.0.0.1", {port}), timeout=5):
        _found["tcp"] = "connected"
except OSError as exc:
    _found["tcp"] = type(exc).__name__
try:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as _s:
        _s.sendto(b"leak", ("127.0.0.1", {port}))
    _found["udp"] = "sent"
except OSError as exc:
    _found["udp"] = type(exc).__name__
_found["readable"] = []
for _path in {paths}:
    try:
        with open(_path, "rb") as _f:
            _f.read(1)
        _found["readable"].append(_path)
    except OSError:
        pass
_libc = ctypes.CDLL(None, use_errno=True)
_shm = _libc.shmget({key}, 4096, (0o1000 | 0o666) if {create} else 0)  # IPC_CREAT if create
_found["shm"] = _shm if _shm >= 0 else -ctypes.get_errno()
_found["oom_score_adj"] = open("/proc/self/oom_score_adj").read().strip()
try:
    with open("/proc/self/oom_score_adj", "w") as _f:
        _f.write("0")
    _found["oom_lowered"] = True
except OSError:
    _found["oom_lowered"] = False
print("FOUND" + json.dumps(_found))
'''


def cell(port: int, paths: list[str], create: bool) -> str:
    return CELL.format(port=port, paths=repr(paths), key=SHM_KEY, create=create)


def found(worker) -> dict:
    reply = worker.exec_cell(0, worker.cell)  # the cell a test gave it
    assert reply["ok"], worker.output()
    text = worker.output()
    return json.loads(text[text.rindex("FOUND") + 5:].splitlines()[0])


def shm_keys() -> set[int]:
    """Keys of the System V shared memory segments the host (our IPC namespace) holds."""
    lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    return {int(line.split()[0]) for line in lines}


@pytest.fixture
def listeners():
    """A TCP listener and a UDP socket on loopback in the trusted process; yields their port and
    a function telling whether anything reached either."""
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    tcp.setblocking(False)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", tcp.getsockname()[1]))
    udp.setblocking(False)

    def reached() -> list[str]:
        got = []
        for sock, what in ((tcp, "tcp"), (udp, "udp")):
            try:
                sock.accept() if what == "tcp" else sock.recv(64)
                got.append(what)
            except BlockingIOError:
                pass
        return got

    yield tcp.getsockname()[1], reached
    tcp.close()
    udp.close()


@pytest.fixture
def secret_copy():
    """A world-readable copy of the reference outside the project (a TA's scratch folder)."""
    folder = Path(tempfile.mkdtemp(prefix="autograder-copy-"))
    os.chmod(folder, 0o755)
    copy = folder / "softmax.py"
    shutil.copy(REFERENCE, copy)
    os.chmod(copy, 0o644)
    yield str(copy)
    shutil.rmtree(folder, ignore_errors=True)


# A grading process's view: two workers (the second forked from a fork server; the first one
# too unless "fresh"), the second one probing the first one's folder (made world-readable, so
# only Landlock can refuse it) and the shared-memory segment the first one made.
# Argument: JSON {cells: [first, second]}; prints the host's confinement and what each found.
SCRIPT = r'''
import json, os, sys
from autograder import sandbox
from autograder.pool import ForkServer

args = json.loads(sys.argv[1])

def found(worker, source):
    assert worker.exec_cell(0, source)["ok"], worker.output()
    text = worker.output()
    return json.loads(text[text.rindex("FOUND") + 5:].splitlines()[0])

out = {"host": sandbox.host().as_dict()}
with ForkServer() as server:
    if args["fresh"]:
        sandbox.use_spawner(None)  # the first worker: a fresh interpreter
    first = sandbox.Worker({"softmax.ipynb": b"{}"})
    sandbox.use_spawner(server.spawn, keep_pid=server.pid)
    os.chmod(first.workdir, 0o755)
    os.chmod(first.workdir / "softmax.ipynb", 0o644)
    neighbour = str(first.workdir / "softmax.ipynb")
    out["first"] = found(first, args["cells"][0].replace("NEIGHBOUR", neighbour))
    second = sandbox.Worker({"softmax.ipynb": b"{}"})
    out["second"] = found(second, args["cells"][1].replace("NEIGHBOUR", neighbour))
    second.close()
    first.close()
print("SCRIPT" + json.dumps(out))
'''


def run_script(port: int, paths: list[str], fresh: bool, prefix: list[str], **kwargs) -> dict:
    paths = ["NEIGHBOUR", *paths]
    args = json.dumps({"fresh": fresh, "cells": [cell(port, paths, True), cell(port, paths, False)]})
    command = [str(PYTHON), "-c", SCRIPT, args]
    if prefix:  # capsh runs a shell command line
        command = [*prefix, " ".join(shlex.quote(c) for c in command)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout[done.stdout.rindex("SCRIPT") + 6:].splitlines()[0])


def assert_confined(result: dict, reached: list[str]) -> None:
    """Neither worker reached the network, read anything outside its own folder (its
    neighbour's included), found the other's shared memory, or lowered its OOM score."""
    for name in ("first", "second"):
        got = result[name]
        assert got["tcp"] == "PermissionError" and got["udp"] == "PermissionError", got
        assert got["oom_score_adj"] == "1000"
    own = result["first"]["readable"]  # the first one's own file only: the probe does read
    assert own and own[0].endswith("/softmax.ipynb"), f"first read {own}"
    if sandbox.landlock_abi():  # without Landlock only file modes stand (README says so)
        assert len(own) == 1, f"first read {own}"
        assert result["second"]["readable"] == [], f"second read {result['second']['readable']}"
    assert reached == [], "a worker reached the loopback listener"
    assert result["second"]["shm"] < 0, "the second worker found the first one's shared memory"
    assert SHM_KEY not in shm_keys(), "a shared memory segment outlived its worker"


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("capsh"), reason="needs root and capsh")
def test_no_network_nor_reads_without_cap_sys_admin(host, listeners, secret_copy):
    """Gradescope's case: root without CAP_SYS_ADMIN, so no namespace can be made; seccomp
    refuses inet sockets, Landlock every read outside, for a fresh and a forked worker."""
    port, reached = listeners
    env = dict(os.environ, AUTOGRADER_SANDBOX_UID=str(EXPECTED_SANDBOX_UID + 900))
    result = run_script(port, [secret_copy, f"/proc/{os.getpid()}/cmdline"], True,
                        ["capsh", "--drop=cap_sys_admin", "--", "-c"], cwd=PROJECT, env=env)
    assert result["host"]["network_namespace"] is False and result["host"]["ipc_namespace"] is False
    assert result["host"]["seccomp"] is True
    assert_confined(result, reached())
    for name in ("first", "second"):  # no IPC namespace: seccomp refuses System V IPC itself
        assert result[name]["shm"] == -1, result[name]  # -EPERM
        assert result[name]["oom_lowered"] is False  # as root the floor is 1000


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create the ordinary user's run")
def test_no_network_nor_reads_as_an_ordinary_user(host, listeners, secret_copy):
    """A TA's laptop: the grader is an ordinary user (no uid switch, no namespace); seccomp and
    Landlock still hold for its fork server's workers."""
    port, reached = listeners
    uid, lock = sandbox.claim_uid()  # a uid nothing else touches while we hold it
    root = Path(tempfile.mkdtemp(prefix="autograder-ta-"))
    try:
        shutil.copytree(PROJECT / "autograder", root / "project" / "autograder",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (root / "home").mkdir()
        for path in [root, *root.rglob("*")]:
            os.chown(path, uid, uid)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(root / "home"), "LANG": "C.UTF-8"}
        try:
            result = run_script(port, [secret_copy, f"/proc/{os.getpid()}/cmdline"], False, [],
                                cwd=root / "project", env=env, user=uid, group=uid, extra_groups=[])
            left = leftover_processes({uid})
        finally:
            sandbox.kill_uid(uid)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        sandbox.release_uid(uid, lock)
    assert not left, left
    assert result["host"]["network_namespace"] is False and result["host"]["cgroups"] == ""
    assert_confined(result, reached())


@pytest.mark.skipif(os.geteuid() != 0, reason="namespaces and resource groups need root")
def test_as_root_ipc_objects_die_with_their_worker(host, listeners, secret_copy, leftovers):
    """With CAP_SYS_ADMIN: each worker has an IPC namespace of its own, so a segment made with
    mode 666 is invisible to the host and to the next worker, and gone with its worker."""
    port, reached = listeners
    with sandbox.Worker({"softmax.ipynb": b"{}"}) as first:
        os.chmod(first.workdir, 0o755)
        os.chmod(first.workdir / "softmax.ipynb", 0o644)
        paths = [str(first.workdir / "softmax.ipynb"), secret_copy, f"/proc/{os.getpid()}/cmdline"]
        first.cell = cell(port, paths, create=True)
        made = found(first)
        assert made["shm"] >= 0, "the worker could not make a segment in its own IPC namespace"
        assert SHM_KEY not in shm_keys()
        with sandbox.Worker({"softmax.ipynb": b"{}"}) as second:
            second.cell = cell(port, paths, create=False)
            result = {"first": made, "second": found(second)}
    assert result["second"]["shm"] == -2  # -ENOENT: not there, in its namespace
    assert_confined(result, reached())
    assert not leftovers


def test_the_filter_refuses_only_what_it_must():
    """The seccomp program itself: Unix sockets still work (multiprocessing needs them), inet
    ones do not, nor POSIX message queues or keyrings (which outlive a process); a program
    exists for the machines we know, none for others."""
    if platform.machine() not in confinement._SYSCALLS:
        pytest.skip("no seccomp table for this machine")
    assert confinement.seccomp_program("x86_64", True) and confinement.seccomp_program("aarch64", False)
    assert confinement.seccomp_program("sparc64", True) is None
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - reports through the pipe
        try:
            results = [confinement.deny_sockets(deny_sysv_ipc=True)]
            for family in (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK):
                try:
                    socket.socket(family, socket.SOCK_DGRAM).close()
                    results.append("ok")
                except OSError as exc:
                    results.append(exc.errno)
            libc = ctypes.CDLL(None, use_errno=True)
            table = confinement._SYSCALLS[platform.machine()]
            mq_open, keyctl = table["ipc"][3], table["always"][5]
            for number, args in ((mq_open, (b"/autograder-probe", os.O_CREAT | os.O_RDWR, 0o600, None)),
                                 (keyctl, (0, -4, 0, 0))):  # KEYCTL_GET_KEYRING_ID of @u
                results.append(libc.syscall(number, *args) == -1 and ctypes.get_errno())
            results.append(os.getpid() > 0)  # an ordinary call still works
            os.write(write, json.dumps(results).encode())
        finally:
            os._exit(0)
    os.close(write)
    results = json.loads(os.read(read, 4096))
    os.waitpid(pid, 0)
    os.close(read)
    import errno

    assert results == [True, "ok", errno.EACCES, errno.EACCES, errno.EACCES, errno.EPERM, errno.EPERM, True]


@pytest.mark.skipif(os.geteuid() != 0 or not sandbox.host().cgroups, reason="needs a writable cgroup hierarchy")
def test_worker_is_a_resource_group(host, leftovers):
    """Its own cgroup: CPU quota, memory limit and process count as set; the CPU of a grandchild
    nobody waited for is counted; the group is gone when the worker is closed."""
    limits = sandbox.Limits(memory_mb=900, processes=50, cpus=1.0)
    with sandbox.Worker({"softmax.ipynb": b"{}"}, limits) as w:
        dirs = list(w.group.dirs)
        assert w._process.pid in w.group.pids()
        values = {f.name: f.read_text().strip() for d in dirs for f in d.iterdir()
                  if f.name in ("memory.limit_in_bytes", "memory.max", "cpu.cfs_quota_us", "cpu.max", "pids.max")}
        assert values.get("pids.max") == "50"
        assert values.get("memory.limit_in_bytes", values.get("memory.max")) == str(900 << 20)
        assert values.get("cpu.cfs_quota_us", values.get("cpu.max", "").split(" ")[0]) == "100000"
        before = w.cpu_time()
        pid = w._process.pid
        assert Path(f"/proc/{pid}/oom_score_adj").read_text().strip() == "1000"
        assert w.exec_cell(0, "import os\nif os.fork() == 0:\n    if os.fork() == 0:\n"
                              "        import time\n        while time.process_time() < 1.0: pass\n"
                              "        os._exit(0)\n    os._exit(0)\nos.wait()")["ok"]
        for _ in range(600):  # the grandchild burns 1 s of CPU (its own clock), then exits
            if w.group.pids() == [pid]:
                break
            time.sleep(0.05)
        assert w.cpu_time() - before >= 0.9
    assert not any(d.exists() for d in dirs), "the worker's cgroup outlived it"
    assert not leftovers


def test_sandbox_uids_are_drawn_from_a_large_range(tmp_path):
    """Unpinned, each claim is a random uid among 2^27 above the usual account and container
    ranges, and releasing it leaves no lock file behind."""
    code = (
        "from autograder import sandbox\n"
        "claims = [sandbox.claim_uid() for _ in range(4)]\n"
        "print(sandbox.SANDBOX_UID, sandbox.UID_POOL, [u for u, _ in claims])\n"
        "for u, fd in claims: sandbox.release_uid(u, fd)\n"
        "import os; print(sorted(p for p in os.listdir(sandbox._LOCKS) if int(p.split('.')[0]) in [u for u, _ in claims]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "AUTOGRADER_SANDBOX_UID"}
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    first, rest = done.stdout.splitlines()
    base, pool, uids = first.split(" ", 2)
    uids = json.loads(uids)
    assert int(base) == 0x70000000 and int(pool) == 1 << 27
    assert len(set(uids)) == 4 and all(int(base) <= u < int(base) + int(pool) for u in uids)
    assert rest == "[]"


# A grader holding more memory than its worker will, in a group whose limit the worker's
# allocations reach: without the worker's oom_score_adj the kernel would kill the grader.
OOM_GRADER = r"""
from autograder import sandbox
ballast = bytearray(450 << 20)
ballast[::4096] = b"\1" * len(range(0, 450 << 20, 4096))  # touched: resident
hog = "hog = []\nwhile True:\n    hog.append(bytearray(8 << 20))\n    hog[-1][::4096] = b'\\1' * 2048\n"
with sandbox.Worker({"softmax.ipynb": b"{}"}, sandbox.Limits(memory_mb=8192, cell_seconds=120)) as w:
    try:
        w.exec_cell(0, hog)
        print("NOT STOPPED")
    except sandbox.WorkerLost as lost:
        print("LOST " + lost.reason)
"""


@pytest.mark.skipif(os.geteuid() != 0 or not sandbox.host().cgroups, reason="needs a writable cgroup hierarchy")
def test_under_memory_pressure_the_kernel_kills_the_worker_not_the_grader(host):
    """In a group capped at 800 MB (Gradescope's container has 768 MB), a grader holding 450 MB
    and a worker that allocates without end: the worker is killed and the grader reports it."""
    cap = confinement.ResourceGroup(f"autograder-oom-test-{os.getpid()}", 800, 2.0, 256)
    assert cap.dirs, "could not make the capped group"
    try:
        env = dict(os.environ, AUTOGRADER_SANDBOX_UID=str(EXPECTED_SANDBOX_UID + 950))
        done = subprocess.run([str(PYTHON), "-c", OOM_GRADER], cwd=PROJECT, env=env, capture_output=True,
                              text=True, timeout=300, preexec_fn=lambda: confinement.join(cap.procs_files))
    finally:
        cap.remove()
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert "LOST was killed while running cell 0 (out of memory" in done.stdout, done.stdout


@pytest.mark.skipif(os.geteuid() != 0 or not sandbox.host().cgroups, reason="needs a writable cgroup hierarchy")
def test_groups_left_by_a_killed_grader_are_swept_and_live_ones_kept(host):
    """A grader killed with SIGKILL cannot remove its workers' groups; the next grading process
    removes those whose uid no live worker holds (and kills what is in them), and no other."""
    dead_uid, dead_lock = sandbox.claim_uid()
    live_uid, live_lock = sandbox.claim_uid()
    dead = confinement.ResourceGroup(f"autograder-{dead_uid}-left", 100, 1.0, 8)
    live = confinement.ResourceGroup(f"autograder-{live_uid}-live", 100, 1.0, 8)
    sleeper = subprocess.Popen(["sleep", "600"], preexec_fn=lambda: confinement.join(dead.procs_files))
    try:
        sandbox.release_uid(dead_uid, dead_lock)  # its grader is gone: nobody holds the uid
        confinement.sweep_groups("autograder-", sandbox._uid_is_free)
        assert sleeper.wait(timeout=30) == -9, "the leftover group's process was not killed"
        assert not any(d.exists() for d in dead.dirs), "the leftover group was not removed"
        assert all(d.exists() for d in live.dirs), "a live worker's group was removed"
    finally:
        sleeper.kill()
        sleeper.wait()
        dead.remove()
        live.remove()
        sandbox.release_uid(live_uid, live_lock)
