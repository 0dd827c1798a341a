"""The oracle node, its cuttable links and the keeper as real local processes, for the tests, the
bench and the demo (the agent's launcher, :mod:`computerails.devnet.agent`, with another module,
readiness path, port variable and log name).

- :class:`OracleProcess`: ``python -m computerails.oracle_node.serve``;
- :class:`KeeperProcess`: ``python -m computerails.keeper_node.serve``;
- :class:`LinkProcess`: ``python -m computerails.devnet.link``, one node's links to its peers,
  cut with SIGUSR1 and restored with SIGUSR2;
- :func:`oracle_network`: one configured node per oracle key, each naming the others as peers.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eth_account import Account

from computerails.devnet.agent import AgentProcess, write_config, write_keystore
from computerails.devnet.anvil import die_with_parent, free_port

#: Settings for a node on a local devnet: quick ticks and gossip, a short transmitter delay. The
#: rewards duty is off: a devnet starts days of empty epochs in (the timelock delay is skipped at
#: set-up), which the duty would cover with posts of its own beside the transmissions the demo,
#: the bench and the suites count; pass ``rewards={...}`` to turn it on.
LOCAL_SETTINGS: dict[str, Any] = {
    "tick": 0.2,
    "gossip_interval": 0.5,
    "peer_timeout": 2,
    "transmit_delay": 2,
    "receipt_timeout": 30,
    "rewards": {"enabled": False},
}


class OracleProcess(AgentProcess):
    """One oracle node; its log goes to ``<log_dir>/oracle-<n>.log``."""

    MODULE = "computerails.oracle_node.serve"
    READY_PATH = "/v1/health"
    PORT_ENV = "COMPUTERAILS_ORACLE_PORT"
    LOG_NAME = "oracle"

    def __init__(self, config: Path, log_dir: Path, address: str, port: int) -> None:
        super().__init__(config, log_dir)
        self.address = address
        self.port = port
        self.url = f"http://127.0.0.1:{port}"


class KeeperProcess(AgentProcess):
    """One keeper; its log goes to ``<log_dir>/keeper-<n>.log``."""

    MODULE = "computerails.keeper_node.serve"
    READY_PATH = "/v1/health"
    PORT_ENV = "COMPUTERAILS_KEEPER_PORT"
    LOG_NAME = "keeper"


class LinkProcess:
    """``python -m computerails.devnet.link``: the cuttable links of one node to its peers.

    Args:
        pairs: (listening port, target port) per link.
        log_path: where its stderr goes.
    """

    def __init__(self, pairs: list[tuple[int, int]], log_path: Path) -> None:
        self.pairs = pairs
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        #: True: killed when the thread that started it exits (see :func:`die_with_parent`).
        self.die_with_parent = False

    def start(self) -> LinkProcess:
        """Start and wait for its ``ready`` line.

        Raises:
            RuntimeError: it exited before it was ready.
        """
        args = [f"{a}:{b}" for a, b in self.pairs]
        with self.log_path.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "computerails.devnet.link", *args],
                stdout=subprocess.PIPE,
                stderr=out,
                preexec_fn=die_with_parent if self.die_with_parent else None,
            )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"ready":
            self.process.wait(timeout=30)
            raise RuntimeError(f"link exited with {self.process.returncode}:\n{self.log_path.read_text()}")
        return self

    def _started(self) -> subprocess.Popen[bytes]:
        if self.process is None:
            raise RuntimeError("the link was never started")
        return self.process

    def cut(self) -> None:
        """Every connection through the links is dropped, and new ones refused."""
        self._started().send_signal(signal.SIGUSR1)

    def restore(self) -> None:
        self._started().send_signal(signal.SIGUSR2)

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 30 s); a no-op when it is not running."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def oracle_network(
    folder: Path,
    rpc_url: str,
    deployment: Path,
    keys: Sequence[str],
    *,
    cuttable: int | None = None,
    die_with_parent: bool = False,
    **settings: Any,
) -> tuple[list[OracleProcess], LinkProcess | None]:
    """One node per oracle key (in ``<folder>/oracle-<i>``), each naming all the others as peers
    (not started). With `cuttable` (a position in `keys`), that node's links to and from its peers
    go through a :class:`LinkProcess`, started here, that the caller can cut and restore.

    Args:
        die_with_parent: the nodes and the link are killed when the thread that started them
            exits (see :func:`~computerails.devnet.anvil.die_with_parent`).
        settings: node settings over :data:`LOCAL_SETTINGS` (e.g. ``probes_per_epoch``).
    """
    n = len(keys)
    addresses = [Account.from_key(k).address for k in keys]
    ports = [free_port() for _ in keys]
    folder.mkdir(parents=True, exist_ok=True)
    urls = {(i, j): f"http://127.0.0.1:{ports[j]}" for i in range(n) for j in range(n) if i != j}
    link = None
    if cuttable is not None:
        pairs = []
        for j in range(n):
            if j == cuttable:
                continue
            inbound, outbound = free_port(), free_port()
            pairs += [(inbound, ports[cuttable]), (outbound, ports[j])]
            urls[(j, cuttable)] = f"http://127.0.0.1:{inbound}"
            urls[(cuttable, j)] = f"http://127.0.0.1:{outbound}"
        link = LinkProcess(pairs, folder / "link.log")
        link.die_with_parent = die_with_parent
        link.start()
    nodes = []
    for i, key in enumerate(keys):
        home = folder / f"oracle-{i}"
        keystore, password = write_keystore(home, key)
        peers = [{"address": addresses[j], "url": urls[(i, j)]} for j in range(n) if j != i]
        values = {
            "rpc_url": rpc_url,
            "deployment": str(deployment),
            "keystore": str(keystore),
            "password_file": str(password),
            "data_dir": str(home / "data"),
            "peers": peers,
            **LOCAL_SETTINGS,
        } | settings
        config = write_config(home / "oracle.toml", **values)
        node = OracleProcess(config, home, addresses[i], ports[i])
        node.die_with_parent = die_with_parent
        nodes.append(node)
    return nodes, link
