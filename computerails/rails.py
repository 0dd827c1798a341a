"""The connection object: one node, one deployment, optionally one signing key."""

from __future__ import annotations

import os
import threading
import time
import warnings
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Callable, Sequence

import requests
import requests.adapters
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import HTTPProvider, Web3

from computerails._rpc import Codec, Request, Rpc, checksum
from computerails.addresses import parse_address
from computerails.deployments import DEVNET_CHAIN_IDS, Deployment, load_artifact, load_deployment
from computerails.errors import ChainMismatch, NoAccount
from computerails.tx import SentTransaction, TxManager
from computerails.types import TokenInfo

AccountLike = LocalAccount | str | bytes | None

#: Contracts whose ABIs the SDK encodes and decodes itself. Every token is spoken to with the
#: generic ERC-20 / EIP-2612 ABI (hand-written: computerails/abi/ERC20Permit.json), never a test token's.
_CODECS = ("ProviderStaking", "JobEscrow", "AttestationHub", "UptimeSlasher", "ERC20Permit")
_BOUNDED = (("JobEscrow", "createJob"), ("JobEscrow", "accept"), ("AttestationHub", "submitAttestation"),
            ("AttestationHub", "submitUptimeReport"))


@cache
def _codecs() -> dict[str, Codec]:
    """The shipped ABIs' codecs, built once per process (the ABIs are package data)."""
    return {name: Codec(load_artifact(name)["abi"]) for name in _CODECS}


