"""The oracle network's suites run real processes on 127.0.0.1: an anvil with the protocol
deployed (once per session), oracle nodes for the devnet's oracle keys (threshold 2 of 3), and
provider agents, each started as a subprocess on a free port and stopped by its own pid."""

from __future__ import annotations

import pytest

import computerails
from computerails.devnet import dev_key
from tests.support.anvil import devnet_fixtures
from tests.support.oracle import OracleProcess, oracle_network
from tests.support.sdk import ORACLES

anvil, deployment_file, w3 = devnet_fixtures()  # session scope: one node per xdist worker


@pytest.fixture(scope="session")
def connect(anvil, deployment_file):
    def _connect(index: int | None = None):
        return computerails.connect(
            anvil.url, deployment=deployment_file, account=dev_key(index) if index is not None else None
        )

    return _connect


@pytest.fixture
def make_network(anvil, deployment_file, tmp_path):
    """make_network(indices=ORACLES, **settings) -> the nodes (not started); every node still
    running when the test ends is killed by its pid."""
    made: list[OracleProcess] = []

    def _make(indices: tuple[int, ...] = ORACLES, **settings) -> list[OracleProcess]:
        nodes = oracle_network(tmp_path / f"net-{len(made)}", anvil.url, deployment_file, indices, **settings)
        made.extend(nodes)
        return nodes

    yield _make
    for node in made:
        if node.running():
            node.kill()
