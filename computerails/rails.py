"""The connection object (the facade): one node, one deployment, optionally one signing key.

:class:`ComputeRails` builds a :class:`~computerails.session.Session` (the plumbing: RPC,
codecs, caches, transaction manager, addresses) and hands it to each role. Imports flow one
way: this module imports the roles, the roles import the session, and nothing the facade is
built from imports it back (users of the SDK do: the package's ``__init__``, the CLI).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import requests
import requests.adapters
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.contract import Contract

from computerails._rpc import TRANSIENT, Codec, Request, Rpc, unreachable
from computerails.arbitrator import ArbitratorAPI
from computerails.client import ClientAPI
from computerails.collector import CollectorAPI
from computerails.deployments import Deployment, load_deployment
from computerails.errors import InvalidKey
from computerails.governance import GovernanceAPI
from computerails.keeper import KeeperAPI
from computerails.oracle import OracleAPI
from computerails.payer import PayerAPI
from computerails.provider import ProviderAPI
from computerails.rewards.distributor import RewardsDistributor
from computerails.session import Session
from computerails.tx import Sendable, SentTransaction, TxManager
from computerails.types import TokenInfo
from computerails.views import Views

AccountLike = LocalAccount | str | bytes | None
T = TypeVar("T")


def _to_account(account: AccountLike) -> LocalAccount | None:
    if account is None or isinstance(account, LocalAccount):
        return account
    try:
        local: LocalAccount = Account.from_key(account)  # annotated: combomethod hides the type
    except (ValueError, TypeError) as exc:
        raise InvalidKey(f"the account given is not a private key: {exc}") from None
    return local


class ComputeRails:
    """A connection to one deployment. Role APIs hang off it:

    - :attr:`client`: create, cancel, reclaim and dispute jobs; withdraw refunds.
    - :attr:`provider`: register, stake, unbond, accept jobs, claim rewards, status.
    - :attr:`payer`: pay per request (MeteredEscrow): deposit, thaw, withdraw, authorize and
      revoke signers, meters that sign vouchers, the runway.
    - :attr:`collector`: the provider's side of pay per request: verify and keep vouchers (on
      disk), decide when to collect, collect, claim.
    - :attr:`oracle`: sign and submit attestations and uptime reports.
    - :attr:`governance`: schedule and execute changes through the timelock.
    - :attr:`keeper`: settle jobs whose challenge window closed (anyone may).
    - :attr:`arbitrator`: list open disputes and resolve them.
    - :attr:`rewards`: incentive emissions (RewardsDistributor): status, claims against a
      rewards file, verifying a file against a root, the recipient, funding the reserve.
    - :attr:`views`: read-only state for dashboards.

    Use :func:`computerails.connect` to build one.

    Caching (per connection; :meth:`refresh` drops it all):

    - forever: token symbol and decimals, whether a token supports EIP-2612 permits and its
      EIP-712 domain, the hub's EIP-712 domain separator (all fixed by the contracts' code and
      the chain);
    - for ``cache_ttl`` seconds (default 10): governance-set values the SDK checks before
      sending: the payment-token allowlist entries and list, ``maxJobDuration``, ``minStake``,
      the oracle set and threshold. A cached value never makes the SDK refuse a call on its own:
      when a check fails on a cached value, the value is read again and the check repeated
      before anything is raised. A value that changed on-chain within the TTL can only let a
      call through the local check, and then the pre-send simulation refuses it with the
      contract's own error. Balances, allowances, nonces, job states and the chain's clock are
      never cached.

    Raises:
        ChainMismatch: the node's chain id differs from the deployment's.
    """

    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        account: LocalAccount | None = None,
        *,
        timeout: float = 120.0,
        cache_ttl: float = 10.0,
    ) -> None:
        self._session = session = Session(w3, deployment, account, timeout=timeout, cache_ttl=cache_ttl)
        self.client = ClientAPI(session)
        self.provider = ProviderAPI(session)
        self.payer = PayerAPI(session)
        self.collector = CollectorAPI(session)
        self.oracle = OracleAPI(session)
        self.governance = GovernanceAPI(session)
        self.keeper = KeeperAPI(session)
        self.arbitrator = ArbitratorAPI(session)
        self.rewards = RewardsDistributor(session)
        self.views = Views(session)

    # ───────────────────────── the connection ─────────────────────────

    @property
    def w3(self) -> Web3:
        return self._session.w3

    @property
    def deployment(self) -> Deployment:
        return self._session.deployment

    @property
    def chain_id(self) -> int:
        return self._session.chain_id

    @property
    def account(self) -> LocalAccount | None:
        """The signing key, or None for a read-only connection."""
        return self._session.account

    @property
    def address(self) -> str:
        """The signing account's address.

        Raises:
            NoAccount: the connection is read-only.
        """
        return self._session.address

    @property
    def staking(self) -> Contract:
        """The ProviderStaking contract (web3)."""
        return self._session.staking

    @property
    def escrow(self) -> Contract:
        """The JobEscrow contract (web3)."""
        return self._session.escrow

    @property
    def hub(self) -> Contract:
        """The AttestationHub contract (web3)."""
        return self._session.hub

    @property
    def slasher(self) -> Contract:
        """The UptimeSlasher contract (web3)."""
        return self._session.slasher

    @property
    def rpc(self) -> Rpc:
        """Plain, batched JSON-RPC to the node (see :mod:`computerails._rpc`)."""
        return self._session.rpc

    @property
    def abi(self) -> dict[str, Codec]:
        """The SDK's ABI codecs by contract name (tokens: ``"ERC20Permit"``)."""
        return self._session.abi

    @property
    def tx(self) -> TxManager:
        """The signing account's transaction manager.

        Raises:
            NoAccount: the connection is read-only.
        """
        return self._session.tx

    @property
    def cache_ttl(self) -> float:
        """Seconds governance-set values stay cached (see the class docstring)."""
        return self._session.cache_ttl

    @cache_ttl.setter
    def cache_ttl(self, seconds: float) -> None:
        self._session.cache_ttl = seconds

    def require_account(self) -> LocalAccount:
        """The signing key.

        Raises:
            NoAccount: the connection is read-only.
        """
        return self._session.require_account()

    def send(self, fn: Sendable, label: str) -> SentTransaction:
        """Simulate, sign, send and await `fn`: a web3 ``ContractFunction`` or a :class:`~computerails.tx.Call`."""
        return self._session.send(fn, label)

    def wait_for_receipt(self, tx_hash: str, timeout: float | None = None) -> Any:
        """Wait for a transaction sent earlier (e.g. after a TransactionTimeout)."""
        return self._session.wait_for_receipt(tx_hash, timeout)

    # ───────────────────────── tokens and the clock ─────────────────────────

    def erc20(self, address: str) -> Contract:
        """A web3 contract for a token, with the generic ERC-20 / EIP-2612 ABI. On a local devnet
        (chain 31337 or 1337) it also carries the test tokens' faucet, ``mint(to, amount)``."""
        return self._session.erc20(address)

    def token(self, address: str | None = None) -> TokenInfo:
        """Symbol and decimals of a token (default: the first payment token), cached.

        Raises:
            InvalidAddress: `address` is mistyped (wrong EIP-55 checksum) or not an address.
        """
        return self._session.token(address)

    @property
    def staking_token(self) -> TokenInfo:
        """The staking token's symbol and decimals, cached."""
        return self._session.staking_token

    def now(self) -> int:
        """The latest block's timestamp: the chain's clock, which devnets may warp."""
        return self._session.now()

    # ───────────────────────── reads and caches (internal; see Session) ─────────────────────────

    def read(self, contract: str, to: str, fn: str, *args: Any) -> Any:
        """One view call through the codecs: ``read("JobEscrow", escrow, "jobStatus", 7)``."""
        return self._session.read(contract, to, fn, *args)

    def call(self, contract: str, to: str, fn: str, *args: Any, block: str | int = "latest") -> Request:
        """A view call as a batchable request (at `block`: a number, or ``"latest"``)."""
        return self._session.call(contract, to, fn, *args, block=block)

    def latest_time(self) -> Request:
        """The latest block's timestamp as a batchable request."""
        return self._session.latest_time()

    def saw_time(self, timestamp: int) -> int:
        """Record `timestamp` as the latest block time seen, and return it."""
        return self._session.saw_time(timestamp)

    @property
    def last_seen_time(self) -> int | None:
        """The latest block timestamp this connection read last, or None."""
        return self._session.last_seen_time

    @property
    def _chain_time(self) -> int | None:  # the session's clock guess, for tests that wind it back
        return self._session.chain_time

    @_chain_time.setter
    def _chain_time(self, timestamp: int | None) -> None:
        self._session.chain_time = timestamp

    def cached(self, key: Hashable, load: Callable[[], T], *, fresh: bool = False) -> T:
        """A governance-set value, read at most every ``cache_ttl`` seconds (``fresh`` re-reads)."""
        return self._session.cached(key, load, fresh=fresh)

    def cached_many(
        self, keyed: Sequence[tuple[Hashable, Request]], extra: Sequence[Request] = ()
    ) -> tuple[list[Any], list[Any]]:
        """Values for TTL-cached keys plus `extra` requests, all in one round trip."""
        return self._session.cached_many(keyed, extra)

    def forever(self, key: Hashable, load: Callable[[], T]) -> T:
        """A value fixed by code or chain (token metadata, permit domains), read once."""
        return self._session.forever(key, load)

    def refresh(self) -> None:
        """Forget every cached read (TTL and forever caches, token metadata)."""
        self._session.refresh()


