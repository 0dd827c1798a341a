"""Devnet keys: the well-known test mnemonic (anvil's default and Ape's test accounts), which of
its accounts play which part on a local deployment, and deterministic demo keys."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak

from computerails.deployments import DEVNET_CHAIN_IDS

__all__ = [
    "DEVNET_CHAIN_IDS",
    "DEV_MNEMONIC",
    "LOCAL_ROLES",
    "derive_key",
    "dev_address",
    "dev_key",
    "key_of_ape_account",
]

#: The well-known devnet mnemonic. Never hold value with it.
DEV_MNEMONIC = "test test test test test test test test test test test junk"

#: Which of the mnemonic's accounts play which part on local deployments.
GOVERNANCE_INDEX = 0
TREASURY_INDEX = 1
ORACLE_INDEXES = (17, 18, 19)
LOCAL_ROLES: dict[str, int | tuple[int, ...]] = {
    "governance": GOVERNANCE_INDEX,
    "treasury": TREASURY_INDEX,
    "oracles": ORACLE_INDEXES,
}

Account.enable_unaudited_hdwallet_features()


@lru_cache(maxsize=64)
def dev_key(index: int) -> str:
    """Private key of the devnet mnemonic's account `index`."""
    return "0x" + bytes(Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}").key).hex()


def dev_address(index: int) -> str:
    """Address of the devnet mnemonic's account `index`."""
    return str(Account.from_key(dev_key(index)).address)


def derive_key(seed: int, role: str, index: int) -> str:
    """Deterministic devnet keys for simulations: the same seed gives the same accounts."""
    return "0x" + keccak(text=f"computerails-demo/{seed}/{role}/{index}").hex()


def key_of_ape_account(account: Any, password: Callable[[str], str]) -> str:
    """The private key behind an Ape account, for the Ape entry points in ``scripts/``.

    Test accounts expose their key; keystore accounts are decrypted with the password from
    ``APE_ACCOUNTS_<ALIAS>_PASSPHRASE`` or, failing that, from `password(alias)` (a prompt).

    Raises:
        ValueError: the account has no local key (hardware wallet) or the password is wrong.
    """
    key = getattr(account, "private_key", None)
    if key:
        return str(key)
    keyfile = getattr(account, "keyfile_path", None)
    if keyfile is None:
        raise ValueError(f"account {account} has no local key (hardware wallets are not supported here)")
    alias = getattr(account, "alias", "") or ""
    secret = os.environ.get(f"APE_ACCOUNTS_{alias}_PASSPHRASE")
    if secret is None:
        secret = password(alias)
    try:
        return "0x" + bytes(Account.decrypt(Path(keyfile).read_text(), secret)).hex()
    except ValueError:
        raise ValueError(f"wrong password for Ape account {alias}") from None
