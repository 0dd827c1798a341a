"""Oracle nodes as real processes for the network tests: one keystore per dev oracle key, a TOML
file naming the other nodes as peers, ``python -m computerails.oracle_node.serve`` on a free
127.0.0.1 port, stopped by its own pid."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from computerails.devnet import dev_address, free_port
from tests.support.agent import AgentProcess, keystore_settings, write_config


class OracleProcess(AgentProcess):
    MODULE = "computerails.oracle_node.serve"
    READY_PATH = "/v1/health"
    PORT_ENV = "COMPUTERAILS_ORACLE_PORT"
    LOG_NAME = "oracle"

    def __init__(self, config: Path, log_dir: Path, address: str, port: int) -> None:
        super().__init__(config, log_dir)
        self.address = address
        self.port = port
        self.url = f"http://127.0.0.1:{port}"


class LinkProcess:
    """``python -m computerails.devnet.link``: the cuttable links of one node to its peers."""

    def __init__(self, pairs: list[tuple[int, int]], log_path: Path) -> None:
        self.pairs = pairs
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> LinkProcess:
        args = [f"{a}:{b}" for a, b in self.pairs]
        with self.log_path.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "computerails.devnet.link", *args], stdout=subprocess.PIPE, stderr=out
            )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == b"ready"
        return self

    def cut(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGUSR1)

    def restore(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGUSR2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


def oracle_network(
    folder: Path,
    rpc_url: str,
    deployment: Path,
    indices: tuple[int, ...],
    *,
    cuttable: int | None = None,
    **settings: Any,
) -> tuple[list[OracleProcess], LinkProcess | None]:
    """One node per dev key index, each naming all the others as peers (not started). With
    `cuttable`, that node's links to and from its peers go through a :class:`LinkProcess`
    (started here) that the test can cut and restore."""
    ports = {i: free_port() for i in indices}
    folder.mkdir(parents=True, exist_ok=True)
    urls = {(i, j): f"http://127.0.0.1:{ports[j]}" for i in indices for j in indices if i != j}
    link = None
    if cuttable is not None:
        pairs = []
        for j in indices:
            if j == cuttable:
                continue
            inbound, outbound = free_port(), free_port()
            pairs += [(inbound, ports[cuttable]), (outbound, ports[j])]
            urls[(j, cuttable)] = f"http://127.0.0.1:{inbound}"
            urls[(cuttable, j)] = f"http://127.0.0.1:{outbound}"
        link = LinkProcess(pairs, folder / "link.log").start()
    nodes = []
    for i in indices:
        home = folder / f"oracle-{i}"
        peers = [{"address": dev_address(j), "url": urls[(i, j)]} for j in indices if j != i]
        values = {
            "rpc_url": rpc_url,
            "deployment": str(deployment),
            **keystore_settings(i, home),
            "data_dir": str(home / "data"),
            "peers": peers,
            "tick": 0.2,
            "gossip_interval": 0.5,
            "peer_timeout": 2,
            "transmit_delay": 2,
            "receipt_timeout": 30,
        } | settings
        config = write_config(home / "oracle.toml", **values)
        nodes.append(OracleProcess(config, home, dev_address(i), ports[i]))
    return nodes, link