def http_provider(url: str, timeout: float = 30.0) -> HTTPProvider:
    """web3's HTTPProvider with a session that resolves the environment's proxy, CA-bundle and
    .netrc settings once, here, instead of on every request (requests does that per request
    when ``trust_env`` is on: ~0.15 ms of every round trip to a local node). Environment
    changes after connecting are not picked up. The session is shared by threads (as one
    TxManager is), with a pool sized for that."""
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(url))  # empty when NO_PROXY covers the URL
    auth = requests.utils.get_netrc_auth(url)
    if auth:
        session.auth = auth
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return HTTPProvider(url, request_kwargs={"timeout": timeout}, session=session)


def connect(
    rpc: str | Web3,
    deployment: str | Path | int | Deployment | None = None,
    account: AccountLike = None,
    *,
    timeout: float = 120.0,
    cache_ttl: float = 10.0,
) -> ComputeRails:
    """Connect to a node and a deployment.

    Args:
        rpc: an RPC URL, or an existing ``Web3`` (e.g. Ape's ``chain.provider.web3``).
        deployment: a ``deployments/<chainId>.json`` path, a chain id, a loaded
            :class:`~computerails.deployments.Deployment`, or None for the registry entry of the
            node's chain.
        account: a ``LocalAccount`` or private key; None for a read-only connection.
        timeout: seconds to wait for each receipt.
        cache_ttl: seconds governance-set values (allowlist, maxJobDuration, minStake, oracle
            set, threshold) are cached for the SDK's pre-send checks (see :class:`ComputeRails`).

    Raises:
        ChainMismatch: the node's chain id differs from the deployment's.
        DeploymentError: no such deployment, or its file is malformed.
        DeploymentNotFound: the deployment's contracts have no code on this node.
        InvalidKey: `account` is not a private key.
        RPCUnavailable: the node did not answer.
    """
    w3 = rpc if isinstance(rpc, Web3) else Web3(http_provider(rpc))
    try:
        chain_id = int(w3.eth.chain_id)
    except TRANSIENT as exc:
        raise unreachable(w3, exc) from None
    resolved = load_deployment(deployment, chain_id=chain_id)
    return ComputeRails(w3, resolved, _to_account(account), timeout=timeout, cache_ttl=cache_ttl)
