"""The keeper's suites run real processes on 127.0.0.1: an anvil with the protocol deployed
(once per session), the keeper started as a subprocess on a free port (stopped by its own pid),
and, for uptime reports, a stand-in oracle node serving ``GET /v1/reports``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

import computerails
from computerails.devnet import dev_address, dev_key
from tests.support.agent import PASSWORD, mint, write_config
from tests.support.anvil import devnet_fixtures
from tests.support.keeper import KeeperProcess
from tests.support.sdk import FIRST_STAKE

KEEPER = 9  # the keeper's account: no other role in these suites
#: Token units one native coin is worth: at anvil's ~1 gwei a settle costs ~0.2 mUSD.
PRICES = {"mUSD": "3000", "mCRS": "3000"}

# Prefixed: tests/agent, tests/sdk and tests/oracle_network name their own session devnets.
kp_anvil, kp_deployment_file, kp_w3 = devnet_fixtures(prefix="kp_")  # one node per xdist worker


@pytest.fixture(scope="session")
def kp_connect(kp_anvil, kp_deployment_file):
    def _connect(index: int | None = None):
        return computerails.connect(
            kp_anvil.url, deployment=kp_deployment_file, account=dev_key(index) if index is not None else None
        )

    return _connect


def registered(connect_to, index: int):
    """Account `index` (through the `kp_connect` fixture's function), registered as a provider
    with FIRST_STAKE."""
    rails = connect_to(index)
    mint(rails, stake=FIRST_STAKE)
    rails.provider.register(f"ipfs://keeper-suite-{index}", FIRST_STAKE)
    return rails


@pytest.fixture(scope="session")
def keeper_address() -> str:
    return dev_address(KEEPER)


@pytest.fixture(scope="session")
def keeper_keystore(tmp_path_factory) -> tuple[Path, Path]:
    """The keeper's key as a V3 keystore and its password file."""
    folder = tmp_path_factory.mktemp("keeper-key")
    keyfile = Account.encrypt(dev_key(KEEPER), PASSWORD, kdf="pbkdf2", iterations=1_000)
    (folder / "keeper.json").write_text(json.dumps(keyfile))
    (folder / "password").write_text(PASSWORD + "\n")
    return folder / "keeper.json", folder / "password"


@pytest.fixture(scope="session")
def make_keeper(kp_anvil, kp_deployment_file, keeper_keystore, tmp_path_factory):
    """make_keeper(**settings) -> a KeeperProcess (not started) with its own data folder; every
    keeper still running at the end of the session is killed by its pid."""
    keepers: list[KeeperProcess] = []

    def _make(**settings) -> KeeperProcess:
        folder = tmp_path_factory.mktemp("keeper")
        values = {
            "rpc_url": kp_anvil.url,
            "deployment": str(kp_deployment_file),
            "keystore": str(keeper_keystore[0]),
            "password_file": str(keeper_keystore[1]),
            "data_dir": str(folder / "data"),
            "interval": 0.2,
            "receipt_timeout": 30,
            "native_price": PRICES,
        } | settings
        keeper = KeeperProcess(write_config(folder / "keeper.toml", **values), folder)
        keepers.append(keeper)
        return keeper

    yield _make
    for keeper in keepers:
        if keeper.running():
            keeper.kill()
