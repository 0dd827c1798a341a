"""The oracle network's suites run real processes on 127.0.0.1: an anvil with the protocol
deployed (once per session), oracle nodes for the devnet's oracle keys (threshold 2 of 3), and
provider agents, each started as a subprocess on a free port and stopped by its own pid."""

from __future__ import annotations

import pytest

import computerails
from computerails.devnet import dev_key
from tests.support.anvil import devnet_fixtures
from tests.support.oracle import LinkProcess, OracleProcess, oracle_network
from tests.support.sdk import ORACLES

# Prefixed: tests/agent and tests/sdk name their own session devnets anvil, deployment_file, w3.
net_anvil, net_deployment_file, net_w3 = devnet_fixtures(prefix="net_")  # one node per xdist worker


@pytest.fixture(scope="session")
def net_connect(net_anvil, net_deployment_file):
    def _connect(index: int | None = None):
        return computerails.connect(
            net_anvil.url, deployment=net_deployment_file, account=dev_key(index) if index is not None else None
        )

    return _connect


@pytest.fixture
def make_network(net_anvil, net_deployment_file, tmp_path):
    """make_network(indices=ORACLES, **settings) -> the nodes (not started); with
    ``cuttable=INDEX``, (the nodes, that node's started LinkProcess). Every node still running
    when the test ends is killed by its pid, every link stopped."""
    made: list[OracleProcess] = []
    links: list[LinkProcess] = []

    def _make(indices: tuple[int, ...] = ORACLES, **settings):
        nodes, link = oracle_network(
            tmp_path / f"net-{len(made)}", net_anvil.url, net_deployment_file, indices, **settings
        )
        made.extend(nodes)
        if link is None:
            return nodes
        links.append(link)
        return nodes, link

    yield _make
    for node in made:
        if node.running():
            node.kill()
    for link in links:
        link.stop()
