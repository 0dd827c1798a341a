"""The provider agent as a real process for tests/agent: the package's own launcher
(:mod:`computerails.devnet.agent`, shared with the bench and the demo), and the test tokens and
keystores the daemon suites give their accounts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from computerails.devnet import dev_key
from computerails.devnet.agent import PASSWORD, READY_TIMEOUT, AgentProcess, write_config, write_keystore

__all__ = [
    "PASSWORD",
    "READY_TIMEOUT",
    "AgentProcess",
    "keystore_settings",
    "provider_agent",
    "mint",
    "write_config",
    "write_keystore",
]


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
    keystore, password = write_keystore(folder, dev_key(index))
    return {"keystore": str(keystore), "password_file": str(password)}


def provider_agent(index: int, folder: Path, rpc_url: str, deployment: Path, **settings: Any) -> AgentProcess:
    """An agent process, not started, for dev account `index` on a devnet: its keystore and data
    folder in `folder`, collection rounds off and a price of 0.01 mUSD unless `settings` say
    otherwise (they override any setting, and add others: ``jobs={...}``)."""
    values: dict[str, Any] = {
        "rpc_url": rpc_url,
        "deployment": str(deployment),
        "data_dir": str(folder / "data"),
        "price": "0.01",
        "collect_interval": 0,
        **keystore_settings(index, folder),
        **settings,
    }
    return AgentProcess(write_config(folder / "agent.toml", **values), folder)
