"""The connection's plumbing, shared by the role modules (internal).

A :class:`Session` holds what every role needs to talk to one deployment: the node (``w3``
and the plain JSON-RPC client), the ABI codecs, the contract addresses and web3 contract
objects, token metadata, the caches (TTL and forever), the chain's clock and the transaction
manager. The facade (:class:`computerails.rails.ComputeRails`) builds one and hands it to
each role; roles never see the facade. Imports flow one way, each layer importing only
from the layers below it (``tests/sdk/test_imports.py`` checks it)::

    rails                                        the facade (imported by its users only)
    client, provider, oracle, governance, views  the roles (never the facade, never each other)
    shared                                       what several roles do (reads, claim everything)
    session                                      this module
    _rpc, tx, deployments, types, addresses,     building blocks (import only each other)
    errors, eip712, status

Nothing here is public API: users reach it through the facade's attributes.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Hashable, Sequence
from functools import cache, partial
from typing import Any, TypeVar, cast

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract

from computerails._rpc import TRANSIENT, Codec, Request, Rpc, checksum, unreachable
from computerails.addresses import parse_address
from computerails.deployments import DEVNET_CHAIN_IDS, Deployment, load_artifact
from computerails.errors import (
    ChainMismatch,
    DeploymentError,
    DeploymentNotFound,
    InvalidToken,
    NoAccount,
    NoRewardsDistributor,
)
from computerails.tx import Call, Sendable, SentTransaction, TxManager
from computerails.types import TokenInfo

#: The ABI every token is spoken to with: any ERC-20 with EIP-2612 permits (hand-written, see
#: ``computerails/abi/ERC20Permit.json``), never a test token's.
ERC20 = "ERC20Permit"
#: Contracts whose ABIs the SDK encodes and decodes itself.
CODECS = (
    "ProviderStaking",
    "JobEscrow",
    "AttestationHub",
    "UptimeSlasher",
    "MeteredEscrow",
    "RewardsDistributor",
    ERC20,
)
#: Calls that fail as a whole when short of gas (no try/catch on their path): once a gas limit
#: is known, a bounded eth_call is their simulation (see TxManager.simulation).
_BOUNDED = (
    ("JobEscrow", "createJob"),
    ("JobEscrow", "accept"),
    ("AttestationHub", "submitAttestation"),
    ("AttestationHub", "submitUptimeReport"),
)

T = TypeVar("T")

_READ_ONLY = "this connection is read-only: pass account=... to connect() to send transactions"


class LazyContract:
    """A web3 contract, built by `build` when first used for more than its address.

    web3 builds every function and event object of an ABI when a contract is made: about 6 ms
    per protocol contract, three quarters of a connection's set-up, and many connections (a CLI
    command, a read-only view) never call through web3 at all. ``address`` is answered without
    building; any other attribute (``functions``, ``events``, ``abi`` ...) is the built contract's.
    """

    __slots__ = ("address", "_artifact", "_build", "_built")

    def __init__(self, artifact: str, address: str, build: Callable[[], Contract]) -> None:
        self.address = to_checksum_address(address)
        self._artifact = artifact
        self._build = build
        self._built: Contract | None = None

    def __getattr__(self, name: str) -> Any:
        built = self._built
        if built is None:  # two threads may both build it: either result is the same contract
            built = self._built = self._build()
        return getattr(built, name)

    def __repr__(self) -> str:
        return f"LazyContract({self._artifact} at {self.address})"


@cache
def codecs() -> dict[str, Codec]:
    """The shipped ABIs' codecs, built once per process (the ABIs are package data)."""
    return {name: Codec(load_artifact(name)["abi"]) for name in CODECS}


@cache
def _erc20_abi(faucet: bool) -> tuple[dict[str, Any], ...]:
    """The generic token ABI; with ``faucet``, plus the devnet test tokens' ``mint(to, amount)``."""
    abi = list(load_artifact(ERC20)["abi"])
    if faucet:
        abi += [item for item in load_artifact("MockUSD")["abi"] if item.get("name") == "mint"]
    return tuple(abi)


