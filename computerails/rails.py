"""The connection object: one node, one deployment, optionally one signing key."""

from __future__ import annotations

import warnings
from functools import cached_property
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import HTTPProvider, Web3

from computerails.deployments import Deployment, load_artifact, load_deployment
from computerails.errors import ChainMismatch, NoAccount
from computerails.tx import SentTransaction, TxManager
from computerails.types import TokenInfo

AccountLike = LocalAccount | str | bytes | None


def _to_account(account: AccountLike) -> LocalAccount | None:
    if account is None or isinstance(account, LocalAccount):
        return account
    return Account.from_key(account)


class ComputeRails:
    """A connection to one deployment. Role APIs hang off it:

    - :attr:`client`: create, cancel, reclaim and dispute jobs; withdraw refunds.
    - :attr:`provider`: register, stake, unbond, accept jobs, claim rewards, status.
    - :attr:`oracle`: sign and submit attestations and uptime reports.
    - :attr:`views`: read-only state for dashboards.

    Use :func:`computerails.connect` to build one.
    """

    def __init__(self, w3: Web3, deployment: Deployment, account: LocalAccount | None = None, *, timeout: float = 120.0):
        self.w3 = w3
        self.deployment = deployment
        self.chain_id = int(w3.eth.chain_id)
        if self.chain_id != deployment.chain_id:
            raise ChainMismatch(deployment.chain_id, self.chain_id)
        if not deployment.matches_sdk_abis():
            warnings.warn(
                f"deployment {deployment.source} was made from other contract ABIs than this SDK ships; "
                "calls may fail: upgrade the SDK or redeploy",
                stacklevel=3,
            )
        self.account = account
        self._tx = TxManager(w3, account, self.chain_id, timeout=timeout) if account is not None else None
        self.staking = self._contract("ProviderStaking", deployment.address("ProviderStaking"))
        self.escrow = self._contract("JobEscrow", deployment.address("JobEscrow"))
        self.hub = self._contract("AttestationHub", deployment.address("AttestationHub"))
        self.slasher = self._contract("UptimeSlasher", deployment.address("UptimeSlasher"))
        self._tokens: dict[str, TokenInfo] = {}

        from computerails.client import ClientAPI
        from computerails.oracle import OracleAPI
        from computerails.provider import ProviderAPI
        from computerails.views import Views

        self.client = ClientAPI(self)
        self.provider = ProviderAPI(self)
        self.oracle = OracleAPI(self)
        self.views = Views(self)

    # ───────────────────────── plumbing shared by the roles ─────────────────────────

    @property
    def address(self) -> str:
        """The signing account's address."""
        return self.require_account().address

    @property
    def tx(self) -> TxManager:
        if self._tx is None:
            raise NoAccount("this connection is read-only: pass account=... to connect() to send transactions")
        return self._tx

    def require_account(self) -> LocalAccount:
        if self.account is None:
            raise NoAccount("this connection is read-only: pass account=... to connect() to send transactions")
        return self.account

    def send(self, fn: Any, label: str) -> SentTransaction:
        return self.tx.send(fn, label=label)

    def _contract(self, artifact: str, address: str) -> Any:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=load_artifact(artifact)["abi"])

    def erc20(self, address: str) -> Any:
        """A token contract (ERC-20 with EIP-2612, as the test USD token's ABI describes)."""
        return self._contract("MockUSD", address)

    def token(self, address: str | None = None) -> TokenInfo:
        """Symbol and decimals of a token (default: the first payment token), cached."""
        address = to_checksum_address(address or self.deployment.payment_tokens[0])
        info = self._tokens.get(address)
        if info is None:
            contract = self.erc20(address)
            info = TokenInfo(address=address, symbol=contract.functions.symbol().call(), decimals=contract.functions.decimals().call())
            self._tokens[address] = info
        return info

    @cached_property
    def staking_token(self) -> TokenInfo:
        return self.token(self.deployment.staking_token)

    def now(self) -> int:
        """The latest block's timestamp: the chain's clock, which devnets may warp."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def wait_for_receipt(self, tx_hash: str, timeout: float | None = None) -> Any:
        """Wait for a transaction sent earlier (e.g. after a TransactionTimeout)."""
        return self.tx.wait_for_receipt(tx_hash, timeout)


def connect(
    rpc: str | Web3,
    deployment: str | Path | int | Deployment | None = None,
    account: AccountLike = None,
    *,
    timeout: float = 120.0,
) -> ComputeRails:
    """Connect to a node and a deployment.

    Args:
        rpc: an RPC URL, or an existing ``Web3`` (e.g. Ape's ``chain.provider.web3``).
        deployment: a ``deployments/<chainId>.json`` path, a chain id, a loaded
            :class:`~computerails.deployments.Deployment`, or None for the registry entry of the
            node's chain.
        account: a ``LocalAccount`` or private key; None for a read-only connection.
        timeout: seconds to wait for each receipt.

    Raises:
        ChainMismatch: the node's chain id differs from the deployment's.
        DeploymentError: no such deployment.
    """
    w3 = rpc if isinstance(rpc, Web3) else Web3(HTTPProvider(rpc, request_kwargs={"timeout": 30}))
    chain_id = int(w3.eth.chain_id)
    resolved = load_deployment(deployment, chain_id=chain_id)
    return ComputeRails(w3, resolved, _to_account(account), timeout=timeout)
