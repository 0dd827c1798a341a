"""Warm interpreters that start the daemons by fork, for the test suites.

``python -m computerails.devnet.zygote MODULE`` imports a daemon's module once and then serves
fork requests on its stdin, one JSON line each. For each it forks a child that becomes what
``python -m MODULE ARGS`` would be: its own environment, working directory (also ``sys.path[0]``)
and log (stdout and stderr), stdin on ``/dev/null``, ``sys.argv`` set, and the module run as
``__main__`` by :mod:`runpy` (not imported under its own name, as with ``-m``), so the module's
``if __name__ == "__main__"`` block is what runs and its exit is the process's exit. The child is
a real process with its own pid: a test stops it with SIGTERM or SIGKILL by that pid and starts it
again, as it would a process started with ``exec``.

What still differs from ``exec``: what an interpreter reads only when it starts (the ``PYTHON*``
variables, the hash seed) is the zygote's, so the children of one zygote share a hash seed; the
process's command line (``/proc/PID/cmdline``) is the zygote's; and warnings raised while the
module was imported went to the zygote's stderr. Each zygote imports one module, so a child has
imported only what its own daemon imports.

Why: importing a daemon (web3 and eth-abi, SQLAlchemy, FastAPI, numpy) costs about a second of
CPU, and ``make test`` starts about 150 of them on a two-core machine. A fork of an interpreter
that has already imported them costs milliseconds; the imports are paid once per daemon module
and pytest worker. The README's commands are still tested by ``exec`` (``tests/*/test_readme_*``).

The protocol, over the zygote's stdin and its original stdout (one JSON object per line; the
zygote moves fd 1 to its stderr before importing, so nothing a module prints reaches it):

- the zygote writes ``{"ready": true}`` once its imports are done;
- a request ``{"id", "module", "argv", "env", "cwd", "log"}`` is answered ``{"id", "pid"}`` (or
  ``{"id", "error"}`` when the fork failed);
- when a child exits, the zygote (its parent) reaps it and writes ``{"exit": PID, "code": C}``,
  ``C`` as :attr:`subprocess.Popen.returncode` has it (negative: killed by that signal). A pid's
  exit line always follows its pid line.

The zygote ignores SIGINT (a Ctrl-C to the test run's process group would otherwise lose every
child's exit code); its children get back the disposition it started with. It exits when its
stdin closes (the process that started it is gone); children still running keep running, as
``exec``-started ones would.

:class:`ZygotePool` keeps one :class:`Zygote` per module; :meth:`Zygote.spawn` returns a
:class:`ForkedProcess`, which has the part of :class:`subprocess.Popen`'s interface the launchers
use (``pid``, ``returncode``, ``poll``, ``wait``, ``send_signal``, ``terminate``, ``kill``).
Unlike ``Popen``'s, a child's pid is released by its parent (the zygote) as soon as it exits, a
few milliseconds before ``poll`` learns of it: a signal sent in between could reach a process that
reused the pid at once, which Linux's sequential pid allocation makes all but impossible.
"""

from __future__ import annotations

import gc
import importlib
import itertools
import json
import os
import queue
import runpy
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

#: Seconds the zygote may take to import its modules before :meth:`Zygote.start` gives up.
READY_TIMEOUT = 120.0
#: Seconds a fork request may wait for the child's pid; a zygote that does not answer in time is
#: killed (an answer arriving later could not be told from the next request's).
REPLY_TIMEOUT = 60.0


class ZygoteError(RuntimeError):
    """The zygote could not start, did not answer, or exited while children were running."""


# ── the zygote process ──


#: The zygote's end of the protocol: its original stdout, moved off fd 1 before any import.
_replies_fd = -1


def _write(line: dict[str, Any]) -> None:
    data = (json.dumps(line) + "\n").encode()
    while data:
        data = data[os.write(_replies_fd, data) :]


def _flush_stdio() -> None:
    """Empty Python's stdout and stderr buffers: a child would inherit what they hold and write
    it into its own log."""
    sys.stdout.flush()
    sys.stderr.flush()


