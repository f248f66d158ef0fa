"""Properties of the sandboxed worker itself (autograder/sandbox.py, autograder/worker.py).

Each test starts a `Worker` holding a one-cell notebook, runs cells in it, and asks it for
plain values through the same wire format the grader uses (`probe()` below).
"""

from __future__ import annotations

import dataclasses
import os
import time

import pytest

from autograder import sandbox, worker as wire
from autograder.sandbox import Limits, Worker, WorkerLost
from autograder.verdict import Kind

from conftest import PROJECT

FAST = Limits(cell_seconds=5, call_seconds=3)


def call(w: Worker, target: str, *args, **kwargs):
    blobs: list[bytes] = []
    header = {"target": target, "args": wire.encode(tuple(args), blobs), "kwargs": wire.encode(kwargs, blobs)}
    reply, out = w.call(header, blobs)
    assert reply.get("status") == "ok", reply
    return wire.decode(reply["value"], out)


def run(w: Worker, source: str) -> dict:
    reply = w.exec_cell(0, source)
    return reply


@pytest.fixture
def make_worker(host, leftovers):
    """Workers that are closed after the test, which then checks that nothing was left behind."""
    made = []

    def make(limits: Limits = FAST) -> Worker:
        w = Worker({"softmax.ipynb": b"{}"}, limits)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()
    assert not leftovers, f"processes left after closing the worker: {leftovers}"


PROBE = r'''
import os, resource, socket, sys

def probe(paths, out_dir):
    result = {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": sorted(os.getgroups()),
              "cwd": os.getcwd(), "cwd_files": sorted(os.listdir(".")), "sys_path": list(sys.path),
              "env": dict(os.environ), "readable": [], "network": [], "out_writable": False,
              "limits": {name: list(resource.getrlimit(getattr(resource, name)))
                         for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_NPROC")}}
    for path in paths:
        try:
            with open(path, "rb") as f:
                f.read(1)
            result["readable"].append(path)
        except OSError:
            pass
    try:
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            f.write("{}")
        result["out_writable"] = True
    except OSError:
        pass
    for address in [("127.0.0.1", 22), ("1.1.1.1", 53), ("8.8.8.8", 443)]:
        try:
            with socket.socket() as s:
                s.settimeout(1.0)
                s.connect(address)
            result["network"].append(address[0])
        except OSError:
            pass
    return result
'''


def test_worker_is_confined(make_worker, host):
    """Unprivileged uid without groups (as root), private cwd holding only the submission,
    scrubbed environment and sys.path, resource limits, no network, hidden files unreadable."""
    os.environ["AUTOGRADER_TEST_SECRET"] = "s3cret"  # a secret of the trusted process's environment
    try:
        w = make_worker()
    finally:
        del os.environ["AUTOGRADER_TEST_SECRET"]
    assert run(w, PROBE)["ok"]
    hidden = [str(PROJECT / p) for p in ("solutions/softmax.py", "autograder/units/softmax.py",
                                          "autograder/grade.py", "tests/conftest.py", "tests/test_softmax_unit.py")]
    got = call(w, "probe", hidden, str(host))
    limits = FAST
    assert got["cwd_files"] == ["softmax.ipynb"]
    assert got["cwd"] == str(w.workdir)
    venv = str(PROJECT / ".venv")
    bad = [p for p in got["sys_path"] if p in ("", ".") or os.path.abspath(p) == got["cwd"]
           or (p.startswith(str(PROJECT)) and not p.startswith(venv))]
    assert not bad, got["sys_path"]
    assert "AUTOGRADER_TEST_SECRET" not in got["env"] and "PYTHONPATH" not in got["env"]
    assert got["env"]["HOME"] == got["cwd"]
    assert got["limits"]["RLIMIT_AS"] == [limits.memory_mb << 20] * 2
    assert got["limits"]["RLIMIT_CPU"] == [limits.cpu_seconds] * 2
    assert got["limits"]["RLIMIT_FSIZE"] == [limits.file_mb << 20] * 2
    assert got["limits"]["RLIMIT_NOFILE"] == [limits.open_files] * 2
    if sandbox.IS_ROOT:
        assert got["uid"] == got["euid"] == got["gid"] == w.uid != 0
        assert got["groups"] == []
        assert got["limits"]["RLIMIT_NPROC"] == [limits.processes] * 2
        assert got["readable"] == [], "the sandbox user can read hidden files"
        assert not got["out_writable"], "the sandbox user can write the results folder"
        assert got["network"] == [], "the sandbox has network access"


WRITE_PROBE = r'''
def try_write(paths):
    written = []
    for path in paths:
        try:
            with open(path, "a") as f:
                f.write("x")
            written.append(path)
        except OSError:
            pass
    return written
'''


