"""Pay per request inside the agent: the 402 terms, admitting a voucher before serving, and the
collection rounds with their journal.

:class:`PaymentGate` decides whether a request is paid. A voucher is admitted when it names this
provider and token, advances its collection (request count up: a replay or an older voucher is
stale), adds at least the price to the collection's value aggregate, and then passes the SDK's
checks against the chain (:meth:`~computerails.collector.CollectorAPI.check`: signature, the
signer authorized and not revoked on chain, monotone, the escrow's cover). The cover counts the
payer's *other* collections too (``reserved``), so the value a payer's vouchers promise beyond
what was collected never exceeds its escrow balance less the safety margin. Admission runs on
the agent's event loop and is serialised per payer and token (its collections share one cover)
and per collection (a collection id is the payer's choice: two payers may name the same one),
each lock held until the voucher is kept, so two concurrent requests can neither both be served
on one price increment nor both take the last of the cover, nor two payers both open one
collection. The request is answered and countersigned inside that admission, and the voucher and
the signed receipt are committed in one transaction before the answer leaves; the commit runs on
the loop and is shared by every request admitted in the same pass of it (group commit), or on a
worker thread when another writer holds the file. The escrow's side of the check is reused for
``cover_ttl`` seconds while neither escrow nor signer is thawing
(:attr:`~computerails.collector.CoverView.steady`).

:class:`CollectionRunner` runs one collection round: first it settles the journal (every
``collectMany`` the agent signed is recorded before its broadcast; a pending one is looked up by
its hash, broadcast again byte for byte if the node forgot it, and its outcome recorded), then it
collects what the SDK's :class:`~computerails.collector.CollectionPolicy` says is due. While a
journalled transaction is still unresolved no new collection is sent, so a crash mid-collection
never leads to a second transaction for the same vouchers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.dialects.sqlite import insert

from computerails._sqlite import UINT64_DIGITS, pad
from computerails.agent.metrics import AgentMetrics
from computerails.agent.store import AgentStore, JournalEntry, Payment, receipts
from computerails.collector import CollectionPolicy, CoverView
from computerails.errors import (
    EscrowBelowMinimum,
    InvalidVoucher,
    InvalidVoucherSignature,
    StaleVoucher,
    VoucherNotCovered,
)
from computerails.models import digits
from computerails.rails import ComputeRails
from computerails.receipts import ReceiptSigner, ResponseReceipt
from computerails.service import journal
from computerails.types import TokenInfo, from_raw
from computerails.voucher_header import SCHEME, VOUCHER_HEADER
from computerails.vouchers import VOUCHER_FIELDS, Voucher, VoucherBook

log = logging.getLogger("computerails.agent")

#: Transaction labels the collection journal records (what CollectorAPI sends).
COLLECT_LABELS = frozenset({"collect", "collectMany"})


#: Escrow views kept at most (a cache of a few seconds: cleared when full).
_VIEW_MEMORY = 65_536

#: The receipts table's insert as SQL text for the voucher store's sqlite3 connection, with its
#: parameters in RECEIPT_COLUMNS order.
RECEIPT_COLUMNS = (
    "collection_id",
    "request_index",
    "payer",
    "request_hash",
    "response_hash",
    "signature",
    "created_at",
)
_KEEP_RECEIPT_COMPILED = insert(receipts).on_conflict_do_nothing().compile(dialect=sqlite_dialect())
if tuple(_KEEP_RECEIPT_COMPILED.positiontup or ()) != RECEIPT_COLUMNS:
    raise RuntimeError(f"the receipts table's insert takes {_KEEP_RECEIPT_COMPILED.positiontup}, not {RECEIPT_COLUMNS}")
_KEEP_RECEIPT_SQL = str(_KEEP_RECEIPT_COMPILED)


@dataclass(frozen=True)
class Served:
    """One paid answer and the provider's countersigned receipt."""

    result: digits.InferenceResult
    receipt: ResponseReceipt
    signature: bytes
    increment: int  # what the voucher added to its collection's value aggregate (raw units)

    def body(self) -> dict[str, Any]:
        return {
            "label": self.result.label,
            "logits": list(self.result.logits),
            # model_dump(mode="json") field for field: every field is a str or an int already
            "receipt": {name: getattr(self.receipt, name) for name in ResponseReceipt.model_fields},
            "receipt_signature": "0x" + self.signature.hex(),
        }


