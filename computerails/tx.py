"""Sending transactions safely: simulate first, one nonce sequence per key shared by threads,
EIP-1559 fees, receipts awaited with a timeout, and retries that never send twice.

Never twice: a retry re-broadcasts the *same signed bytes*, so it can only ever be the same
transaction (same hash). A node answering "already known" for it, or "nonce too low" while
the hash is known to the chain, counts as success.

Dropped transactions: the manager keeps the signed bytes of every transaction it sent until
it sees it mined. When a receipt does not come in time, it asks the node about all of them
at once. One the node no longer knows (evicted from its pool, lost in a restart without
state) is broadcast again, byte for byte, in nonce order so that a gap below later
transactions fills. If the node refuses those bytes as underpriced (another transaction
holds the nonce in its pool), a replacement is signed with the *same nonce* and both fees
bumped by at least 12.5 % (the usual replacement rule). All versions of a transaction share
its nonce, so at most one of them can be mined, and whichever is mined is the result; a
transaction is never re-signed with another nonce. The cached next nonce is then re-read
from the node's pending nonce (skipping the nonces still in flight), so a nonce that nothing
of ours holds is used by the next send rather than left as a gap.

A wait that runs out while the node still holds the transaction raises
:class:`~computerails.errors.TransactionTimeout` with its hash; one whose nonce another
transaction used, or that the node refuses outright, raises
:class:`~computerails.errors.TransactionDropped`.
"""

from __future__ import annotations

import ast
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from computerails._rpc import TRANSIENT, Request, Rpc, format_receipt
from computerails.errors import (
    ComputeRailsError,
    RPCUnavailable,
    TransactionDropped,
    TransactionError,
    TransactionReverted,
    TransactionTimeout,
    UnknownRevert,
    decode_revert,
)

#: Errors that mean "the node did not answer": safe to retry with the same signed bytes.
_TRANSIENT = TRANSIENT

_ALREADY_KNOWN = ("already known", "known transaction", "already imported", "transaction already exists")
_NONCE_TOO_LOW = ("nonce too low", "nonce is too low", "oldnonce")
#: A refusal for the fees: "replacement transaction underpriced" (geth, anvil), "replacement fee
#: too low", or "transaction underpriced" (below the pool's minimum).
_UNDERPRICED = ("underpriced", "fee too low")

#: What a node made of a broadcast: in its pool (or mined), refused for the fees, or its nonce is used.
Outcome = Literal["sent", "underpriced", "nonce used"]


