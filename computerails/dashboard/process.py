"""``computerails dashboard`` as a real process on a free 127.0.0.1 port (the demo and the tests
start it this way), stopped by its own pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from computerails import _http
from computerails.devnet import free_port

READY_TIMEOUT = 60.0  # seconds for the process to answer (a readiness bound, not a timing claim)


class DashboardError(RuntimeError):
    """The dashboard process exited or never answered."""


class DashboardProcess:
    """One dashboard process over the index `db`.

    Args:
        db: the index (SQLite path or postgresql:// URL).
        rpc: the indexed chain's node, for token symbols and decimals.
        log: where its output goes.
    """

    def __init__(self, db: str | Path, rpc: str | None, log: Path) -> None:
        self.db = str(db)
        self.rpc = rpc
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def args(self) -> list[str]:
        node = ["--rpc", self.rpc] if self.rpc else []
        return [sys.executable, "-m", "computerails.cli", *node, "dashboard", "--db", self.db, "--port", str(self.port)]

    def start(self) -> DashboardProcess:
        """Start it and wait until it answers.

        Raises:
            DashboardError: it exited, or did not answer within READY_TIMEOUT.
        """
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args(), stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise DashboardError(f"the dashboard exited with {self.process.returncode}: see {self.log}")
            try:
                if _http.get(f"{self.url}/openapi.json", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                self.stop()
                raise DashboardError(
                    f"the dashboard did not answer on {self.url} in {READY_TIMEOUT:g} s: see {self.log}"
                )
            time.sleep(0.05)  # readiness polling

    def stop(self) -> int | None:
        """SIGTERM this process (by its pid), SIGKILL it if it has not exited in 10 s."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            return self.process.wait()

    def __enter__(self) -> DashboardProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