def _maybe(request: Request) -> Request:
    """`request` whose revert or undecodable result comes back as None instead of raising."""
    parse = request.parse

    def lenient_parse(value: Any) -> Any:
        try:
            return parse(value) if parse is not None else value
        except Exception:  # eth-abi's decoding errors: the answer is not what the ABI says
            return None

    return Request(request.method, request.params, lenient_parse, lenient=True)


class Session:
    """One node, one deployment, optionally one signing key: what the roles share.

    Args:
        w3: the node.
        deployment: the deployment to talk to.
        account: the signing key, or None for a read-only session.
        timeout: seconds to wait for each receipt.
        cache_ttl: seconds governance-set values are cached (see :meth:`cached`).

    Raises:
        ChainMismatch: the node's chain id differs from the deployment's.
        DeploymentNotFound: a contract or token of the deployment has no code on the node.
        RPCUnavailable: the node did not answer.
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
        self.w3 = w3
        self.deployment = deployment
        try:
            self.chain_id = int(w3.eth.chain_id)
        except TRANSIENT as exc:
            raise unreachable(w3, exc) from None
        if self.chain_id != deployment.chain_id:
            raise ChainMismatch(deployment.chain_id, self.chain_id)
        if not deployment.matches_sdk_abis():
            warnings.warn(
                f"deployment {deployment.source} was made from other contract ABIs than this SDK ships; "
                "calls may fail: upgrade the SDK or redeploy",
                stacklevel=4,  # Session <- ComputeRails <- connect <- the caller
            )
        self.account = account
        # The SDK's own reads: plain JSON-RPC with precomputed codecs (see computerails._rpc).
        self.rpc = Rpc(w3, reads=True)
        self.abi = codecs()
        self._check_code()
        self._tx = TxManager(w3, account, self.chain_id, timeout=timeout) if account is not None else None
        if self._tx is not None:
            self._tx.bounded_selectors.update("0x" + self.abi[c][f].selector.hex() for c, f in _BOUNDED)
        self.staking = self._lazy("ProviderStaking")
        self.escrow = self._lazy("JobEscrow")
        self.hub = self._lazy("AttestationHub")
        self.slasher = self._lazy("UptimeSlasher")
        self.cache_ttl = cache_ttl
        self._tokens: dict[str, TokenInfo] = {}
        self._staking_token: TokenInfo | None = None
        self._ttl_cache: dict[Hashable, tuple[float, Any]] = {}
        self._forever: dict[Hashable, Any] = {}
        self._cache_lock = threading.Lock()
        #: The latest block timestamp this session saw (see :attr:`last_seen_time`).
        self.chain_time: int | None = None

    def _lazy(self, name: str) -> Contract:
        """The deployment's contract `name` as a :class:`LazyContract`, typed as the web3 contract
        it stands for (it answers every attribute one has)."""
        address = self.deployment.address(name)
        return cast(Contract, LazyContract(name, address, partial(self.contract, name, address)))

    def _check_code(self) -> None:
        """One batch of eth_getCode over the deployment's contracts and tokens: a deployment
        file from another chain with the same id (a restarted devnet) fails here, by name,
        instead of as an undecodable empty result of the first read."""
        d = self.deployment
        named = [(name, address) for name, address in d.contracts.items()]
        if d.governance.get("timelock"):
            named.append(("ProtocolTimelock", str(d.governance["timelock"])))
        if d.tokens.get("staking"):
            named.append(("staking token", d.staking_token))
        named += [("payment token", address) for address in d.payment_tokens]
        codes = self.rpc.run([Request("eth_getCode", [checksum(a), "latest"]) for _, a in named])
        for (name, address), code in zip(named, codes):
            if not code or code in ("0x", "0x0"):
                raise DeploymentNotFound(self.chain_id, name, checksum(address), d.source)

    @property
    def metered(self) -> str:
        """The MeteredEscrow's address (issue 12).

        Raises:
            DeploymentError: the deployment file predates MeteredEscrow and does not record it.
        """
        address = self.deployment.contracts.get("MeteredEscrow")
        if not address:
            raise DeploymentError(
                f"deployment {self.deployment.source or self.chain_id} has no MeteredEscrow (written before issue 12): "
                "deploy the protocol again to pay per request"
            )
        return checksum(address)

    @property
    def rewards(self) -> str:
        """The RewardsDistributor's address (issue 16).

        Raises:
            NoRewardsDistributor: the deployment file predates the RewardsDistributor.
        """
        address = self.deployment.contracts.get("RewardsDistributor")
        if not address:
            raise NoRewardsDistributor(str(self.deployment.source or self.deployment.chain_id))
        return checksum(address)

    # ───────────────────────── account and sending ─────────────────────────

    @property
    def address(self) -> str:
        """The signing account's address.

        Raises:
            NoAccount: the session is read-only.
        """
        return self.require_account().address

    def require_account(self) -> LocalAccount:
        """The signing account.

        Raises:
            NoAccount: the session is read-only.
        """
        if self.account is None:
            raise NoAccount(_READ_ONLY)
        return self.account

    @property
    def tx(self) -> TxManager:
        """The transaction manager of the signing account.

        Raises:
            NoAccount: the session is read-only.
        """
        if self._tx is None:
            raise NoAccount(_READ_ONLY)
        return self._tx

    def send(self, fn: Sendable, label: str) -> SentTransaction:
        """Simulate, sign, send and await `fn` (a web3 ``ContractFunction`` or a :class:`Call`)."""
        return self.tx.send(fn, label=label)

    def wait_for_receipt(self, tx_hash: str, timeout: float | None = None) -> Any:
        """Wait for a transaction sent earlier (e.g. after a TransactionTimeout)."""
        return self.tx.wait_for_receipt(tx_hash, timeout)

    # ───────────────────────── contracts and tokens ─────────────────────────

    def contract(self, artifact: str, address: str) -> Contract:
        """A web3 contract for one of the shipped ABIs (``"JobEscrow"``, ``"ERC20Permit"`` ...)."""
        return self.w3.eth.contract(address=to_checksum_address(address), abi=load_artifact(artifact)["abi"])

    def erc20(self, address: str) -> Contract:
        """A web3 contract for a token, with the generic ERC-20 / EIP-2612 ABI. On a local devnet
        (chain 31337 or 1337) it also carries the test tokens' faucet, ``mint(to, amount)``."""
        abi = _erc20_abi(self.chain_id in DEVNET_CHAIN_IDS)
        return self.w3.eth.contract(address=to_checksum_address(address), abi=list(abi))

    def token(self, address: str | None = None) -> TokenInfo:
        """Symbol and decimals of a token (default: the first payment token), cached.

        Raises:
            InvalidAddress: `address` is mistyped (wrong EIP-55 checksum) or not an address.
            InvalidToken: `address` holds no ERC-20 token (no code, or its metadata reads fail).
        """
        address = parse_address(address, "token") if address else checksum(self.deployment.payment_tokens[0])
        info = self._tokens.get(address)
        if info is None:
            erc20 = self.abi[ERC20]
            code, symbol, decimals = self.rpc.run(
                [
                    Request("eth_getCode", [address, "latest"]),
                    _maybe(Rpc.call(address, erc20["symbol"])),
                    _maybe(Rpc.call(address, erc20["decimals"])),
                ]
            )
            if not code or code == "0x":
                raise InvalidToken(address, self.chain_id, "no contract code there (an account, or another chain's)")
            if not isinstance(symbol, str) or not isinstance(decimals, int):
                raise InvalidToken(address, self.chain_id, "its symbol() and decimals() do not answer as a token's")
            info = TokenInfo(address=address, symbol=symbol, decimals=decimals)
            self._tokens[address] = info
        return info

    @property
    def staking_token(self) -> TokenInfo:
        """The staking token's metadata, cached."""
        if self._staking_token is None:
            self._staking_token = self.token(self.deployment.staking_token)
        return self._staking_token

    def approve(self, token: str, spender: str, amount: int) -> SentTransaction:
        """Approve `spender` to pull `amount` (raw units) of `token` from the signing account."""
        data = self.abi[ERC20]["approve"].encode(spender, amount)
        return self.tx.send(Call(token, data, "approve"), label="approve")

    # ───────────────────────── reads ─────────────────────────

    def read(self, contract: str, to: str, fn: str, *args: Any) -> Any:
        """One view call through the codecs: ``read("JobEscrow", escrow, "jobStatus", 7)``."""
        return self.rpc.run([self.call(contract, to, fn, *args)])[0]

    def call(self, contract: str, to: str, fn: str, *args: Any, block: str | int = "latest") -> Request:
        """A view call as a batchable request (at `block`: a number, or ``"latest"``)."""
        return Rpc.call(to, self.abi[contract][fn], *args, block=block)

    # ───────────────────────── the chain's clock ─────────────────────────

    def now(self) -> int:
        """The latest block's timestamp: the chain's clock, which devnets may warp."""
        return self.saw_time(
            self.rpc.request("eth_getBlockByNumber", ["latest", False], lambda b: int(b["timestamp"], 16))
        )

    def latest_time(self) -> Request:
        """The latest block's timestamp as a batchable request (feeds :meth:`saw_time`)."""
        return Request("eth_getBlockByNumber", ["latest", False], lambda b: self.saw_time(int(b["timestamp"], 16)))

    def saw_time(self, timestamp: int) -> int:
        """Record `timestamp` as the latest block time seen, and return it."""
        self.chain_time = timestamp
        return timestamp

    @property
    def last_seen_time(self) -> int | None:
        """The latest block timestamp this session read last, or None: a guess of the chain's
        clock used only to prepare a simulation that is discarded unless the guess turns out
        exact."""
        return self.chain_time

    # ───────────────────────── caches ─────────────────────────

    def cached(self, key: Hashable, load: Callable[[], T], *, fresh: bool = False) -> T:
        """A governance-set value, read at most every ``cache_ttl`` seconds (``fresh`` re-reads)."""
        now = time.monotonic()
        hit = self._ttl_cache.get(key)
        if hit is not None and not fresh and now - hit[0] < self.cache_ttl:
            cached: T = hit[1]  # stored by this method under this key, with this load
            return cached
        value = load()
        with self._cache_lock:
            self._ttl_cache[key] = (now, value)
        return value

    def cached_many(
        self, keyed: Sequence[tuple[Hashable, Request]], extra: Sequence[Request] = ()
    ) -> tuple[list[Any], list[Any]]:
        """Values for TTL-cached keys plus `extra` requests, all in one round trip: the cached
        keys that are stale ride along with the requests that are never cached."""
        now = time.monotonic()
        values: list[Any] = []
        missing: list[tuple[int, Hashable, Request]] = []
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
        return values, results[len(missing) :]

    def forever(self, key: Hashable, load: Callable[[], T]) -> T:
        """A value fixed by code or chain (token metadata, permit domains), read once."""
        if key not in self._forever:
            value = load()
            with self._cache_lock:
                self._forever[key] = value
        known: T = self._forever[key]  # stored by this method under this key, with this load
        return known

    def refresh(self) -> None:
        """Forget every cached read (TTL and forever caches, token metadata)."""
        with self._cache_lock:
            self._ttl_cache.clear()
            self._forever.clear()
            self._tokens.clear()
            self._staking_token = None