@pytest.mark.skipif(not sandbox.landlock_abi(), reason="this kernel has no Landlock")
def test_worker_writes_only_in_its_own_folder(make_worker, tmp_path):
    """Landlock: a notebook writes its own folder and /dev/null, nothing else, not even where its
    uid may (world-writable /tmp and /dev/shm; without root, every file of the TA's user)."""
    w = make_worker()
    assert run(w, WRITE_PROBE)["ok"]
    inside = [str(w.workdir / "scratch.txt"), str(w.workdir / "softmax.ipynb"), os.devnull]
    outside = ["/tmp/autograder-write-probe.txt", "/dev/shm/autograder-write-probe.txt",
               str(PROJECT / "autograder-write-probe.txt")]
    os.chmod(tmp_path, 0o777)  # writable by anyone: only Landlock can refuse it
    outside.append(str(tmp_path / "probe.txt"))
    try:
        assert call(w, "try_write", inside + outside) == inside
    finally:
        for path in outside:
            if os.path.exists(path) and "autograder-write-probe" in path:
                os.remove(path)


def test_close_kills_detached_children_and_ignores_sigterm(make_worker, leftovers):
    w = make_worker()
    cell = r'''
import os, signal, subprocess, time
subprocess.Popen(["sleep", "3600"], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.fork() == 0:
        time.sleep(3600)
    os._exit(0)
time.sleep(0.2)
'''
    assert run(w, cell)["ok"]
    pids = sandbox._pids_of_uid(w.uid) if sandbox.IS_ROOT else sandbox._descendants(os.getpid())
    assert len(pids) >= 3
    w.close()
    assert not leftovers


def test_a_cell_that_forks_does_not_confuse_the_protocol(make_worker):
    """A child forked by student code is a copy of the worker: it must never answer requests.

    Here the child just returns from the cell; if it went on to reply, the grader would read
    its reply as the answer to the next request and every later answer would be shifted.
    """
    w = make_worker()
    assert run(w, "import os\nchild = os.fork() == 0\n")["ok"]
    assert run(w, "def answer(x):\n    return x + 1\n")["ok"]
    for i in range(5):
        assert call(w, "answer", i) == i + 1


def test_fork_bomb_is_bounded_and_the_worker_still_answers(make_worker):
    w = make_worker()
    started = time.monotonic()
    reply = run(w, "import os\nwhile True:\n    os.fork()\n")
    assert not reply["ok"] and reply["error"] in ("BlockingIOError", "OSError")
    assert time.monotonic() - started < FAST.cell_seconds
    assert run(w, "def answer(x):\n    return 2 * x\n")["ok"]
    assert [call(w, "answer", i) for i in range(3)] == [0, 2, 4]


def test_a_call_that_sleeps_is_killed_at_the_wall_clock_limit(make_worker):
    w = make_worker(dataclasses.replace(FAST, call_seconds=1.5))
    assert run(w, "import time\ndef slow():\n    time.sleep(3600)\n")["ok"]
    started = time.monotonic()
    with pytest.raises(WorkerLost, match="timed out") as lost:
        call(w, "slow")
    assert time.monotonic() - started < 5
    assert lost.value.kind is Kind.TIMED_OUT


def test_a_cpu_loop_is_stopped_by_the_cpu_limit(make_worker):
    w = make_worker(dataclasses.replace(FAST, cpu_seconds=6, cell_seconds=60))  # start-up uses ~2 s
    started = time.monotonic()
    with pytest.raises(WorkerLost, match="CPU") as lost:
        run(w, "while True:\n    pass\n")
    assert time.monotonic() - started < 30
    assert lost.value.kind in (Kind.OVER_CPU, Kind.KILLED)  # SIGXCPU at the soft limit, SIGKILL at the hard one


def test_output_is_capped_and_kept_as_a_tail(make_worker):
    w = make_worker(dataclasses.replace(FAST, file_mb=1))
    reply = run(w, "import sys\nwhile True:\n    print('flood ' * 100)\n")
    assert not reply["ok"] and reply["error"] == "OSError"
    tail = w.output(limit=1000)
    assert len(tail) <= 1000 and "flood" in tail


def test_memory_is_limited(make_worker):
    w = make_worker()
    reply = run(w, "hoard = []\nwhile True:\n    hoard.append(bytearray(64 << 20))\n")
    assert not reply["ok"] and reply["error"] == "MemoryError"
    assert run(w, "del hoard\ndef answer():\n    return 42\n")["ok"]
    assert call(w, "answer") == 42


def test_returned_objects_are_never_unpickled(make_worker, tmp_path):
    """A value that is not plain data comes back as an opaque type name and repr."""
    w = make_worker()
    mark = tmp_path / "unpickled"
    cell = f'''
import os
class Evil:
    def __reduce__(self):
        return (os.system, ("touch {mark}",))
    def __repr__(self):
        return "Evil()"
def evil():
    return [Evil(), {{"k": Evil()}}]
'''
    assert run(w, cell)["ok"]
    got = call(w, "evil")
    assert isinstance(got[0], wire.Opaque) and got[0].type_name == "Evil"
    assert isinstance(got[1]["k"], wire.Opaque)
    assert not mark.exists()


def test_wire_refuses_pickled_arrays():
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        wire.decode({"$tensor": 0, "dtype": "float32"}, [buffer.getvalue()])


