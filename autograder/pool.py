"""Warm, sandboxed workers for class-scale grading: a fork server, and a pool of graders.

A worker started the ordinary way (`sandbox.popen_worker`) is a fresh interpreter that imports
torch: about 2 s of CPU per submission. A `ForkServer` is one process that imported torch
once (autograder/forkserver.py); each worker is a fork of it that then confines itself with
the same `sandbox.confine` (resource group, Landlock, seccomp, rlimits, namespaces,
unprivileged uid), given the same plan, before it runs any student code. The `Worker` class is unchanged: only how its process starts differs (its
`spawn` hook), so requests, timeouts, kills and crash messages are the same code.

`Graders` runs N trusted grading processes (`--jobs N`), each with its own fork server;
each grades one submission at a time, so one hostile or crashing submission can only ever
touch its own worker. The fork server holds no secret: it never imports a unit's spec or
reference, which stay in the trusted grading process.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import dataclasses
import gc
import inspect
import json
import multiprocessing
import multiprocessing.util
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import forkserver, sandbox
from .sandbox import WorkerLost

ROOT = Path(__file__).resolve().parents[1]
_SOURCE = inspect.getsource(forkserver)


def _spawn_message(worker: sandbox.Worker, nproc: int) -> dict:
    """What a fork server's child needs to confine itself exactly as `sandbox.popen_worker`'s would."""
    return {"op": "spawn", "limits": dataclasses.asdict(worker.limits), "uid": worker.uid,
            "nproc": nproc, "workdir": str(worker.workdir), "plan": worker.plan}


class ForkServer:
    """The trusted side of a fork server; `spawn` is the hook `sandbox.Worker` starts through.

    By default the server is a new interpreter (it imports torch itself). With ``fork=True``
    it is a child forked from this process, which must have imported torch and must hold
    nothing secret yet (no unit spec, no reference): the Gradescope path, where one
    submission is graded per container and a second `import torch` would be a second or
    two of the student's wait on a 0.5 CPU quota. `private` names further folders (besides
    the project) kept off the workers' sys.path, e.g. the script folder of run_otter.py.
    """

    def __init__(self, start_seconds: float = 120.0, fork: bool = False, private: tuple[str, ...] = ()):
        self.start_seconds = start_seconds
        self.fork, self.private = fork, (str(ROOT), *private)
        self._exits: dict[int, int] = {}
        self._process: subprocess.Popen | None = None
        self._start()

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # pyplot writes its font cache under $HOME (here /) at import: a folder of ours instead
        self._config = tempfile.mkdtemp(prefix="autograder-forkserver-")
        env = dict(sandbox.worker_env(Path("/")), MPLCONFIGDIR=self._config)
        if self.fork:
            pid = os.fork()
            if pid == 0:  # the child never returns from here
                ours.close()
                _serve_forked(theirs, env, self.private)
            self._process = _Forked(pid)
        else:
            self._process = subprocess.Popen(
                [sys.executable, "-s", "-B", "-P", "-u", "-c", _SOURCE, str(theirs.fileno()), str(ROOT)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, cwd="/", env=env,
                pass_fds=(theirs.fileno(),), start_new_session=True,
                preexec_fn=sandbox.die_with_parent)
        theirs.close()
        self._sock = ours
        self._ready = False  # its imports take seconds: the grader prepares meanwhile
        sandbox.use_spawner(self.spawn, keep_pid=self._process.pid)

    def _wait_ready(self) -> None:
        try:
            ready = self._next(self.start_seconds)
        except (OSError, EOFError, TimeoutError) as exc:
            ready = {"error": str(exc)}
        if ready.get("op") != "ready":
            raise RuntimeError(f"the fork server did not start: {ready}")
        self._ready = True

    @property
    def pid(self) -> int:
        return self._process.pid

    def _read(self, timeout: float) -> dict:
        """The next message; exit notices are also recorded in self._exits."""
        if timeout <= 0 or not select.select([self._sock], [], [], timeout)[0]:
            raise TimeoutError("the fork server did not answer")
        data = self._sock.recv(1 << 16)
        if not data:
            raise EOFError("the fork server stopped")
        message = json.loads(data)
        if message.get("op") == "exited":
            self._exits[int(message["pid"])] = int(message["returncode"])
        return message

    def _next(self, timeout: float) -> dict:
        """The next message that is not an exit notice."""
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(deadline - time.monotonic())
            if message.get("op") != "exited":
                return message

    def spawn(self, worker: sandbox.Worker, req_read: int, rep_write: int, nproc: int) -> "_Child":
        if self.fork:
            return self._spawn_once(worker, req_read, rep_write, nproc)
        if self._process.poll() is not None:  # it died (it never runs student code): a new one
            self.close()
            self._start()
        if not self._ready:
            self._wait_ready()
        try:
            socket.send_fds(self._sock, [json.dumps(_spawn_message(worker, nproc)).encode()],
                            [req_read, rep_write, worker.output_file.fileno()])
            reply = self._next(worker.limits.start_seconds)
        except (OSError, EOFError, TimeoutError) as exc:
            raise WorkerLost(f"could not be started by the fork server ({exc})") from None
        if reply.get("op") != "spawned":
            raise WorkerLost(f"could not be started by the fork server ({reply.get('message')})")
        return _Child(self, int(reply["pid"]))

    def _spawn_once(self, worker: sandbox.Worker, req_read: int, rep_write: int, nproc: int):
        """Forked mode: the forked process becomes this worker itself (forkserver.serve_once).
        It cannot be forked again (this process holds the reference by now), so any later
        worker, or this one if the forked process failed, is a fresh interpreter."""
        sandbox.use_spawner(None)
        forked, self._process = self._process, None
        sandbox.stop_keeping(forked.pid)  # from now on it is a worker: swept like one
        try:
            if not self._ready:
                self._wait_ready()
            socket.send_fds(self._sock, [json.dumps(_spawn_message(worker, nproc)).encode()],
                            [req_read, rep_write, worker.output_file.fileno()])
            reply = self._next(worker.limits.start_seconds)
            if reply.get("op") != "spawned" or reply.get("pid") != forked.pid:
                raise RuntimeError(f"unexpected reply {reply}")
        except (OSError, EOFError, TimeoutError, RuntimeError):
            forked.kill()
            forked.wait()
            return sandbox.popen_worker(worker, req_read, rep_write, nproc)
        finally:
            self._sock.close()
        return forked

    def returncode(self, pid: int, timeout: float | None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while pid not in self._exits:
            left = 3600.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                self._read(left)
            except TimeoutError:
                return None
            except (OSError, EOFError):  # the server is gone: so are its children
                return -signal.SIGKILL
        return self._exits.pop(pid)

    def close(self) -> None:
        if self._process is None:  # never started, closed, or (forked mode) became a worker
            shutil.rmtree(self._config, ignore_errors=True)
            return
        sandbox.use_spawner(None)
        sandbox.stop_keeping(self._process.pid)
        self._sock.close()  # the server kills its children and exits
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
        shutil.rmtree(self._config, ignore_errors=True)

    def __enter__(self) -> "ForkServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve_forked(control: socket.socket, env: dict[str, str], private: tuple[str, ...]) -> None:
    """In a child forked from the grader: set up as a fork server started with Popen is (own
    session, stdin and stdout on /dev/null, no other descriptor, cwd /, the same environment),
    warm up, become the one worker asked for (`forkserver.serve_once`), and never return."""
    status = 70
    try:
        sandbox.die_with_parent()
        os.setsid()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        keep = {0, 1, 2, control.fileno()}
        for fd in range(3, 1024):
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        os.chdir("/")
        os.environ.clear()
        os.environ.update(env)
        from . import worker

        forkserver.warm_and_serve(control.fileno(), private, sandbox, worker, many=False)
        status = 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(status)


class _Forked:
    """A process forked from this one (a fork server, then the worker it becomes), with the
    part of Popen's interface that ForkServer and sandbox.Worker use."""

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere (e.g. by a subreaper's sweep)
                self.returncode = -signal.SIGKILL
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"fork server {self.pid}", timeout)
            time.sleep(0.01)
        return self.returncode

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class _Child:
    """A worker forked by the fork server, with the part of Popen's interface Worker uses."""

    def __init__(self, server: ForkServer, pid: int):
        self.server, self.pid, self.returncode = server, pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.returncode(self.pid, timeout=0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.returncode(self.pid, timeout)
        return self.returncode


# --------------------------------------------------------------------------- N graders

_GRADER: dict = {}


def _start_grading(unit_name: str) -> tuple[ForkServer, object, object]:
    """A fork server (started first: its imports run while the unit's inputs are drawn), the
    unit and its reference."""
    from . import units
    from .grade import plan_unit

    server = ForkServer()
    try:
        unit, reference = units.load(unit_name), units.reference(unit_name)
        plan_unit(unit, reference)
    except BaseException:
        server.close()
        raise
    return server, unit, reference


def _init_grader(unit_name: str) -> None:
    """In each grading process: die with the CLI, load the unit, start a fork server."""
    sandbox.die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the CLI's to handle
    sandbox.become_subreaper()
    _GRADER["server"], _GRADER["unit"], _GRADER["reference"] = _start_grading(unit_name)
    # A pool process ends through multiprocessing's finalizers, not atexit: without this its
    # fork server would still be dying (PDEATHSIG) when the CLI has already returned.
    multiprocessing.util.Finalize(None, _GRADER["server"].close, exitpriority=10)


def _grade_in_grader(path: str) -> tuple[dict, float]:
    return _timed(_GRADER["unit"], _GRADER["reference"], Path(path))


def _timed(unit, reference, path: Path) -> tuple[dict, float]:
    from .grade import grade

    # What the last submission left is collected; what survived (torch, the unit, its drawn
    # inputs) is frozen out of later collections, which would otherwise rescan it (0.1 s each).
    gc.collect()
    gc.freeze()
    start = time.perf_counter()
    report = grade(unit, reference, path)
    return report.to_dict(), time.perf_counter() - start


class Graders:
    """`jobs` trusted grading processes, each grading one submission at a time.

    With jobs == 1 the grading happens in this process (one fork server), which keeps the
    trusted process's memory measurable and avoids a second copy of torch.
    """

    def __init__(self, unit_name: str, jobs: int):
        self.jobs = max(1, jobs)
        self.unit_name = unit_name
        self._executor = None
        self._server = None
        if self.jobs == 1:
            self._server, self._unit, self._reference = _start_grading(unit_name)
        else:
            self._executor = self._new_executor()

    def map(self, paths: list[Path], starting=None):
        """Yield (index, (report dict, seconds)) as each submission is graded (completion order).

        Every submission gets a report: one on which grading fails gets a `crash` report naming
        the failure, and the others are still graded. If a grading process dies (the pool is
        then broken: every pending future fails at once, whichever submission killed it), the
        pool is started again and what is left is graded one at a time, so that a submission
        that kills its grading process again is known, and only it gets `crash`.

        With one job the grading happens in this process: `starting(index)` is called before
        each submission, so that the caller can tell which one a fatal error stopped.
        """
        if self._executor is None:
            for index, path in enumerate(paths):
                if starting is not None:
                    starting(index)
                try:
                    result = _timed(self._unit, self._reference, path)
                except Exception as exc:  # grade() catches everything: only our own bugs are left
                    result = self._crashed(path, exc)
                yield index, result
            return
        pending = dict(enumerate(paths))
        alone = False
        while pending:
            order = list(pending)[:1] if alone else list(pending)
            futures = {self._executor.submit(_grade_in_grader, str(pending[i])): i for i in order}
            broke = False
            for future in concurrent.futures.as_completed(futures):
                index = futures[future]
                try:
                    result = future.result()
                except concurrent.futures.process.BrokenProcessPool as exc:
                    broke = True
                    if not alone:
                        continue  # not known to be this one's doing: graded again, alone
                    result = self._crashed(pending[index], exc, "its grading process died")
                except Exception as exc:
                    result = self._crashed(pending[index], exc)
                del pending[index]
                yield index, result
            if broke:
                alone = True
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = self._new_executor()

    def _new_executor(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            self.jobs, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_grader, initargs=(self.unit_name,))

    def _crashed(self, path: Path, exc: BaseException, what: str = "") -> tuple[dict, float]:
        from . import units
        from .grade import crash_report

        report = crash_report(units.load(self.unit_name), Path(path).name, "grading the notebook", exc)
        if what:
            report.notes = [f"The grader failed while grading the notebook ({what}); please tell your instructor."]
            for question in report.questions:
                for check in question.checks:
                    check.message = report.notes[0]
        return report.to_dict(), 0.0

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "Graders":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
