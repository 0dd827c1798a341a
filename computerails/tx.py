"""Sending transactions safely: simulate first, one nonce sequence per key shared by threads,
EIP-1559 fees, receipts awaited with a timeout, and retries that never send twice.

Never twice: a retry re-broadcasts the *same signed bytes*, so it can only ever be the same
transaction (same hash). A node answering "already known" for it, or "nonce too low" while
the hash is known to the chain, counts as success. A wait that times out raises
:class:`~computerails.errors.TransactionTimeout` with the hash; nothing is re-signed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from computerails._rpc import Request, Rpc, format_receipt
from computerails.errors import (
    ComputeRailsError,
    RPCUnavailable,
    TransactionError,
    TransactionReverted,
    TransactionTimeout,
    UnknownRevert,
    decode_revert,
)

#: Errors that mean "the node did not answer": safe to retry with the same signed bytes.
try:  # requests is what web3's HTTPProvider uses
    import requests

    _TRANSIENT: tuple[type[BaseException], ...] = (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)
except ImportError:  # pragma: no cover - web3 always brings requests
    _TRANSIENT = (ConnectionError, TimeoutError)

_ALREADY_KNOWN = ("already known", "known transaction", "already imported", "transaction already exists")
_NONCE_TOO_LOW = ("nonce too low", "nonce is too low", "oldnonce")


@dataclass(frozen=True)
class Call:
    """A contract call already encoded: what :meth:`TxManager.send` takes besides a web3
    ``ContractFunction`` (the SDK's roles build these with precomputed ABI codecs)."""

    address: str
    data: str
    fn_name: str = ""

    def _encode_transaction_data(self) -> str:  # the one method of ContractFunction that send() uses
        return self.data


@dataclass(frozen=True)
class Simulation:
    """A pending simulation: ``request`` goes into a batch, its result into :meth:`gas_limit`."""

    manager: "TxManager"
    to: str
    data: str
    value: int
    bound: int | None  # the gas limit an eth_call is bounded by; None for eth_estimateGas
    request: Request

    def gas_limit(self, result: Any) -> int:
        """The gas limit to send with, or raise the decoded revert (nothing was sent)."""
        m = self.manager
        if self.bound is None:
            limit = m._limit_from_estimate(result)
            m._learn_limit(self.to, self.data, limit)
            return limit
        if isinstance(result, BaseException):  # failed within the bound: let eth_estimateGas decide
            return m.simulate_estimate(self.to, self.data, self.value)
        return self.bound


@dataclass(frozen=True)
class SentTransaction:
    """A mined, successful transaction."""

    tx_hash: str
    receipt: Any
    label: str

    @property
    def gas_used(self) -> int:
        return int(self.receipt["gasUsed"])


def revert_from_exception(exc: BaseException) -> ComputeRailsError:
    """Map a web3 revert exception to the SDK's exception for the same custom error."""
    data = getattr(exc, "data", None)
    if isinstance(data, dict):  # some nodes nest it: {"data": "0x..."}
        data = data.get("data")
    if isinstance(data, (bytes, HexBytes)):
        data = "0x" + bytes(data).hex()
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        return decode_revert(data)
    return UnknownRevert({"reason": str(exc)})


class TxManager:
    """Sends transactions from one key. Thread-safe: share one instance between threads.

    Args:
        w3: the connection.
        account: the signing key.
        chain_id: the chain to sign for (checked against the node by the caller).
        timeout: seconds to wait for a receipt.
        retries: re-broadcasts of the same signed transaction on transient RPC errors.
        gas_margin: multiplier on the simulated gas.
    """

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        chain_id: int,
        *,
        timeout: float = 120.0,
        retries: int = 4,
        gas_margin: float = 1.25,
        poll_interval: float = 0.01,
        fee_ttl: float = 2.0,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.address = account.address
        self.chain_id = chain_id
        self.timeout = timeout
        self.retries = retries
        self.gas_margin = gas_margin
        self.poll_interval = poll_interval
        self.fee_ttl = fee_ttl
        self.rpc = Rpc(w3)
        #: 4-byte selectors ("0x1234abcd") whose simulation may be a bounded eth_call once a limit
        #: is known: only calls that fail as a whole when short of gas (no try/catch that could
        #: swallow an out-of-gas and succeed differently). The SDK's connection fills it in.
        self.bounded_selectors: set[str] = set()
        self._limits: dict[tuple[str, str], int] = {}  # (to, selector) -> a limit an estimate gave
        self._lock = threading.Lock()
        self._next_nonce: int | None = None
        self._fees: tuple[float, int, int] | None = None
        self.sent: list[SentTransaction] = []  # every transaction this manager confirmed

    # ───────────────────────── public ─────────────────────────

    def send(self, fn: Any, *, label: str = "", value: int = 0, gas: int | None = None) -> SentTransaction:
        """Simulate, sign, broadcast and await a contract call.

        Args:
            fn: a web3 ``ContractFunction`` or a :class:`Call`.
            gas: the gas limit from a simulation the caller already ran on exactly this call
                (see :meth:`simulation`); None simulates here.

        Raises:
            ContractRevert: (a subclass named after the custom error) when the simulation reverts:
                nothing was sent.
            TransactionTimeout: no receipt in time; ``tx_hash`` is on the exception.
            TransactionReverted: mined but reverted.
            RPCUnavailable: the node stayed unreachable.
        """
        to = fn.address
        data = fn._encode_transaction_data()
        if gas is None:
            gas = self.simulate(to, data, value)
        max_fee, priority = self._fee_quote()
        with self._lock:
            nonce = self._reserve_nonce()
            tx = {
                "type": 2,
                "chainId": self.chain_id,
                "nonce": nonce,
                "to": to,
                "data": data,
                "value": value,
                "gas": gas,
                "maxFeePerGas": max_fee,
                "maxPriorityFeePerGas": priority,
            }
            signed = self.account.sign_transaction(tx)
            tx_hash = "0x" + bytes(signed.hash).hex()
            try:
                self._broadcast(signed.raw_transaction, tx_hash)
            except BaseException:
                self._next_nonce = None  # unknown state: re-read the nonce from the node next time
                raise
            self._next_nonce = nonce + 1
        receipt = self.wait_for_receipt(tx_hash)
        if receipt["status"] != 1:
            raise TransactionReverted(tx_hash, self._replay_revert(tx, receipt))
        result = SentTransaction(tx_hash, receipt, label or getattr(fn, "fn_name", ""))
        self.sent.append(result)
        return result

    def simulate(self, to: str, data: str, value: int = 0) -> int:
        """Run the call on the node; return a gas limit or raise the decoded revert."""
        sim = self.simulation(to, data, value)
        return sim.gas_limit(self._with_retries(lambda: self.rpc.run([sim.request]))[0])

    def simulation(self, to: str, data: str, value: int = 0) -> "Simulation":
        """The simulation of a call, as a request a caller can batch with its precondition
        reads; pass its result to ``Simulation.gas_limit``. Nothing may be sent before that.

        By default the simulation is ``eth_estimateGas``. For the calls in
        :attr:`bounded_selectors` whose gas limit this manager already established, it is one
        ``eth_call`` carrying that gas limit instead: if the call succeeds within it, the
        transaction sent with the same limit runs the same way (anvil's eth_estimateGas runs
        the call several times to search for a limit: ~3 ms against ~0.8 ms for one eth_call).
        Any failure of the bounded call falls back to eth_estimateGas, whose verdict stands.
        """
        key = (to.lower(), data[:10])
        limit = self._limits.get(key) if data[:10] in self.bounded_selectors else None
        if limit is None:
            return Simulation(self, to, data, value, None, Rpc.estimate(self.address, to, data, value, lenient=True))
        call = {"from": self.address, "to": to, "data": data, "value": hex(value), "gas": hex(limit)}
        return Simulation(self, to, data, value, limit, Request("eth_call", [call, "latest"], lenient=True))

    def simulate_estimate(self, to: str, data: str, value: int = 0) -> int:
        """Simulate with eth_estimateGas whatever the cache holds."""
        request = Rpc.estimate(self.address, to, data, value, lenient=True)
        limit = self._limit_from_estimate(self._with_retries(lambda: self.rpc.run([request]))[0])
        self._learn_limit(to, data, limit)
        return limit

    def _learn_limit(self, to: str, data: str, limit: int) -> None:
        if data[:10] in self.bounded_selectors:
            key = (to.lower(), data[:10])
            self._limits[key] = max(limit, self._limits.get(key, 0))

    def _limit_from_estimate(self, result: Any) -> int:
        """The gas limit for an eth_estimateGas result, or raise the revert it hit."""
        if isinstance(result, ComputeRailsError):
            raise result
        if isinstance(result, BaseException):  # a node error other than a revert
            raise revert_from_exception(result) from None
        return int(result * self.gas_margin) + 10_000

    def wait_for_receipt(self, tx_hash: str, timeout: float | None = None) -> Any:
        """Poll for a receipt until `timeout`; transient RPC errors are ridden out.

        The first polls come quickly (1, 2, 4 ... ms, up to ``poll_interval``): an automining
        devnet mines within a millisecond or two of the broadcast, and a fixed 10 ms sleep after
        a poll that came just too early would dominate the whole send.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        delay = min(0.001, self.poll_interval)
        while True:
            try:
                raw = self.rpc.request("eth_getTransactionReceipt", [tx_hash])
                if raw is not None:
                    receipt = format_receipt(raw)
                    if receipt is None:  # this web3 has no formatter to borrow: ask it for the receipt
                        receipt = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
                    return receipt
            except TransactionNotFound:
                pass
            except _TRANSIENT:
                pass
            if time.monotonic() >= deadline:
                raise TransactionTimeout(tx_hash, self.timeout if timeout is None else timeout)
            time.sleep(delay)
            delay = min(2 * delay, self.poll_interval)

    def resync(self) -> None:
        """Forget the cached nonce (e.g. after the node restarted)."""
        with self._lock:
            self._next_nonce = None

    # ───────────────────────── internals ─────────────────────────

    def _reserve_nonce(self) -> int:
        if self._next_nonce is None:
            self._next_nonce = self._with_retries(
                lambda: self.rpc.request("eth_getTransactionCount", [self.address, "pending"], lambda n: int(n, 16))
            )
        return self._next_nonce

    def _broadcast(self, raw: bytes, tx_hash: str) -> None:
        for attempt in range(self.retries + 1):
            try:
                self.w3.eth.send_raw_transaction(raw)
                return
            except Web3RPCError as exc:
                message = str(exc).lower()
                if any(m in message for m in _ALREADY_KNOWN):
                    return  # this very transaction is already in the pool
                if any(m in message for m in _NONCE_TOO_LOW) and self._known(tx_hash):
                    return  # an earlier attempt of ours got through and was mined
                raise TransactionError(f"node refused transaction {tx_hash}: {exc}") from None
            except _TRANSIENT as exc:
                if attempt == self.retries:
                    raise RPCUnavailable(
                        f"node unreachable while sending {tx_hash} ({exc}); it may or may not have been "
                        f"received: check `wait_for_receipt('{tx_hash}')` before sending again"
                    ) from None
                time.sleep(min(0.1 * 2**attempt, 2.0))

    def _known(self, tx_hash: str) -> bool:
        try:
            self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
            return True
        except TransactionNotFound:
            return False

    def _fee_quote(self) -> tuple[int, int]:
        now = time.monotonic()
        if self._fees is None or now - self._fees[0] > self.fee_ttl:
            block_req = Request("eth_getBlockByNumber", ["pending", False])
            tip_req = Request("eth_maxPriorityFeePerGas", [], lambda p: int(p, 16), lenient=True)
            block, tip = self._with_retries(lambda: self.rpc.run([block_req, tip_req]))
            base = int((block or {}).get("baseFeePerGas") or "0x0", 16)
            priority = tip if isinstance(tip, int) else 10**9  # a node without the method
            # Two base fees of headroom: survives six full blocks of base-fee growth.
            self._fees = (now, 2 * base + priority, priority)
        return self._fees[1], self._fees[2]

    def _replay_revert(self, tx: dict[str, Any], receipt: Any) -> ComputeRailsError | None:
        call = {"from": self.address, "to": tx["to"], "data": tx["data"], "value": hex(tx["value"])}
        try:
            self.rpc.request("eth_call", [call, hex(receipt["blockNumber"])])
        except ComputeRailsError as exc:
            return exc
        except (ContractLogicError, Web3RPCError) as exc:
            return revert_from_exception(exc)
        return None

    def _with_retries(self, call: Callable[[], Any]) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return call()
            except _TRANSIENT as exc:
                if attempt == self.retries:
                    raise RPCUnavailable(f"node unreachable: {exc}") from None
                time.sleep(min(0.1 * 2**attempt, 2.0))
        raise AssertionError("unreachable")  # pragma: no cover