class PaymentGate:
    """The agent's payment terms and voucher admission.

    Args:
        rails: the provider's connection (signing with its key).
        store: the agent's database.
        private_key: the provider's key (signs receipts).
        token: the payment token.
        price: raw units per request.
        safety_margin_bps: share of the escrow balance not counted as cover.
        min_escrow: raw units the payer's escrow must hold.
        cover_ttl: seconds a steady escrow view is reused (0: read on every request); must
            stay below the escrow's thaw periods (:meth:`Agent.start` checks). The argument is
            in real time: a devnet whose clock is warped past a thaw period between two requests
            needs 0.
        on_cover_read: called with ``"chain"`` or ``"cache"`` for each view admitted against.
    """

    def __init__(
        self,
        rails: ComputeRails,
        store: AgentStore,
        private_key: bytes,
        *,
        token: TokenInfo,
        price: int,
        safety_margin_bps: int,
        min_escrow: int,
        cover_ttl: float = 0.0,
        on_cover_read: Callable[[str], object] = lambda _source: None,
        model: Callable[[list[int]], digits.InferenceResult] = digits.infer,
    ) -> None:
        self.rails = rails
        self.model = model
        self.store = store
        self.provider = rails.address
        self.domain = rails.collector.domain
        self.token = token
        self.price = price
        self.safety_margin_bps = safety_margin_bps
        self.min_escrow = min_escrow
        self.book = VoucherBook(
            self.domain,
            self.provider,
            tokens=[token.address],
            safety_margin_bps=safety_margin_bps,
            store=store.vouchers,
        )
        self.receipts = ReceiptSigner(self.domain, private_key)
        self._collected = store.collected()
        self._guard = threading.Lock()
        self._locks: dict[str, asyncio.Lock] = {}
        self.cover_ttl = cover_ttl
        self.on_cover_read = on_cover_read
        self._views: dict[tuple[str, str], tuple[float, CoverView]] = {}

    # ── terms ──

    def terms(self) -> dict[str, Any]:
        """The 402 body: what a payer needs to sign a voucher this agent accepts."""
        decimals = self.token.decimals
        return {
            "scheme": SCHEME,
            "header": VOUCHER_HEADER,
            "price": {"raw": str(self.price), "amount": str(from_raw(self.price, decimals))},
            "unit": "request",
            "token": {"address": self.token.address, "symbol": self.token.symbol, "decimals": decimals},
            "escrow": self.domain.escrow,
            "chain_id": self.domain.chain_id,
            "provider": self.provider,
            "min_escrow": {"raw": str(self.min_escrow), "amount": str(from_raw(self.min_escrow, decimals))},
            "safety_margin_bps": self.safety_margin_bps,
            "collection_id": {
                "policy": "payer-chosen",
                "rule": "any 32 bytes the payer picks; each voucher carries the collection's cumulative value "
                "and request count, and must add at least the price to the latest one accepted",
            },
            "eip712": {
                "primaryType": "Voucher",
                "types": {"Voucher": VOUCHER_FIELDS},
                "domain": {
                    "name": "ComputeRails MeteredEscrow",
                    "version": "1",
                    "chainId": self.domain.chain_id,
                    "verifyingContract": self.domain.escrow,
                },
            },
        }

    # ── admission ──

    def collected(self) -> dict[str, int]:
        with self._guard:
            return dict(self._collected)

    def refresh_collected(self) -> None:
        """Re-read what the escrow paid per collection (after a collection round)."""
        fresh = self.store.collected()
        with self._guard:
            self._collected = fresh

    def outstanding(self) -> int:
        """What the kept vouchers promise beyond what the escrow paid (raw units)."""
        collected = self.collected()
        return sum(
            max(v.value_aggregate - collected.get(cid, 0), 0) for cid, (v, _sig) in self.book.collections().items()
        )

    def _lock(self, key: str) -> asyncio.Lock:
        """The admission lock named `key`: ``payer/token`` (its collections share one cover) or a
        collection id. Only the event loop takes them."""
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def admit_and_serve(self, voucher: Voucher, signature: bytes, pixels: list[int]) -> Served:
        """Verify `voucher` for one request, answer it, countersign the answer, and keep the
        voucher and the receipt on disk in one transaction before returning (so the answer
        leaves only once both are durable).

        Runs on the event loop: the checks, the model and the receipt's signature are CPU work
        of a fraction of a millisecond, and the commit runs on the loop too
        (:meth:`~computerails.voucher_store.SqliteVoucherStore.save_async`: the requests admitted
        in one pass of the loop share one commit). Only an escrow read leaves the loop, to a
        worker thread. The payer's lock and the collection's are held from the checks until the
        voucher is kept in memory after its commit, even if the request is cancelled meanwhile.

        The escrow's side of the check (signer record, escrow balance, collected) is read once
        per ``cover_ttl`` seconds per signer and collection while neither the escrow nor the
        signer is thawing (:attr:`~computerails.collector.CoverView.steady`); a refusal is
        always checked against a fresh read.

        Raises:
            InvalidVoucher: for another provider or token, or it adds less than the price.
            StaleVoucher: replayed or older than the collection's latest.
            InvalidVoucherSignature: malformed, or not by a signer the escrow authorized (revoked).
            EscrowBelowMinimum: the payer's escrow is below the minimum.
            VoucherNotCovered: the payer's outstanding value would pass its cover.
            Exception: the write failed (nothing was kept: do not serve).
        """
        cid = voucher.collection_id
        if voucher.provider != self.provider:
            raise InvalidVoucher(
                f"voucher is for provider {voucher.provider}, not this provider {self.provider}", collection_id=cid
            )
        if voucher.token != self.token.address:
            raise InvalidVoucher(
                f"voucher pays in {voucher.token}; this provider is paid in {self.token.address}", collection_id=cid
            )
        signer = self.domain.recover(voucher, signature)
        locks = (self._lock(f"{voucher.payer}/{voucher.token}"), self._lock(cid))  # always in this order
        taken: list[asyncio.Lock] = []
        try:
            for lock in locks:
                await lock.acquire()
                taken.append(lock)
            served, row = await self._admit(voucher, signature, signer, pixels)

            def keep_receipt(conn: sqlite3.Connection) -> None:
                conn.execute(_KEEP_RECEIPT_SQL, row)  # in the voucher's transaction

            written = self.store.vouchers.save_async(
                voucher, signature, also=keep_receipt, then=functools.partial(self.book.keep, voucher, signature)
            )
        except BaseException:
            for lock in taken:
                lock.release()
            raise

        def release(_done: object) -> None:
            for lock in locks:
                lock.release()

        written.add_done_callback(release)
        await asyncio.shield(written)  # a cancelled request leaves the write, and the locks, to finish
        return served

    async def _admit(
        self, voucher: Voucher, signature: bytes, signer: str, pixels: list[int]
    ) -> tuple[Served, tuple[Any, ...]]:
        """The checks, then the answer and its receipt: what to send, and the receipt's row."""
        cid = voucher.collection_id
        kept = self.book.latest(cid)
        before = kept[0] if kept is not None else None
        if before is not None and voucher.request_count <= before.request_count:
            raise StaleVoucher(cid, "request_count", before.request_count, voucher.request_count)
        previous = before.value_aggregate if before is not None else 0
        if voucher.value_aggregate < previous:
            raise StaleVoucher(cid, "value_aggregate", previous, voucher.value_aggregate)
        increment = voucher.value_aggregate - previous
        if increment < self.price:
            raise InvalidVoucher(
                f"voucher adds {max(increment, 0)} to collection {cid} (value aggregate {voucher.value_aggregate} "
                f"over {previous}); a request costs {self.price}",
                collection_id=cid,
            )
        collected = self._collected  # replaced whole on refresh, never changed in place
        reserved = sum(
            max(v.value_aggregate - collected.get(other, 0), 0)
            for other, v in self.book.payer_collections(voucher.payer, voucher.token)
            if other != cid
        )
        view, cached = self._cached_view(voucher, signer)
        if view is None:
            view = await asyncio.to_thread(self._read_view, voucher, signer)
        check = functools.partial(
            self.rails.collector.check, self.book, voucher, signature, reserved=reserved, min_balance=self.min_escrow
        )
        try:
            check(chain=view)
        except (VoucherNotCovered, EscrowBelowMinimum, InvalidVoucherSignature):
            if not cached:
                raise
            # A refusal is never decided on a cached view: read the escrow again.
            check(chain=await asyncio.to_thread(self._read_view, voucher, signer))
        result = self.model(pixels)
        # Every field comes from the admitted voucher (checked when it was built), this
        # provider's own address and two fresh hashes: construct without validating again.
        receipt = ResponseReceipt.model_construct(
            payer=voucher.payer,
            provider=self.provider,
            token=voucher.token,
            collection_id=cid,
            request_index=voucher.request_count,
            request_hash="0x" + digits.request_hash(pixels).hex(),
            response_hash="0x" + result.response_hash.hex(),
            units=1,
        )
        receipt_signature = self.receipts.sign(receipt)
        row = (
            cid,
            pad(voucher.request_count, UINT64_DIGITS),
            voucher.payer,
            receipt.request_hash,
            receipt.response_hash,
            receipt_signature,
            int(time.time()),
        )
        return Served(result, receipt, receipt_signature, increment), row

    def _cached_view(self, voucher: Voucher, signer: str) -> tuple[CoverView | None, bool]:
        """The escrow's view for `voucher` from the cache, if one is still fresh."""
        if self.cover_ttl > 0:
            with self._guard:
                held = self._views.get((signer, voucher.collection_id))
            if held is not None and held[0] > time.monotonic():
                self.on_cover_read("cache")
                return held[1], True
        return None, False

    def _read_view(self, voucher: Voucher, signer: str) -> CoverView:
        """The escrow's view for `voucher`, read from the chain (one round trip), and cached
        while it is steady."""
        key = (signer, voucher.collection_id)
        now = time.monotonic()
        view = self.rails.collector.cover_view(voucher, signer)
        self.on_cover_read("chain")
        with self._guard:
            if view.steady and self.cover_ttl > 0:
                if len(self._views) >= _VIEW_MEMORY:
                    self._views.clear()
                self._views[key] = (now + self.cover_ttl, view)
            else:
                self._views.pop(key, None)
        return view

    def runway(self, voucher: Voucher, refusal: VoucherNotCovered) -> dict[str, Any]:
        """What the payer has left on `voucher`'s collection when it was not covered (raw units):
        the cover, what was outstanding before this voucher, and how many requests still fit."""
        kept = self.book.latest(voucher.collection_id)
        increment = voucher.value_aggregate - (kept[0].value_aggregate if kept is not None else 0)
        before = max(refusal.outstanding - increment, 0)
        return {
            "cover": str(refusal.cover),
            "outstanding": str(before),
            "price": str(self.price),
            "requests_left": max(refusal.cover - before, 0) // self.price,
            "collection_id": voucher.collection_id,
        }


