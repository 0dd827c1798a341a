"""The provider agent as a real process for tests/agent: a TOML settings file, ``python -m
computerails.agent.serve`` on a free 127.0.0.1 port, readiness by polling ``/v1/health``, and
stop or kill by its own pid."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account

from computerails.devnet import dev_key, free_port

READY_TIMEOUT = 60.0
PASSWORD = "agent test password"


def mint(rails, usd=0, stake=0) -> None:
    """Test tokens for a connection's account: `usd` mUSD (6 decimals), `stake` mCRS (18)."""
    if usd:
        token = rails.erc20(rails.deployment.payment_tokens[0])
        rails.send(token.functions.mint(rails.address, int(usd * 10**6)), "mint")
    if stake:
        token = rails.erc20(rails.deployment.staking_token)
        rails.send(token.functions.mint(rails.address, int(stake * 10**18)), "mint")


def keystore_settings(index: int, folder: Path) -> dict[str, str]:
    """A dev key's V3 keystore and password file in `folder`, as daemon settings."""
    folder.mkdir(parents=True, exist_ok=True)
    keyfile = Account.encrypt(dev_key(index), PASSWORD, kdf="pbkdf2", iterations=1_000)
    (folder / "key.json").write_text(json.dumps(keyfile))
    (folder / "password").write_text(PASSWORD)
    return {"keystore": str(folder / "key.json"), "password_file": str(folder / "password")}


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


class AgentProcess:
    """One agent process; its log goes to ``<log_dir>/agent-<n>.log``. Other daemons
    (tests/support/oracle.py) subclass it with their own module, readiness path, port variable.

    Args:
        config: the TOML settings file.
        env: environment overrides (``COMPUTERAILS_AGENT_*``).
    """

    MODULE = "computerails.agent.serve"
    READY_PATH = "/v1/health?challenge=0x" + "00" * 32
    PORT_ENV = "COMPUTERAILS_AGENT_PORT"
    LOG_NAME = "agent"

    def __init__(self, config: Path, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log_dir = log_dir
        self.env = dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, **env: str) -> AgentProcess:
        """Start (again) with the given extra environment and wait until it answers."""
        self.starts += 1
        self.log = self.log_dir / f"{self.LOG_NAME}-{self.starts}.log"
        environment = os.environ | self.env | {self.PORT_ENV: str(self.port)} | env
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.MODULE, "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=environment,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.LOG_NAME} exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}{self.READY_PATH}").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # readiness polling
        self.kill()
        raise RuntimeError(f"{self.LOG_NAME} not ready in {READY_TIMEOUT} s:\n{self.log.read_text()}")

    def stop(self) -> int:
        """SIGTERM and wait: the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        """SIGKILL (kill -9) and reap."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def metric(self, name: str, labels: str = "") -> float:
        """One sample of ``/metrics`` (0 when absent)."""
        text = httpx.get(f"{self.url}/metrics").text
        wanted = f"{name}{{{labels}}}" if labels else name
        for line in text.splitlines():
            if line.startswith(wanted + " "):
                return float(line.split()[-1])
        return 0.0
