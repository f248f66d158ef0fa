"""The fork server: a warm process that has imported torch and forks sandboxed workers.

This file is the whole program of the fork server process, started by `autograder/pool.py`
as ``python -s -B -P -u -c <this source> CONTROL_FD PROJECT_ROOT``. It imports torch, pyplot
and sympy once (seconds of CPU, which a fresh worker pays per submission; about 230 MB of PSS,
see `python -m autograder.bench --class`), then for each request forks a child that becomes a
worker exactly as a fresh interpreter would:

* its own session, stdout/stderr into the grader's capped output file, stdin from /dev/null,
  no other file descriptor than its two pipes;
* the private working directory, the worker's whole environment (`sandbox.worker_env`);
* `sandbox.confine`: the same resource group, Landlock and seccomp rules, rlimits,
  namespaces and unprivileged uid as a worker started with Popen (the very same function,
  given the same plan);
* then `worker.main`, the worker's request loop, which runs the student's code.

The fork server itself never runs student code and never holds anything secret: it imports
only the standard library, torch, numpy, matplotlib and autograder's `sandbox` and `worker`
modules (no unit spec, no reference). It replies on the control socket (SOCK_SEQPACKET, JSON
messages, file descriptors passed with SCM_RIGHTS):

  -> {"op": "spawn", "limits": {...}, "uid": int|null, "nproc": int, "workdir": str, "plan": {...}}
     + fds [request pipe read end, reply pipe write end, output file]
  <- {"op": "spawned", "pid": int}  or  {"op": "error", "message": str}
  <- {"op": "exited", "pid": int, "returncode": int}  (Popen's convention: -signal if killed)

When the control socket closes (the grader is gone), it kills its children and exits.
"""

import gc
import json
import os
import select
import signal
import socket
import sys


def _child(control, wake, message, fds, new_session=True):
    """In the forked child: become a worker, run its loop, and never return to the server."""
    try:
        sandbox, worker = SANDBOX, WORKER
        req, rep, output = fds
        if new_session:
            os.setsid()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        control.close()
        for fd in wake:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        for fd in range(3, 1024):
            if fd not in (req, rep):
                try:
                    os.close(fd)
                except OSError:
                    pass
        workdir = message["workdir"]
        os.chdir(workdir)
        os.environ.clear()
        os.environ.update(sandbox.worker_env(workdir))
        import tempfile

        tempfile.tempdir = None  # TMPDIR is the private folder now
        limits = sandbox.Limits(**message["limits"])
        sandbox.confine(limits, message["uid"], message["nproc"], workdir, message["plan"])
        # nothing of the project on the path: the student imports only what a worker could
        sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) not in PRIVATE]
        sys.argv[:] = ["-c"]
        worker.main(req, rep)
        os._exit(0)
    except BaseException:
        try:  # into the worker's output: the grader shows it to whoever reads the report
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(70)


def serve(control):
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *args: None)  # wakes select through wake_w
    children = set()

    def send(message):
        control.send(json.dumps(message).encode())

    def reap():
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)
            send({"op": "exited", "pid": pid, "returncode": os.waitstatus_to_exitcode(status)})

    send({"op": "ready", "pid": os.getpid()})
    while True:
        try:
            ready = select.select([control, wake_r], [], [])[0]
        except InterruptedError:
            continue
        if wake_r in ready:
            try:
                os.read(wake_r, 4096)
            except BlockingIOError:
                pass
        reap()
        if control not in ready:
            continue
        data, fds, _, _ = socket.recv_fds(control, 1 << 16, 8)
        if not data:  # the grader closed the socket: nothing may outlive it
            for pid in children:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
            for pid in children:  # gone before the grader's close() returns, not merely dying
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
            return
        message = json.loads(data)
        if message.get("op") != "spawn" or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            send({"op": "error", "message": "bad request"})
            continue
        pid = os.fork()
        if pid == 0:
            _child(control, (wake_r, wake_w), message, fds)
        for fd in fds:
            os.close(fd)
        children.add(pid)
        send({"op": "spawned", "pid": pid})


def serve_once(control):
    """Become the worker of the first spawn request (one submission, no server left behind).

    The process is already a session leader of its own, a child of the grader (which waits
    for it as for a Popen'd worker). Nothing of a server stays alive holding the old copies
    of the pages the worker then writes to (on the gpt unit, ~90 MB of Gradescope's 768)."""
    control.send(json.dumps({"op": "ready", "pid": os.getpid()}).encode())
    data, fds, _, _ = socket.recv_fds(control, 1 << 16, 8)
    message = json.loads(data) if data else {}
    if message.get("op") != "spawn" or len(fds) != 3:
        os._exit(0)
    control.send(json.dumps({"op": "spawned", "pid": os.getpid()}).encode())
    _child(control, (), message, fds, new_session=False)


def main(control_fd, project):
    """The fork server as a program of its own (started by `pool.ForkServer`)."""
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != os.getcwd()]
    sys.path.append(os.path.abspath(project))  # only to import autograder.sandbox and .worker
    from autograder import sandbox, worker

    warm_and_serve(control_fd, [project], sandbox, worker)


def warm_and_serve(control_fd, private, sandbox, worker, many=True):
    """Import what every worker needs, then serve. The folders `private` are kept off the
    workers' sys.path; `sandbox` and `worker` are autograder's modules of those names.

    Also entered, without a new interpreter, in a child forked from a grader that has imported
    torch and nothing secret yet (`pool.ForkServer(fork=True)`, the Gradescope path, where
    `many` is false: it becomes the one submission's worker itself, `serve_once`)."""
    global PRIVATE, SANDBOX, WORKER
    PRIVATE, SANDBOX, WORKER = {os.path.abspath(p) for p in private}, sandbox, worker
    import numpy  # noqa: F401  (warm: every worker needs them)
    import torch

    torch.set_num_threads(1)  # before any torch op: a forked child of a threaded parent can hang
    # Every unit's notebook plots: importing pyplot costs a fresh interpreter ~0.5 s, about as
    # much as grading a whole softmax submission. Agg, as in every worker (worker_env).
    os.environ["MPLBACKEND"] = "Agg"
    try:
        import matplotlib.pyplot  # noqa: F401
    except ImportError:
        pass
    # torch imports sympy (0.45 s) the first time anything calls torch.broadcast_shapes: once
    # here for `many` workers, but left to the worker that needs it when there is one
    if many:
        import torch.fx.experimental.symbolic_shapes  # noqa: F401

    # Out of the garbage collector's sight: a full collection over these modules' million
    # objects took 0.1 s of a worker's graded calls; and the pages stay shared with the children.
    gc.freeze()
    (serve if many else serve_once)(socket.socket(fileno=control_fd))


PRIVATE = set()  # folders never on a worker's sys.path (the project)
SANDBOX = WORKER = None  # autograder.sandbox and autograder.worker, once imported

if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