class CollectionRunner:
    """Collection rounds with a journal: see the module docstring.

    Args:
        rails: the provider's connection; its transaction manager journals every collection.
        gate: the payment gate (its book is what is collected).
        store: the agent's database.
        metrics: where outcomes and gas are counted.
        policy: when a collection is due.
        receipt_timeout: seconds a round waits for a journalled transaction's receipt.
    """

    def __init__(
        self,
        rails: ComputeRails,
        gate: PaymentGate,
        store: AgentStore,
        metrics: AgentMetrics,
        policy: CollectionPolicy,
        *,
        receipt_timeout: float,
    ) -> None:
        self.rails = rails
        self.gate = gate
        self.store = store
        self.metrics = metrics
        self.policy = policy
        self.receipt_timeout = receipt_timeout
        self.escrow = gate.domain.escrow
        self._round = threading.Lock()
        rails.tx.before_broadcast = self._journal

    def _journal(self, tx_hash: str, nonce: int, raw: bytes, label: str) -> None:
        if label in COLLECT_LABELS:
            self.store.journal_intent(tx_hash, nonce, raw)
            log.info("collection %s (nonce %d) journalled before broadcast", tx_hash, nonce)

    def run_once(self, *, on_demand: bool = False) -> list[Payment]:
        """Settle the journal, then collect what is due. Returns what this round's own
        transactions paid (nothing when the journal still waits on a transaction)."""
        with self._round:
            if not self.reconcile():
                return []
            before = {e.tx_hash for e in self.store.journal()}
            self.rails.collector.collect_due(self.gate.book, self.policy, on_demand=on_demand)
            paid: list[Payment] = []
            for entry in self.store.pending():
                if entry.tx_hash not in before:
                    paid += self._settle(entry) or []
            self.gate.refresh_collected()
            return paid

    def reconcile(self) -> bool:
        """Look up every pending collection and record its outcome.

        Returns:
            True when none is left pending (a new collection may be sent).
        """
        resolved = True
        for entry in self.store.pending():
            if self._settle(entry) is None:
                resolved = False
        self.sync_collected()
        return resolved

    def sync_collected(self) -> None:
        """Read what the escrow paid on every kept collection (one batched round trip) and keep
        it: the gate's cover and the outstanding figure then follow the chain, whatever was
        mined (a fee-bumped replacement, a collection sent by an earlier installation)."""
        kept = list(self.gate.book.collections().values())
        if kept:
            _now, states = self.rails.collector.states(kept)
            self.store.record_collected({s.voucher.collection_id: s.collected for s in states})
        self.gate.refresh_collected()

    def _settle(self, entry: JournalEntry) -> list[Payment] | None:
        """Record `entry`'s outcome; None while it is still unresolved."""
        receipt = journal.resolve(
            self.rails.w3, entry.tx_hash, entry.raw, timeout=self.receipt_timeout, what="collection"
        )
        if receipt is None:
            return None
        if receipt == journal.DROPPED:
            self._record(entry, "dropped", 0, [])
            return []
        status = "mined" if receipt["status"] == 1 else "reverted"
        payments = [
            Payment("0x" + bytes(e["collectionId"]).hex(), int(e["gross"]), int(e["collected"]))
            for e in self.rails.abi["MeteredEscrow"].events["VoucherCollected"].logs(receipt, self.escrow)
        ]
        self._record(entry, status, journal.gas_cost(receipt), payments)
        return payments

    def _record(self, entry: JournalEntry, status: str, gas_cost: int, payments: list[Payment]) -> None:
        if not self.store.journal_outcome(entry.tx_hash, status, gas_cost, payments):
            return
        self.metrics.collections.labels(status).inc()
        self.metrics.gas_spent.inc(gas_cost)
        self.metrics.collected_value.inc(sum(p.gross for p in payments))
        log.info(
            "collection %s %s: paid %s on %d collection(s), gas %s wei",
            entry.tx_hash,
            status,
            sum(p.gross for p in payments),
            len(payments),
            gas_cost,
        )


def token_per_native(native_price: Decimal | None, token: TokenInfo) -> dict[str, int]:
    """The policy's price table: raw token units one native coin is worth (empty: no price)."""
    if native_price is None:
        return {}
    return {token.address: int(native_price * 10**token.decimals)}
