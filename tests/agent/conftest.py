"""The provider agent's suites run the real processes on 127.0.0.1: an anvil with the protocol
deployed (once per session), the provider registered with stake, a payer with an escrow, and
agents started as subprocesses on free ports, stopped by their own pids."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from eth_account import Account

import computerails
from computerails.devnet import dev_key
from tests.support.agent import PASSWORD, AgentProcess, mint, write_config
from tests.support.anvil import devnet_fixtures
from tests.support.sdk import CLIENT, FIRST_STAKE, OTHER_CLIENT, PROVIDER

PRICE = Decimal("0.01")  # mUSD per request
PRICE_RAW = 10_000
ESCROW = 40  # mUSD the payer escrows for the provider


anvil, deployment_file, w3 = devnet_fixtures()  # session scope: one node per xdist worker


@pytest.fixture(scope="session")
def connect(anvil, deployment_file):
    def _connect(index: int | None = None):
        return computerails.connect(
            anvil.url, deployment=deployment_file, account=dev_key(index) if index is not None else None
        )

    return _connect


@pytest.fixture(scope="session")
def provider_rails(connect):
    """The provider, registered with stake (each collection locks 5 stake tokens per mUSD)."""
    rails = connect(PROVIDER)
    mint(rails, stake=5_000)
    rails.provider.register("ipfs://agent", FIRST_STAKE)
    return rails


@pytest.fixture(scope="session")
def payer_rails(connect, provider_rails):
    """The client, with ESCROW mUSD in escrow for the provider."""
    rails = connect(CLIENT)
    mint(rails, usd=100)
    rails.payer.deposit(provider_rails.address, ESCROW)
    return rails


@pytest.fixture(scope="session")
def small_payer_rails(connect, provider_rails):
    """Another client whose escrow covers only a few requests (0.05 mUSD, 10 % margin: 4)."""
    rails = connect(OTHER_CLIENT)
    mint(rails, usd=1)
    rails.payer.deposit(provider_rails.address, Decimal("0.05"))
    return rails


@pytest.fixture(scope="session")
def keystore(tmp_path_factory) -> tuple[Path, Path]:
    """The provider's key as a V3 keystore and its password file."""
    folder = tmp_path_factory.mktemp("keys")
    keyfile = Account.encrypt(dev_key(PROVIDER), PASSWORD, kdf="pbkdf2", iterations=1_000)
    (folder / "provider.json").write_text(json.dumps(keyfile))
    (folder / "password").write_text(PASSWORD + "\n")
    return folder / "provider.json", folder / "password"


@pytest.fixture(scope="session")
def make_agent(anvil, deployment_file, keystore, provider_rails, tmp_path_factory):
    """make_agent(**settings) -> an AgentProcess (not started) with its own data folder; every
    agent still running at the end of the session is stopped by its pid."""
    agents: list[AgentProcess] = []

    def _make(**settings) -> AgentProcess:
        folder = tmp_path_factory.mktemp("agent")
        values = {
            "rpc_url": anvil.url,
            "deployment": str(deployment_file),
            "keystore": str(keystore[0]),
            "password_file": str(keystore[1]),
            "data_dir": str(folder / "data"),
            "price": str(PRICE),
            "native_price": "1",
            "collect_interval": 0,
            "max_body_bytes": 4_096,
            "receipt_timeout": 60,
        } | settings
        agent = AgentProcess(write_config(folder / "agent.toml", **values), folder)
        agents.append(agent)
        return agent

    yield _make
    for agent in agents:
        if agent.running():
            agent.kill()