@cache
def _erc20_abi(faucet: bool) -> tuple[dict[str, Any], ...]:
    """The generic token ABI; with ``faucet``, plus the devnet test tokens' ``mint(to, amount)``."""
    abi = list(load_artifact("ERC20Permit")["abi"])
    if faucet:
        abi += [item for item in load_artifact("MockUSD")["abi"] if item.get("name") == "mint"]
    return tuple(abi)


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
    """

    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        account: LocalAccount | None = None,
        *,
        timeout: float = 120.0,
        cache_ttl: float = 10.0,
    ):
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
        # The SDK's own reads: plain JSON-RPC with precomputed codecs (see computerails._rpc).
        self.rpc = Rpc(w3)
        self.abi = _codecs()
        if self._tx is not None:
            # Calls that fail as a whole when short of gas (no try/catch on their path): once a
            # limit is known, a bounded eth_call is their simulation (see TxManager.simulation).
            self._tx.bounded_selectors.update("0x" + self.abi[c][f].selector.hex() for c, f in _BOUNDED)
        self.cache_ttl = cache_ttl
        self._ttl_cache: dict[Any, tuple[float, Any]] = {}
        self._forever: dict[Any, Any] = {}
        self._cache_lock = threading.Lock()
        self._chain_time: int | None = None  # the latest block timestamp this connection saw

        from computerails.client import ClientAPI
        from computerails.governance import GovernanceAPI
        from computerails.oracle import OracleAPI
        from computerails.provider import ProviderAPI
        from computerails.views import Views

        self.client = ClientAPI(self)
        self.provider = ProviderAPI(self)
        self.oracle = OracleAPI(self)
        self.governance = GovernanceAPI(self)
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
        """A web3 contract for a token, with the generic ERC-20 / EIP-2612 ABI. On a local devnet
        (chain 31337 or 1337) it also carries the test tokens' faucet, ``mint(to, amount)``."""
        abi = _erc20_abi(self.chain_id in DEVNET_CHAIN_IDS)
        return self.w3.eth.contract(address=to_checksum_address(address), abi=list(abi))

    def token(self, address: str | None = None) -> TokenInfo:
        """Symbol and decimals of a token (default: the first payment token), cached.

        Raises:
            InvalidAddress: `address` is mistyped (wrong EIP-55 checksum) or not an address.
        """
        address = parse_address(address, "token") if address else checksum(self.deployment.payment_tokens[0])
        info = self._tokens.get(address)
        if info is None:
            erc20 = self.abi["ERC20Permit"]
            symbol, decimals = self.rpc.run([Rpc.call(address, erc20["symbol"]), Rpc.call(address, erc20["decimals"])])
            info = TokenInfo(address=address, symbol=symbol, decimals=decimals)
            self._tokens[address] = info
        return info

    @cached_property
    def staking_token(self) -> TokenInfo:
        return self.token(self.deployment.staking_token)

    def now(self) -> int:
        """The latest block's timestamp: the chain's clock, which devnets may warp."""
        return self.saw_time(self.rpc.request("eth_getBlockByNumber", ["latest", False], lambda b: int(b["timestamp"], 16)))

    # ───────────────────────── reads and caches (internal) ─────────────────────────

    def read(self, contract: str, to: str, fn: str, *args: Any) -> Any:
        """One view call through the codecs: ``read("JobEscrow", escrow, "jobStatus", 7)``."""
        return self.rpc.run([self.call(contract, to, fn, *args)])[0]

    def call(self, contract: str, to: str, fn: str, *args: Any) -> Request:
        """A view call as a batchable request."""
        return Rpc.call(to, self.abi[contract][fn], *args)

    def latest_time(self) -> Request:
        """The latest block's timestamp as a batchable request (feeds :meth:`saw_time`)."""
        return Request("eth_getBlockByNumber", ["latest", False], lambda b: self.saw_time(int(b["timestamp"], 16)))

    def saw_time(self, timestamp: int) -> int:
        self._chain_time = timestamp
        return timestamp

    @property
    def last_seen_time(self) -> int | None:
        """The latest block timestamp this connection read last, or None: a guess of the
        chain's clock used only to prepare a simulation that is discarded unless the guess
        turns out exact."""
        return self._chain_time

    def cached(self, key: Any, load: Callable[[], Any], *, fresh: bool = False) -> Any:
        """A governance-set value, read at most every ``cache_ttl`` seconds (``fresh`` re-reads)."""
        now = time.monotonic()
        hit = self._ttl_cache.get(key)
        if hit is not None and not fresh and now - hit[0] < self.cache_ttl:
            return hit[1]
        value = load()
        with self._cache_lock:
            self._ttl_cache[key] = (now, value)
        return value

    def cached_many(self, keyed: Sequence[tuple[Any, Request]], extra: Sequence[Request] = ()) -> tuple[list[Any], list[Any]]:
        """Values for TTL-cached keys plus `extra` requests, all in one round trip: the cached
        keys that are stale ride along with the requests that are never cached."""
        now = time.monotonic()
        values: list[Any] = []
        missing: list[tuple[int, Any, Request]] = []
        for i, (key, request) in enumerate(keyed):
            hit = self._ttl_cache.get(key)
            if hit is not None and now - hit[0] < self.cache_ttl:
                values.append(hit[1])
            else:
                values.append(None)
                missing.append((i, key, request))
        results = self.rpc.run([m[2] for m in missing] + list(extra)) if missing or extra else []
        with self._cache_lock:
            for (i, key, _), value in zip(missing, results):
                values[i] = value
                self._ttl_cache[key] = (now, value)
        return values, results[len(missing):]

    def forever(self, key: Any, load: Callable[[], Any]) -> Any:
        """A value fixed by code or chain (token metadata, permit domains), read once."""
        if key not in self._forever:
            value = load()
            with self._cache_lock:
                self._forever[key] = value
        return self._forever[key]

    def refresh(self) -> None:
        """Forget every cached read (TTL and forever caches, token metadata)."""
        with self._cache_lock:
            self._ttl_cache.clear()
            self._forever.clear()
            self._tokens.clear()
            self.__dict__.pop("staking_token", None)

    def wait_for_receipt(self, tx_hash: str, timeout: float | None = None) -> Any:
        """Wait for a transaction sent earlier (e.g. after a TransactionTimeout)."""
        return self.tx.wait_for_receipt(tx_hash, timeout)


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
        DeploymentError: no such deployment.
    """
    w3 = rpc if isinstance(rpc, Web3) else Web3(http_provider(rpc))
    chain_id = int(w3.eth.chain_id)
    resolved = load_deployment(deployment, chain_id=chain_id)
    return ComputeRails(w3, resolved, _to_account(account), timeout=timeout, cache_ttl=cache_ttl)