def serve(modules: Sequence[str]) -> dict[str, Any] | None:
    """Import `modules`, then fork a child per request until stdin closes.

    Returns:
        In a forked child, the request it is to run; in the zygote, None once stdin has closed.
    """
    global _replies_fd
    _replies_fd = os.dup(1)
    os.dup2(2, 1)
    sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)
    for module in modules:
        importlib.import_module(module)
    _flush_stdio()
    if threading.active_count() != 1:
        # fork copies only the calling thread: a lock another thread held would stay held
        raise ZygoteError(f"importing {list(modules)} started threads: {threading.enumerate()}")
    gc.collect()
    gc.freeze()  # the imported objects' pages stay shared with the children (no GC writes to them)

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)  # wakes the select below
    _write({"ready": True})

    pending = b""
    while True:
        readable, _, _ = select.select([0, wake_r], [], [])
        if wake_r in readable:
            while True:
                try:
                    if not os.read(wake_r, 4096):
                        break
                except BlockingIOError:
                    break
            _reap()
        if 0 not in readable:
            continue
        chunk = os.read(0, 65536)
        if not chunk:
            return None
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            _flush_stdio()
            try:
                pid = os.fork()
            except OSError as exc:
                _write({"id": request["id"], "error": f"fork failed: {exc}"})
                continue
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGINT, sigint)
                os.close(wake_r)
                os.close(wake_w)
                os.close(_replies_fd)
                return dict(request)
            _write({"id": request["id"], "pid": pid})


def _reap() -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _write({"exit": pid, "code": os.waitstatus_to_exitcode(status)})


def run_child(request: Mapping[str, Any]) -> None:
    """In a forked child: become ``python -m MODULE ARGV`` with the request's environment,
    working directory and log. Does not return (the module's exit ends the process)."""
    null = os.open(os.devnull, os.O_RDONLY)
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.path[0] = request["cwd"]  # -m puts the working directory first (the zygote's was its own)
    module = request["module"]
    sys.argv = [module, *request["argv"]]
    sys.modules.pop(module, None)  # as with -m: the module runs as __main__ only
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    sys.exit(0)  # the module returned without calling sys.exit: as python -m, exit 0


def main() -> None:
    request = serve(sys.argv[1:])
    if request is not None:
        run_child(request)


# ── the client ──


