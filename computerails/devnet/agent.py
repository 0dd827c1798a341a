"""The provider agent as a real local process, for the tests, the bench and the demo: a TOML
settings file, the provider's key as a V3 keystore, ``python -m computerails.agent.serve`` on a
free 127.0.0.1 port, readiness by polling ``/v1/health``, and stop or kill by its own pid."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account

from computerails import _http
from computerails.devnet.anvil import die_with_parent, free_port
from computerails.devnet.zygote import ForkedProcess, ZygotePool

#: When set, daemons are forked from these warm interpreters instead of started with exec (the
#: test suites set it: see :mod:`computerails.devnet.zygote`); a daemon that must die with its
#: parent is always exec-started.
ZYGOTES: ZygotePool | None = None

READY_TIMEOUT = 60.0
PASSWORD = "agent test password"


def write_config(path: Path, **values: Any) -> Path:
    """A TOML file of `values` (strings quoted, numbers and booleans as they are, lists as arrays,
    a dict as a table: ``jobs={...}`` writes a ``[jobs]`` section, a dict inside it an inline table)."""
    lines = [f"{key} = {_toml(value)}" for key, value in values.items() if not isinstance(value, dict)]
    for key, table in values.items():
        if isinstance(table, dict):
            lines += ["", f"[{key}]"] + [f"{k} = {_toml(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {_toml(v)}' for k, v in value.items()) + " }"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_keystore(folder: Path, key: str | bytes, password: str = PASSWORD) -> tuple[Path, Path]:
    """`key` as a V3 keystore (cheap pbkdf2: a local devnet key) and its password file, in `folder`.

    Returns:
        (keystore file, password file): the agent settings' ``keystore`` and ``password_file``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    keyfile = Account.encrypt(
        bytes.fromhex(key.removeprefix("0x")) if isinstance(key, str) else key, password, kdf="pbkdf2", iterations=1_000
    )
    (folder / "provider.json").write_text(json.dumps(keyfile))
    (folder / "password").write_text(password + "\n")
    return folder / "provider.json", folder / "password"


class AgentProcess:
    """One agent process; its log goes to ``<log_dir>/agent-<n>.log``.

    Args:
        config: the TOML settings file.
        log_dir: where each start's log goes.
        env: environment overrides (``COMPUTERAILS_AGENT_*``).
    """

    #: What other daemons' launchers (tests/support/oracle.py) change: the module run, the path
    #: polled for readiness, the port's environment variable, the log's name.
    MODULE = "computerails.agent.serve"
    READY_PATH = "/v1/health?challenge=0x" + "00" * 32
    PORT_ENV = "COMPUTERAILS_AGENT_PORT"
    LOG_NAME = "agent"

    #: True: the process gets SIGKILL when the thread that started it exits (Linux's
    #: PR_SET_PDEATHSIG), so a driver killed with -9 leaves nothing running. Start and restart it
    #: from the thread that lives longest (the main thread).
    die_with_parent = False

    def __init__(self, config: Path, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log_dir = log_dir
        self.env = dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | ForkedProcess | None = None
        self.starts = 0
        self.log = log_dir / "agent-0.log"

    def start(self, **env: str) -> AgentProcess:
        """Start (again) with the given extra environment and wait until it answers.

        Raises:
            RuntimeError: the process exited, or did not answer within READY_TIMEOUT (then it is killed).
        """
        self.launch(**env)
        return self.wait_ready()

    def launch(self, **env: str) -> AgentProcess:
        """Start (again) without waiting: several processes start at once, each launched from the
        driver's thread, then :meth:`wait_ready` for each."""
        self.starts += 1
        self.log = self.log_dir / f"{self.LOG_NAME}-{self.starts}.log"
        environment = os.environ | self.env | {self.PORT_ENV: str(self.port)} | env
        if ZYGOTES is not None and not self.die_with_parent:
            self.process = ZYGOTES.spawn(self.MODULE, ["--config", str(self.config)], env=environment, log=self.log)
            return self
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.MODULE, "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=environment,
                preexec_fn=die_with_parent if self.die_with_parent else None,
            )
        return self

    def wait_ready(self) -> AgentProcess:
        """Wait until the launched process answers.

        Raises:
            RuntimeError: the process exited, or did not answer within READY_TIMEOUT (then it is killed).
        """
        process = self._started()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{self.LOG_NAME} exited with {process.returncode}:\n{self.log.read_text()}")
            try:
                if _http.get(f"{self.url}{self.READY_PATH}").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # readiness polling
        self.kill()
        raise RuntimeError(f"{self.LOG_NAME} not ready in {READY_TIMEOUT} s:\n{self.log.read_text()}")

    def _started(self) -> subprocess.Popen[bytes] | ForkedProcess:
        if self.process is None:
            raise RuntimeError("the agent was never started")
        return self.process

    def stop(self) -> int:
        """SIGTERM and wait: the exit code."""
        process = self._started()
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=60)

    def kill(self) -> None:
        """SIGKILL (kill -9) and reap."""
        process = self._started()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def shutdown(self, grace: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within `grace` seconds; a no-op when it is
        not running. Returns the exit code (None if it was never started)."""
        return shutdown_all([self], grace)[0]

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def samples(self) -> dict[str, float]:
        """Every sample of ``/metrics`` in one request, keyed as it is written there
        (``name`` or ``name{labels}``)."""
        text = _http.get(f"{self.url}/metrics").text
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def metric(self, name: str, labels: str = "") -> float:
        """One sample of ``/metrics`` (0 when absent)."""
        return self.samples().get(f"{name}{{{labels}}}" if labels else name, 0.0)


def shutdown_all(processes: Sequence[AgentProcess], grace: float = 10.0) -> dict[int, int | None]:
    """:meth:`AgentProcess.shutdown` for several processes at once: SIGTERM to every one still
    running, then wait for each within one shared `grace` (seconds) and SIGKILL whichever has
    not exited by then. Each is signalled by its own pid; they wind down side by side, so the
    whole takes about as long as the slowest one rather than the sum.

    Returns:
        Each process's exit code by its position in `processes` (None: never started).
    """
    running = [p.process for p in processes if p.process is not None and p.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
    return {i: None if p.process is None else p.process.returncode for i, p in enumerate(processes)}
