"""Oracle nodes as real processes for the network tests: one keystore per dev oracle key, a TOML
file naming the other nodes as peers, ``python -m computerails.oracle_node.serve`` on a free
127.0.0.1 port, stopped by its own pid."""

from __future__ import annotations

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


def oracle_network(
    folder: Path, rpc_url: str, deployment: Path, indices: tuple[int, ...], **settings: Any
) -> list[OracleProcess]:
    """One node per dev key index, each naming all the others as peers (not started)."""
    ports = {i: free_port() for i in indices}
    nodes = []
    for i in indices:
        home = folder / f"oracle-{i}"
        peers = [{"address": dev_address(j), "url": f"http://127.0.0.1:{ports[j]}"} for j in indices if j != i]
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
    return nodes
