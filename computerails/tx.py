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
        self._lock = threading.Lock()
        self._next_nonce: int | None = None
        self._fees: tuple[float, int, int] | None = None
        self.sent: list[SentTransaction] = []  # every transaction this manager confirmed

    # ───────────────────────── public ─────────────────────────

    def send(self, fn: Any, *, label: str = "", value: int = 0) -> SentTransaction:
        """Simulate, sign, broadcast and await a contract call.

        Raises:
            ContractRevert: (a subclass named after the custom error) when the simulation reverts:
                nothing was sent.
            TransactionTimeout: no receipt in time; ``tx_hash`` is on the exception.
            TransactionReverted: mined but reverted.
            RPCUnavailable: the node stayed unreachable.
        """
        to = fn.address
        data = fn._encode_transaction_data()
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
        """Run the call against the pending state; return a gas limit or raise the decoded revert."""
        call = {"from": self.address, "to": to, "data": data, "value": value}
        try:
            estimate = self._with_retries(lambda: self.w3.eth.estimate_gas(call))  # type: ignore[arg-type]
        except (ContractLogicError, Web3RPCError) as exc:
            raise revert_from_exception(exc) from None
        return int(estimate * self.gas_margin) + 10_000

    def wait_for_receipt(self, tx_hash: str, timeout: float | None = None) -> Any:
        """Poll for a receipt until `timeout`; transient RPC errors are ridden out."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                return self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                pass
            except _TRANSIENT:
                pass
            if time.monotonic() >= deadline:
                raise TransactionTimeout(tx_hash, self.timeout if timeout is None else timeout)
            time.sleep(self.poll_interval)

    def resync(self) -> None:
        """Forget the cached nonce (e.g. after the node restarted)."""
        with self._lock:
            self._next_nonce = None

    # ───────────────────────── internals ─────────────────────────

    def _reserve_nonce(self) -> int:
        if self._next_nonce is None:
            self._next_nonce = self._with_retries(lambda: self.w3.eth.get_transaction_count(self.address, "pending"))
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
            block = self._with_retries(lambda: self.w3.eth.get_block("pending"))
            base = int(block.get("baseFeePerGas", 0) or 0)
            try:
                priority = int(self._with_retries(lambda: self.w3.eth.max_priority_fee))
            except (Web3RPCError, ValueError, NotImplementedError):
                priority = 10**9
            # Two base fees of headroom: survives six full blocks of base-fee growth.
            self._fees = (now, 2 * base + priority, priority)
        return self._fees[1], self._fees[2]

    def _replay_revert(self, tx: dict[str, Any], receipt: Any) -> ComputeRailsError | None:
        call = {"from": self.address, "to": tx["to"], "data": tx["data"], "value": tx["value"]}
        try:
            self.w3.eth.call(call, block_identifier=receipt["blockNumber"])  # type: ignore[arg-type]
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