def _gone(pid: int) -> bool:
    """True when `pid` no longer runs (absent, or a zombie nobody reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return stat[stat.rfind(")") + 2] == "Z"


class ForkedProcess:
    """A child of a zygote, seen as much like :class:`subprocess.Popen` as the launchers need.

    When its zygote is gone before it, its exit code can no longer be learned: :meth:`poll`
    and :meth:`wait` still say whether it runs (and it can still be signalled by its pid), and
    raise :class:`ZygoteError` once it has ended.
    """

    def __init__(self, pid: int, args: list[str]) -> None:
        self.pid = pid
        self.args = args
        self.returncode: int | None = None
        self._settled = threading.Event()  # its exit is known, or its zygote is gone
        self._orphaned = False

    def _exit(self, code: int) -> None:
        self.returncode = code
        self._settled.set()

    def _orphan(self) -> None:
        self._orphaned = True
        self._settled.set()

    def _check_orphan(self) -> None:
        if _gone(self.pid):
            raise ZygoteError(f"the zygote exited while its child {self.pid} was running: its exit code is lost")

    def poll(self) -> int | None:
        if self.returncode is None and self._orphaned:
            self._check_orphan()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        self._settled.wait(timeout)
        while self.returncode is None:
            if self._orphaned:
                self._check_orphan()
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(0.05)  # an orphan's end is seen only by looking
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is not None:
            return  # as Popen: the pid may belong to another process by now
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass  # exited; its exit line is on its way

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """A zygote process with `modules` imported, and the children it forked for this process.

    Args:
        modules: the modules imported before the first fork (what the children will run, and so
            what they import).
        env: the zygote's own environment (default: this process's when it starts); its
            children's is each request's.
        stderr: where the zygote's own output goes (its children's goes to their logs).
    """

    def __init__(
        self,
        modules: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stderr: IO[bytes] | int | None = None,
    ) -> None:
        self.modules = list(modules)
        self._env = None if env is None else dict(env)
        self._stderr = stderr
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # one request at a time
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._ids = itertools.count(1)
        # The running children, by pid: the reader thread alone adds (at a pid line) and removes
        # (at that pid's exit line, which always comes after it), so no exit goes unmatched.
        self._children: dict[int, ForkedProcess] = {}
        self._lost = False
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The zygote's own pid (None before it started)."""
        return None if self._process is None else self._process.pid

    def start(self) -> Zygote:
        """Start the zygote and wait until its imports are done (the first :meth:`spawn` does
        when it has not been).

        Raises:
            ZygoteError: it exited, or did not get ready within READY_TIMEOUT.
        """
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, *self.modules],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=self._env,
        )
        threading.Thread(target=self._read, name="zygote-reader", daemon=True).start()
        try:
            ready = self._replies.get(timeout=READY_TIMEOUT)
        except queue.Empty:
            self._abandon()
            raise ZygoteError(f"the zygote did not import {self.modules} within {READY_TIMEOUT} s") from None
        if not ready.get("ready"):
            self._abandon()
            raise ZygoteError(f"the zygote did not start: {ready.get('error', ready)}")
        return self

    def spawn(
        self, module: str, argv: Sequence[str], *, env: Mapping[str, str], log: Path, cwd: Path | None = None
    ) -> ForkedProcess:
        """Fork a child running ``python -m module *argv``, its stdout and stderr to `log`
        (truncated first), its environment exactly `env`.

        Raises:
            ZygoteError: the zygote is closed or gone, did not answer, or the fork failed.
        """
        log.open("wb").close()  # a missing folder fails here, as Popen's log would
        with self._lock:
            if self._closed:
                raise ZygoteError("the zygote was closed")
            if self._process is None:
                self.start()
            process = self._process
            if process is None or process.stdin is None or self._lost:
                raise ZygoteError("the zygote is not running")
            request_id = next(self._ids)
            request = {
                "id": request_id,
                "module": module,
                "argv": list(argv),
                "env": dict(env),
                "cwd": str(cwd or Path.cwd()),
                "log": str(log),
            }
            try:
                process.stdin.write((json.dumps(request) + "\n").encode())
                process.stdin.flush()
            except BrokenPipeError:
                raise ZygoteError("the zygote exited") from None
            reply = self._reply(request_id)
            if "child" not in reply:
                raise ZygoteError(reply.get("error", f"the zygote answered {reply}"))
            child: ForkedProcess = reply["child"]
            child.args = [sys.executable, "-m", module, *argv]
            return child

    def _reply(self, request_id: int) -> dict[str, Any]:
        """The answer to request `request_id`. An answer to an earlier request, whose caller gave
        up waiting (interrupted), names a child nobody tracks: it is killed."""
        deadline = time.monotonic() + REPLY_TIMEOUT
        while True:
            try:
                reply = self._replies.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                self._abandon()
                raise ZygoteError(f"the zygote did not answer a fork request within {REPLY_TIMEOUT} s") from None
            if "id" not in reply or reply["id"] == request_id:
                return reply
            if "child" in reply:
                reply["child"].kill()

    def _read(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        end = "exited"
        for raw in process.stdout:
            try:
                line = json.loads(raw)
            except ValueError:
                end = f"broke the protocol with {raw[:200]!r}"
                process.kill()
                break
            if "exit" in line:
                child = self._children.pop(line["exit"], None)
                if child is None:
                    end = f"reported the exit of {line['exit']}, no child of it"
                    process.kill()
                    break
                child._exit(line["code"])
                continue
            if "pid" in line:
                line["child"] = self._children[line["pid"]] = ForkedProcess(line["pid"], [])
            self._replies.put(line)
        self._lost = True
        for child in self._children.values():
            child._orphan()
        self._children.clear()
        self._replies.put({"error": f"the zygote {end} (exit code {process.wait()})"})

    def _abandon(self) -> None:
        """Kill a zygote that cannot be trusted to answer in order any more."""
        self._lost = True
        if self._process is not None:
            self._process.kill()

    def close(self) -> None:
        """Stop the zygote (its children keep running; stop them by their pids)."""
        self._closed = True
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            try:
                process.stdin.close()
            except BrokenPipeError:
                pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class ZygotePool:
    """One :class:`Zygote` per daemon module, each started by the first :meth:`spawn` of its
    module, all with the environment this process had when the pool was made.

    Args:
        make: builds the zygote for a module (default: :class:`Zygote` with that environment).
    """

    def __init__(self, make: Callable[[str], Zygote] | None = None) -> None:
        env = dict(os.environ)
        self._make = make or (lambda module: Zygote([module], env=env))
        self._zygotes: dict[str, Zygote] = {}
        self._lock = threading.Lock()
        self._closed = False

    def spawn(
        self, module: str, argv: Sequence[str], *, env: Mapping[str, str], log: Path, cwd: Path | None = None
    ) -> ForkedProcess:
        """:meth:`Zygote.spawn` on `module`'s zygote."""
        with self._lock:
            if self._closed:
                raise ZygoteError("the zygote pool was closed")
            zygote = self._zygotes.get(module)
            if zygote is None:
                zygote = self._zygotes[module] = self._make(module)
        return zygote.spawn(module, argv, env=env, log=log, cwd=cwd)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            zygotes, self._zygotes = list(self._zygotes.values()), {}
        for zygote in zygotes:
            zygote.close()


if __name__ == "__main__":
    main()