def test_kill_strays_returns_only_when_the_orphans_are_gone(tmp_path):
    """Without root a submission's orphans re-parent to the grader (a subreaper): killed and
    reaped before `kill_strays` returns, not left dying. Run in a process of its own, which
    plays the grader, so the sweep cannot touch this test's own children."""
    import subprocess
    import sys

    script = r'''
import os, sys, time
from autograder import sandbox
sandbox._libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER, whoever runs the test
orphans = []
for _ in range(3):
    r, w = os.pipe()
    if os.fork() == 0:  # a "worker" that leaves a detached sleeper behind and exits
        os.setsid()
        pid = os.fork()
        if pid == 0:
            time.sleep(3600)
        os.write(w, str(pid).encode())
        os._exit(0)
    os.close(w)
    orphans.append(int(os.read(r, 32)))
    os.waitpid(-1, 0)  # the "worker" (its sleeper is now our child)
assert all(os.path.exists(f"/proc/{pid}") for pid in orphans)
sandbox.kill_strays()
print([pid for pid in orphans if os.path.exists(f"/proc/{pid}")])
'''
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", "orphans still existed (dying or zombie) after kill_strays"


CONTRACT_CELL = r'''
import torch
from torch import nn

def to_dtype(x, dtype=torch.float32):
    return x.to(dtype), dtype

def sample(generator):
    return torch.rand(3, generator=generator)

def sets_default_dtype(x):
    torch.set_default_dtype(torch.float64)
    return x

def grad_off(x):
    torch.set_grad_enabled(False)
    return x

def polite(x):
    with torch.no_grad():
        return x * 2

def leaves_hook(model):
    model.register_forward_hook(lambda *a: None)
    return 1

def removes_hook(model):
    handle = model.register_forward_hook(lambda *a: None)
    handle.remove()
    return 1

def changes_weights(model):
    with torch.no_grad():
        model.weight.add_(1.0)
    return 1

def private_softmax(x):
    return torch._softmax(x, -1, False)

def aten_softmax(x):
    return torch.ops.aten._softmax.default(x, -1, False)

def caught_private_softmax(x):
    try:
        return torch._softmax(x, -1, False)
    except Exception:
        return x

def own_softmax(x):
    e = (x - x.amax(-1, keepdim=True)).exp()
    return e / e.sum(-1, keepdim=True)
'''


def test_dtypes_cross_the_wire_and_side_effects_and_banned_work_are_reported(make_worker):
    """A torch.dtype travels both ways, a seeded generator as its seed; a call that changes torch's global settings, leaves a
    hook on or changes the weights of a model argument is reported as a side effect (typed
    kinds) and the settings are restored; a banned function's ATen operator is refused however
    it is reached (a private entry point, torch.ops), even when the student catches the error."""
    import torch

    w = make_worker(Limits(cell_seconds=30, call_seconds=60))  # the first ban resolves torch's names: seconds
    assert run(w, CONTRACT_CELL)["ok"]
    got, dtype = call(w, "to_dtype", torch.ones(2), torch.float64)
    assert dtype is torch.float64 and got.dtype == torch.float64
    # an unused seeded generator travels as its seed: the worker draws what we would
    assert torch.equal(call(w, "sample", torch.Generator().manual_seed(3)),
                       torch.rand(3, generator=torch.Generator().manual_seed(3)))

    def reply(target, *args, banned=(), **kwargs):
        blobs: list[bytes] = []
        header = {"target": target, "args": wire.encode(tuple(args), blobs),
                  "kwargs": wire.encode(kwargs, blobs), "banned": list(banned)}
        answer = w.call(header, blobs)[0]
        answer.pop("blobs", None)
        return answer

    assert reply("sets_default_dtype", torch.ones(1)) == {"status": "side_effect", "effects": ["default_dtype"]}
    assert reply("grad_off", torch.ones(1)) == {"status": "side_effect", "effects": ["grad_mode"]}
    assert reply("polite", torch.ones(1))["status"] == "ok"  # and the settings were restored above
    assert call(w, "to_dtype", torch.ones(2))[0].dtype == torch.float32

    linear = torch.nn.Linear(2, 2)
    model = wire.ModelRef("torch_nn", "Linear", {"in_features": 2, "out_features": 2}, 0,
                          {k: v.detach().clone() for k, v in linear.state_dict().items()})
    run(w, "import sys, torch\nsys.modules['torch_nn'] = torch.nn")  # a "provided" module for the recipe
    assert reply("leaves_hook", model) == {"status": "side_effect", "effects": ["hooks"]}
    assert reply("removes_hook", model)["status"] == "ok"
    assert reply("changes_weights", model) == {"status": "side_effect", "effects": ["model_changed"]}

    x = torch.randn(2, 3)
    for target in ("private_softmax", "aten_softmax", "caught_private_softmax"):
        answer = reply(target, x, banned=["torch.softmax"])
        assert answer["status"] == "banned" and "aten._softmax" in " ".join(answer["banned_used"]), answer
    assert reply("own_softmax", x, banned=["torch.softmax"])["status"] == "ok"
    assert reply("private_softmax", x)["status"] == "ok"  # not banned where the unit allows it