def bumped(fee: int) -> int:
    """A fee raised by the replacement rule: at least 12.5 % (rounded up) and at least 1 wei."""
    return fee + max(1, -(-fee // 8))


class Sendable(Protocol):
    """What :meth:`TxManager.send` takes: a :class:`Call`, or a web3 ``ContractFunction``."""

    @property
    def address(self) -> str: ...

    def _encode_transaction_data(self) -> str: ...


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

    manager: TxManager
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
class _Signed:
    """One signed version of a transaction."""

    raw: bytes
    tx_hash: str
    max_fee: int
    priority: int


@dataclass(eq=False)
class _InFlight:
    """A transaction sent and not yet seen mined, with every signed version of it: the
    original, then fee-bumped replacements, all with the same nonce."""

    nonce: int
    tx: dict[str, Any]  # the fields signed, with the original's fees
    versions: list[_Signed]
    #: time.monotonic() of its latest (re)broadcast, or of the rebroadcast of a transaction
    #: below it that it was queued behind: a wait for its receipt runs from then.
    sent_at: float
    mined: bool = False  # its nonce is used on chain by one of its versions
    label: str = ""  # what it is (the caller's label), for before_broadcast
    failure: TransactionDropped | None = None  # it can never be mined, and why

    @property
    def hashes(self) -> tuple[str, ...]:
        return tuple(v.tx_hash for v in self.versions)

    @property
    def latest(self) -> _Signed:
        return self.versions[-1]


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
    # The in-process backend (eth-tester) spells the raw revert data as a Python bytes literal.
    for arg in getattr(exc, "args", ()):
        if isinstance(arg, (bytes, bytearray)) and len(arg) >= 4:
            return decode_revert(bytes(arg))
        if isinstance(arg, str) and arg.startswith("execution reverted: b"):
            try:
                raw = ast.literal_eval(arg.removeprefix("execution reverted: "))
            except (ValueError, SyntaxError):
                break
            if isinstance(raw, bytes) and len(raw) >= 4:
                return decode_revert(raw)
    return UnknownRevert({"reason": str(exc)})


class TxManager:
    """Sends transactions from one key. Thread-safe: share one instance between threads.

    Args:
        w3: the connection.
        account: the signing key.
        chain_id: the chain to sign for (checked against the node by the caller).
        timeout: seconds to wait for a receipt after the latest broadcast of a transaction.
        retries: re-broadcasts of the same signed transaction on transient RPC errors; also
            how many times one wait re-broadcasts a transaction the node dropped, and how
            many fee bumps a replacement may take.
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
        self._inflight: dict[int, _InFlight] = {}  # nonce -> sent, not yet seen mined
        #: hash of any version -> its transaction, while in flight; kept for good once a
        #: transaction was replaced or dropped, so a wait on any of its hashes finds the outcome.
        self._by_hash: dict[str, _InFlight] = {}
        self.sent: list[SentTransaction] = []  # every transaction this manager confirmed
        #: Called with (tx hash, nonce, signed bytes, label) after signing and before the first
        #: broadcast of every new transaction and of every fee-bumped replacement (same nonce):
        #: a daemon journals its intent there, so a restart
        #: after a crash finds the transaction by its hash instead of sending another. If it
        #: raises, nothing is broadcast and the exception propagates.
        self.before_broadcast: Callable[[str, int, bytes, str], None] | None = None

    # ───────────────────────── public ─────────────────────────

    def send(
        self,
        fn: Sendable,
        *,
        label: str = "",
        value: int = 0,
        gas: int | None = None,
        on_signed: Callable[[str, int], None] | None = None,
    ) -> SentTransaction:
        """Simulate, sign, broadcast and await a contract call.

        When no receipt comes within :attr:`timeout`, the node is asked whether it still holds
        the transaction: if not, it is broadcast again (or replaced with the same nonce and
        higher fees, see the module docstring) and awaited again, up to :attr:`retries` times.

        Args:
            fn: a web3 ``ContractFunction`` or a :class:`Call`.
            gas: the gas limit from a simulation the caller already ran on exactly this call
                (see :meth:`simulation`); None simulates here.
            on_signed: called with the transaction's hash and nonce once it is signed and before
                it is first broadcast: a caller that must never repeat an action journals the
                hash durably here (if it raises, nothing is broadcast and the nonce is freed).

        Returns:
            The mined transaction; its ``tx_hash`` is the replacement's if a fee-bumped
            replacement was the version mined.

        Raises:
            ContractRevert: (a subclass named after the custom error) when the simulation reverts:
                nothing was sent.
            TransactionTimeout: no receipt in time while the node holds the transaction;
                ``tx_hash`` is on the exception.
            TransactionDropped: the node dropped it and it cannot be mined any more.
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
            tx: dict[str, Any] = {
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
            if not to:  # a contract creation
                del tx["to"]
            signed = self.account.sign_transaction(tx)
            tx_hash = "0x" + bytes(signed.hash).hex()
            try:
                if self.before_broadcast is not None:
                    self.before_broadcast(tx_hash, nonce, bytes(signed.raw_transaction), label)
                if on_signed is not None:
                    on_signed(tx_hash, nonce)
                self._broadcast(signed.raw_transaction, tx_hash)
            except BaseException:
                self._next_nonce = None  # unknown state: re-read the nonce from the node next time
                raise
            record = _InFlight(
                nonce,
                tx,
                [_Signed(bytes(signed.raw_transaction), tx_hash, max_fee, priority)],
                time.monotonic(),
                label=label,
            )
            self._inflight[nonce] = record
            self._by_hash[tx_hash] = record
            self._next_nonce = self._free_nonce(nonce + 1)
        tx_hash, receipt = self._await(record, self.timeout)
        if receipt["status"] != 1:
            raise TransactionReverted(tx_hash, self._replay_revert(tx, receipt))
        result = SentTransaction(tx_hash, receipt, label or getattr(fn, "fn_name", ""))
        self.sent.append(result)
        return result

    def deploy(self, creation_code: str, *, label: str = "deploy") -> SentTransaction:
        """Deploy a contract: ``creation_code`` is its bytecode with the ABI-encoded constructor
        arguments appended. Simulated, sent and awaited as :meth:`send` does; the receipt's
        ``contractAddress`` is the new contract."""
        return self.send(Call("", creation_code, label), label=label)

    def simulate(self, to: str, data: str, value: int = 0) -> int:
        """Run the call on the node; return a gas limit or raise the decoded revert."""
        sim = self.simulation(to, data, value)
        return sim.gas_limit(self._with_retries(lambda: self.rpc.run([sim.request]))[0])

    def simulation(self, to: str, data: str, value: int = 0) -> Simulation:
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
        """Poll for a receipt until `timeout` (default :attr:`timeout`); transient RPC errors
        are ridden out.

        For a transaction this manager sent, a wait that runs out checks the node as
        :meth:`send` does (broadcast again, replace, resync), and the receipt returned is
        that of whichever version was mined: after a fee bump its hash differs from
        `tx_hash`. Any other hash is only polled.

        Raises:
            TransactionTimeout: no receipt in time (and, for this manager's own, the node
                still holds the transaction).
            TransactionDropped: this manager's transaction cannot be mined any more.
        """
        limit = self.timeout if timeout is None else timeout
        record = self._by_hash.get(tx_hash.lower())
        if record is not None:
            return self._await(record, limit)[1]
        deadline = time.monotonic() + limit
        found = self._poll(lambda: (tx_hash,), lambda: deadline)
        if found is None:
            raise TransactionTimeout(tx_hash, limit)
        return found[1]

    @property
    def in_flight(self) -> dict[int, tuple[str, ...]]:
        """Transactions sent and not yet seen mined, by nonce: the hashes of each one's
        versions (the original first, then fee-bumped replacements with the same nonce)."""
        with self._lock:
            return {nonce: record.hashes for nonce, record in sorted(self._inflight.items())}

    def resync(self) -> None:
        """Forget the cached nonce (e.g. after the node restarted): the next send reads the
        node's pending nonce, skipping nonces of transactions still in flight."""
        with self._lock:
            self._next_nonce = None

    # ───────────────────────── internals ─────────────────────────

    def _reserve_nonce(self) -> int:
        if self._next_nonce is None:
            pending = self._with_retries(
                lambda: self.rpc.request("eth_getTransactionCount", [self.address, "pending"], lambda n: int(n, 16))
            )
            self._next_nonce = self._free_nonce(pending)
        return self._next_nonce

    def _free_nonce(self, nonce: int) -> int:
        """The first nonce from `nonce` on that no transaction in flight holds."""
        while nonce in self._inflight:
            nonce += 1
        return nonce

    def _broadcast(self, raw: bytes, tx_hash: str) -> None:
        """Broadcast a new transaction; anything but the node taking it is an error."""
        outcome, message = self._submit(raw, tx_hash)
        if outcome != "sent":
            raise TransactionError(f"node refused transaction {tx_hash}: {message}")

    def _submit(self, raw: bytes, tx_hash: str) -> tuple[Outcome, str]:
        """Send signed bytes, riding out transient errors; what the node made of them and its
        message. A refusal that no fee or retry can change raises TransactionError."""
        for attempt in range(self.retries + 1):
            try:
                self.w3.eth.send_raw_transaction(raw)
                return "sent", ""
            except Web3RPCError as exc:
                message = str(exc)
                lowered = message.lower()
                if any(m in lowered for m in _ALREADY_KNOWN):
                    return "sent", message  # this very transaction is already in the pool
                if any(m in lowered for m in _NONCE_TOO_LOW):
                    # Mined already if the hash is known: an earlier attempt of ours got through.
                    return ("sent" if self._known(tx_hash) else "nonce used"), message
                if any(m in lowered for m in _UNDERPRICED):
                    return "underpriced", message
                raise TransactionError(f"node refused transaction {tx_hash}: {exc}") from None
            except _TRANSIENT as exc:
                if attempt == self.retries:
                    raise RPCUnavailable(
                        f"node unreachable while sending {tx_hash} ({exc}); it may or may not have been "
                        f"received: check `wait_for_receipt('{tx_hash}')` before sending again"
                    ) from None
                time.sleep(min(0.1 * 2**attempt, 2.0))
        raise AssertionError("unreachable")  # pragma: no cover

    # ── waiting, and putting back what the node dropped ──

    def _await(self, record: _InFlight, timeout: float) -> tuple[str, Any]:
        """The hash and receipt of whichever version of `record` is mined.

        Waits until `timeout` after the later of now and the latest broadcast; then lets
        :meth:`_reconcile` compare with the node, and waits again if that (or another
        thread) broadcast this transaction, or one it is queued behind, again: at most
        :attr:`retries` times.
        """
        started = time.monotonic()
        rounds = 0
        while True:
            if record.failure is not None:
                raise record.failure
            found = self._poll(lambda: record.hashes, lambda: max(started, record.sent_at) + timeout)
            if found is None:
                seen = record.sent_at
                with self._lock:
                    try:
                        self._reconcile()
                    except (RPCUnavailable, Web3RPCError):
                        # Nothing could be checked: the caller must keep the hash to look for it later.
                        raise TransactionTimeout(record.latest.tx_hash, timeout) from None
                if record.failure is not None:
                    raise record.failure
                found = self._receipt(record.hashes) if record.mined else None
                if found is None and (record.sent_at == seen or rounds == self.retries):
                    # The node holds it and has not mined it (or keeps losing it): a plain timeout.
                    raise TransactionTimeout(record.latest.tx_hash, timeout)
            if found is not None:
                self._settle(record)
                return found
            rounds += 1

    def _poll(self, hashes: Callable[[], Sequence[str]], deadline: Callable[[], float]) -> tuple[str, Any] | None:
        """Poll until a receipt of one of `hashes` exists or `deadline` passes (both read anew
        each round). The first polls come quickly (1, 2, 4 ... ms, up to ``poll_interval``): an
        automining devnet mines within a millisecond or two of the broadcast, and a fixed 10 ms
        sleep after a poll that came just too early would dominate the whole send."""
        delay = min(0.001, self.poll_interval)
        while True:
            found = self._receipt(hashes())
            if found is not None:
                return found
            if time.monotonic() >= deadline():
                return None
            time.sleep(delay)
            delay = min(2 * delay, self.poll_interval)

    def _receipt(self, hashes: Sequence[str]) -> tuple[str, Any] | None:
        """The first of `hashes` that has a receipt, with it; None for none (or no answer)."""
        try:
            if len(hashes) == 1:
                raws = [self.rpc.request("eth_getTransactionReceipt", [hashes[0]])]
            else:
                raws = self.rpc.run([Request("eth_getTransactionReceipt", [h]) for h in hashes])
        except TransactionNotFound:
            return None
        except _TRANSIENT:  # no answer this time: the next poll asks again
            return None
        for tx_hash, raw in zip(hashes, raws):
            if raw is not None:
                receipt = format_receipt(raw)
                if receipt is None:  # this web3 has no formatter to borrow: ask it for the receipt
                    receipt = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
                return tx_hash, receipt
        return None

    def _settle(self, record: _InFlight) -> None:
        """`record` was seen mined: it no longer holds a nonce in flight."""
        with self._lock:
            if self._inflight.get(record.nonce) is record:
                del self._inflight[record.nonce]
            if len(record.versions) == 1:
                self._by_hash.pop(record.latest.tx_hash, None)

    def _reconcile(self) -> None:
        """Compare every transaction in flight with the node and repair what it lost (the
        caller holds the lock).

        One batch reads the account's mined and pending nonces and asks the node for every
        version's hash. A transaction whose nonce is used on chain is done: mined if the node
        knows one of its versions, dropped for good otherwise. One the node knows nothing
        of is broadcast again (:meth:`_rebroadcast`), lowest nonce first. Last, the cached
        next nonce is re-read from the pending nonce, skipping nonces still in flight.
        """
        records = sorted(self._inflight.values(), key=lambda r: r.nonce)
        hashes = [h for record in records for h in record.hashes]
        count = [
            Request("eth_getTransactionCount", [self.address, block], lambda n: int(n, 16))
            for block in ("latest", "pending")
        ]
        lookups = [Request("eth_getTransactionByHash", [h]) for h in hashes]
        mined_nonce, pending_nonce, *found = self._with_retries(lambda: self.rpc.run(count + lookups))
        known = {h for h, tx in zip(hashes, found) if tx is not None}
        for record in records:
            held = any(h in known for h in record.hashes)
            if record.nonce < mined_nonce:
                self._forget(record, mined=held)
            elif not held:
                self._rebroadcast(record)
                if record.failure is None:
                    for later in records:  # queued behind it until now: their waits start again
                        if later.nonce > record.nonce:
                            later.sent_at = max(later.sent_at, record.sent_at)
        self._next_nonce = self._free_nonce(pending_nonce)

    def _rebroadcast(self, record: _InFlight) -> None:
        """Give the node a transaction it forgot: its latest signed bytes as they are, then,
        while the node refuses them as underpriced, a replacement with the same nonce and fees
        bumped by the replacement rule (at most :attr:`retries` bumps)."""
        version = record.latest
        outcome, message = self._submit_or_drop(record, version)
        for _ in range(self.retries):
            if outcome != "underpriced":
                break
            version = self._replacement(record)
            outcome, message = self._submit_or_drop(record, version)
        if record.failure is not None:
            return
        if outcome == "underpriced":
            self._forget(
                record,
                mined=False,
                reason=(
                    f"was dropped by the node, and after {self.retries} fee bumps it still does not outbid the other "
                    f"transaction from {self.address} that holds nonce {record.nonce} in the node's pool ({message}); "
                    "it is not pending, and only one of the two can ever be mined"
                ),
            )
        elif outcome == "nonce used":  # used since the nonces were read: ours, or another's
            self._forget(record, mined=any(self._known(h) for h in record.hashes))
        else:
            record.sent_at = time.monotonic()

    def _submit_or_drop(self, record: _InFlight, version: _Signed) -> tuple[Outcome | None, str]:
        """:meth:`_submit`, with a refusal no fee can change recorded as the record's failure."""
        try:
            return self._submit(version.raw, version.tx_hash)
        except RPCUnavailable:
            raise
        except TransactionError as exc:
            self._forget(
                record,
                mined=False,
                reason=(
                    f"was dropped by the node and refused when sent again ({exc}); nothing of it is pending, "
                    f"and nonce {record.nonce} goes to the next transaction from {self.address}, which voids it"
                ),
            )
            return None, str(exc)

    def _replacement(self, record: _InFlight) -> _Signed:
        """Sign `record`'s transaction again with the same nonce and both fees bumped by the
        replacement rule (or to the current quote, if that is higher)."""
        previous = record.latest
        quoted_fee, quoted_priority = self._fee_quote()
        priority = max(bumped(previous.priority), quoted_priority)
        max_fee = max(bumped(previous.max_fee), quoted_fee, priority)
        signed = self.account.sign_transaction({**record.tx, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": priority})
        version = _Signed(bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex(), max_fee, priority)
        if self.before_broadcast is not None:  # a replacement is journalled like the original
            self.before_broadcast(version.tx_hash, record.nonce, version.raw, record.label)
        record.versions.append(version)
        self._by_hash[version.tx_hash] = record
        return version

    def _forget(self, record: _InFlight, *, mined: bool, reason: str | None = None) -> None:
        """Take `record` out of flight: mined (its receipt is there for its waiter), or failed
        with `reason` (default: another transaction used its nonce)."""
        if self._inflight.get(record.nonce) is record:
            del self._inflight[record.nonce]
        if mined:
            record.mined = True
            if len(record.versions) == 1:
                self._by_hash.pop(record.latest.tx_hash, None)
            return
        record.failure = TransactionDropped(
            record.latest.tx_hash,
            record.nonce,
            reason
            or (
                f"can never be mined: nonce {record.nonce} of {self.address} was used by another transaction; "
                "nothing of it was paid"
            ),
        )

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
        call = {"from": self.address, "data": tx["data"], "value": hex(tx["value"])}
        if tx.get("to"):
            call["to"] = tx["to"]
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
