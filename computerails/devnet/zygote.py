"""A warm interpreter that starts the daemons by fork, for the test suites.

``python -m computerails.devnet.zygote MODULE ...`` imports the daemons' modules once and then
serves fork requests on its stdin, one JSON line each. For each it forks a child that becomes what
``python -m MODULE ARGS`` would be: its own environment, working directory and log (stdout and
stderr), stdin on ``/dev/null``, ``sys.argv`` set, and the module run as ``__main__`` by
:mod:`runpy` (the module itself is not imported under its own name, as with ``-m``), so the
module's ``if __name__ == "__main__"`` block is what runs and its exit is the process's exit. The
child is a real process with its own pid: a test stops it with SIGTERM or SIGKILL by that pid and
starts it again, exactly as it would a process started with ``exec``.

Why: importing a daemon (web3 and eth-abi, SQLAlchemy, FastAPI, numpy) costs about a second of
CPU, and ``make test`` starts several hundred of them on a two-core machine. A fork of an
interpreter that has already imported them costs milliseconds; the import cost is paid once per
pytest worker. The README's commands are still tested by ``exec`` (``tests/*/test_readme_*``).

The protocol, over the zygote's stdin and stdout (one JSON object per line):

- the zygote writes ``{"ready": true}`` once its imports are done;
- a request ``{"module", "argv", "env", "cwd", "log"}`` is answered ``{"pid": N}`` (or
  ``{"error": "..."}`` when the fork failed);
- when a child exits, the zygote (its parent) reaps it and writes ``{"exit": N, "code": C}``,
  ``C`` as :attr:`subprocess.Popen.returncode` has it (negative: killed by that signal). A pid's
  exit line always follows its pid line.

The zygote exits when its stdin closes (the process that started it is gone); children still
running keep running, as ``exec``-started ones would.

:class:`Zygote` is the client: :meth:`Zygote.spawn` returns a :class:`ForkedProcess`, which has
the part of :class:`subprocess.Popen`'s interface the launchers use (``pid``, ``returncode``,
``poll``, ``wait``, ``send_signal``, ``terminate``, ``kill``).
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import queue
import runpy
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

#: Seconds the zygote may take to import its modules before :meth:`Zygote.start` gives up.
READY_TIMEOUT = 120.0
#: Seconds a fork request may wait for the child's pid.
REPLY_TIMEOUT = 60.0


class ZygoteError(RuntimeError):
    """The zygote could not start, refused a request, or exited while children were running."""


# ── the zygote process ──


#: The zygote's end of the protocol: its original stdout, moved off fd 1 before any import, so
#: that what a module prints goes to stderr instead of into the protocol.
_replies_fd = -1


def _write(line: dict[str, Any]) -> None:
    data = (json.dumps(line) + "\n").encode()
    while data:
        data = data[os.write(_replies_fd, data) :]


def serve(modules: Sequence[str]) -> dict[str, Any] | None:
    """Import `modules`, then fork a child per request until stdin closes.

    Returns:
        In a forked child, the request it is to run; in the zygote, None once stdin has closed.
    """
    global _replies_fd
    _replies_fd = os.dup(1)
    os.dup2(2, 1)
    for module in modules:
        importlib.import_module(module)
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
            try:
                pid = os.fork()
            except OSError as exc:
                _write({"error": f"fork failed: {exc}"})
                continue
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.close(wake_r)
                os.close(wake_w)
                os.close(_replies_fd)
                return dict(request)
            _write({"pid": pid})


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


class ForkedProcess:
    """A child of the zygote, seen as much like :class:`subprocess.Popen` as the launchers need."""

    def __init__(self, zygote: Zygote, pid: int, args: list[str]) -> None:
        self._zygote = zygote
        self.pid = pid
        self.args = args
        self.returncode: int | None = None
        self._exited = threading.Event()

    def _exit(self, code: int) -> None:
        self.returncode = code
        self._exited.set()

    def poll(self) -> int | None:
        if not self._exited.is_set():
            self._zygote.check_alive(self)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited.wait(timeout):
            self._zygote.check_alive(self)
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self._exited.is_set():
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
        stderr: where the zygote's own errors go (its children's output goes to their logs).
    """

    def __init__(self, modules: Sequence[str], stderr: IO[bytes] | int | None = None) -> None:
        self.modules = list(modules)
        self._stderr = stderr
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # one request in flight: its reply is the next non-exit line
        self._children_lock = threading.Lock()
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._children: dict[int, ForkedProcess] = {}
        self._early_exits: dict[int, int] = {}
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
        )
        threading.Thread(target=self._read, name="zygote-reader", daemon=True).start()
        try:
            ready = self._replies.get(timeout=READY_TIMEOUT)
        except queue.Empty:
            self.close()
            raise ZygoteError(f"the zygote did not import {self.modules} within {READY_TIMEOUT} s") from None
        if not ready.get("ready"):
            self.close()
            raise ZygoteError(f"the zygote did not start: {ready.get('error', ready)}")
        return self

    def spawn(
        self, module: str, argv: Sequence[str], *, env: Mapping[str, str], log: Path, cwd: Path | None = None
    ) -> ForkedProcess:
        """Fork a child running ``python -m module *argv``, its stdout and stderr to `log`
        (truncated first), its environment exactly `env`.

        Raises:
            ZygoteError: the zygote is gone or the fork failed.
        """
        log.open("wb").close()  # a missing folder fails here, as Popen's log would
        request = {
            "module": module,
            "argv": list(argv),
            "env": dict(env),
            "cwd": str(cwd or Path.cwd()),
            "log": str(log),
        }
        with self._lock:
            if self._closed:
                raise ZygoteError("the zygote was closed")
            if self._process is None:
                self.start()
            process = self._process
            if process is None or process.stdin is None or self._lost:
                raise ZygoteError("the zygote is not running")
            try:
                process.stdin.write((json.dumps(request) + "\n").encode())
                process.stdin.flush()
            except BrokenPipeError:
                raise ZygoteError("the zygote exited") from None
            except ValueError:  # its stdin was closed by close()
                raise ZygoteError("the zygote was closed") from None
            try:
                reply = self._replies.get(timeout=REPLY_TIMEOUT)
            except queue.Empty:
                raise ZygoteError(f"the zygote did not answer a fork request within {REPLY_TIMEOUT} s") from None
            if "pid" not in reply:
                raise ZygoteError(reply.get("error", f"the zygote answered {reply}"))
            child = ForkedProcess(self, reply["pid"], [sys.executable, "-m", module, *argv])
            with self._children_lock:
                self._children[child.pid] = child
                early = self._early_exits.pop(child.pid, None)
            if early is not None:
                child._exit(early)
            return child

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
                with self._children_lock:
                    child = self._children.pop(line["exit"], None)
                    if child is None:  # the exit line raced the spawn's registration
                        self._early_exits[line["exit"]] = line["code"]
                if child is not None:
                    child._exit(line["code"])
            else:
                self._replies.put(line)
        self._lost = True
        self._replies.put({"error": f"the zygote {end} (exit code {process.wait()})"})

    def check_alive(self, child: ForkedProcess) -> None:
        """Raise if `child`'s exit can no longer be learned (the zygote, its parent, is gone)."""
        if self._lost and not child._exited.is_set():
            raise ZygoteError(f"the zygote exited while its child {child.pid} was running: its exit code is lost")

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


if __name__ == "__main__":
    main()
