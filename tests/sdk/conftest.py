"""SDK tests run against a real anvil started here on a free port, with the protocol deployed
by the project's deploy script. Each test runs inside an evm_snapshot / evm_revert pair."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import HTTPProvider, Web3

import computerails
from tests.utils.anvil import Anvil, dev_key

# Roles of the test mnemonic's accounts, as scripts/deploy.py assigns them on local networks.
GOVERNANCE, TREASURY = 0, 1
CLIENT, OTHER_CLIENT, PROVIDER, OTHER_PROVIDER, RELAYER = 3, 4, 5, 6, 7
ORACLES = (17, 18, 19)


@pytest.fixture(scope="session")
def anvil(tmp_path_factory):
    node = Anvil(state_file=tmp_path_factory.mktemp("anvil") / "state.json").start()
    yield node
    node.stop()


@pytest.fixture(scope="session")
def deployment_file(anvil, tmp_path_factory) -> Path:
    return anvil.deploy(tmp_path_factory.mktemp("deployments"))


@pytest.fixture(scope="session")
def w3(anvil) -> Web3:
    return Web3(HTTPProvider(anvil.url))


@pytest.fixture(autouse=True)
def _revert_chain(request, w3, deployment_file):
    """Isolate every SDK test: snapshot before, revert after."""
    if request.node.get_closest_marker("no_snapshot"):
        yield
        return
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    yield
    w3.provider.make_request("evm_revert", [snapshot])


@pytest.fixture
def connect(anvil, deployment_file):
    """connect(index) -> ComputeRails signing with the test mnemonic's account `index`."""

    def _connect(index: int | None = None, **kwargs):
        key = dev_key(index) if index is not None else None
        return computerails.connect(anvil.url, deployment=deployment_file, account=key, **kwargs)

    return _connect


@pytest.fixture
def client_rails(connect):
    return connect(CLIENT)


@pytest.fixture
def provider_rails(connect):
    return connect(PROVIDER)


@pytest.fixture
def oracle_keys():
    return [dev_key(i) for i in ORACLES]


@pytest.fixture
def faucet(w3, deployment_file):
    """faucet(rails, usd=..., stake=...) mints test tokens to the connection's account."""

    def _faucet(rails, usd=0, stake=0):
        if usd:
            token = rails.erc20(rails.deployment.payment_tokens[0])
            rails.send(token.functions.mint(rails.address, int(usd * 10**6)), "mint")
        if stake:
            token = rails.erc20(rails.deployment.staking_token)
            rails.send(token.functions.mint(rails.address, int(stake * 10**18)), "mint")

    return _faucet


def warp(w3: Web3, seconds: int) -> None:
    w3.provider.make_request("evm_increaseTime", [seconds])
    w3.provider.make_request("evm_mine", [])
