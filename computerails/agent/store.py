"""The provider agent's state on disk: one SQLite file, WAL, ``synchronous=FULL``, a transaction
per write (a write that returned is on disk).

- ``vouchers``: the latest voucher per collection (:class:`~computerails.voucher_store.SqliteVoucherStore`,
  the SDK's book store, sharing this file and its engine);
- ``receipts``: every response receipt the agent signed (collection id, request index, request
  and response hashes, signature): what the payer can hold the agent to;
- ``collected``: what the escrow has paid per collection: from the agent's own ``VoucherCollected``
  events, and read from chain after every collection round (behind the chain at most while a
  collection is in flight, which only makes the cover check stricter);
- ``collections``: the collection journal. A ``collectMany`` transaction is recorded with its
  hash, nonce and signed bytes *before* it is broadcast (``pending``), and its outcome once its
  receipt is seen (``mined``, ``reverted``, ``dropped``). After a crash the agent looks every
  pending hash up before it collects again, so it never pays gas for a duplicate collection and
  always records the outcome;
- ``meta``: small named values (the last moment the agent marked itself alive, the stake baseline
  its top-up budget counts from);
- ``outages``: the spans the agent was not running (a gap between two alive marks longer than the
  housekeeping's heartbeat tolerance), from which it estimates an epoch's downtime.

Amounts and counts wider than SQLite's signed 64-bit integers are zero-padded decimal text, as in
the voucher store (:mod:`computerails._sqlite`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Column, Connection, Integer, LargeBinary, MetaData, String, Table, Text, select, update
from sqlalchemy.dialects.sqlite import insert

from computerails._sqlite import UINT64_DIGITS, UINT128_DIGITS, pad
from computerails.voucher_store import SqliteVoucherStore

metadata = MetaData()

receipts = Table(
    "receipts",
    metadata,
    Column("collection_id", String(66), primary_key=True),
    Column("request_index", String(UINT64_DIGITS), primary_key=True),
    Column("payer", String(42), nullable=False),
    Column("request_hash", String(66), nullable=False),
    Column("response_hash", String(66), nullable=False),
    Column("signature", LargeBinary(65), nullable=False),
    Column("created_at", Integer, nullable=False),
)

collected = Table(
    "collected",
    metadata,
    Column("collection_id", String(66), primary_key=True),
    Column("collected", String(UINT128_DIGITS), nullable=False),
)

collections = Table(
    "collections",
    metadata,
    Column("tx_hash", String(66), primary_key=True),
    Column("nonce", Integer, nullable=False),
    Column("raw", LargeBinary, nullable=False),  # the signed transaction, to broadcast again after a crash
    Column("status", String(16), nullable=False, index=True),  # pending | mined | reverted | dropped
    Column("created_at", Integer, nullable=False),
    Column("gas_cost", String(UINT128_DIGITS)),  # wei: gasUsed × effectiveGasPrice
    Column("outcome", Text),  # JSON: [{"collection_id", "gross", "collected"}] paid by the transaction
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

outages = Table(
    "outages",
    metadata,
    Column("start", Integer, primary_key=True),  # unix seconds: the last alive mark before the gap
    Column("end", Integer, nullable=False),  # the first alive mark after it
)

PENDING = "pending"


@dataclass(frozen=True)
class JournalEntry:
    """One collection transaction the agent signed."""

    tx_hash: str
    nonce: int
    raw: bytes
    status: str


@dataclass(frozen=True)
class Payment:
    """What one collection transaction paid on one collection (raw token units)."""

    collection_id: str
    gross: int
    collected: int  # the collection's new total


class AgentStore:
    """The agent's SQLite file.

    Args:
        path: the database file (its folder is created if missing).
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.vouchers = SqliteVoucherStore(path)
        self.engine = self.vouchers.engine
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.vouchers.close()

    # ── receipts ──

    def receipt_count(self, collection_id: str | None = None) -> int:
        query = select(receipts.c.request_index)
        if collection_id is not None:
            query = query.where(receipts.c.collection_id == collection_id)
        with self.engine.connect() as conn:
            return len(conn.execute(query).all())

    # ── what the escrow paid ──

    def collected(self) -> dict[str, int]:
        """Collection id -> what the escrow has paid on it (from the agent's own collections)."""
        with self.engine.connect() as conn:
            return {row.collection_id: int(row.collected) for row in conn.execute(select(collected))}

    def record_collected(self, figures: dict[str, int]) -> None:
        """Keep what the escrow paid per collection as read from chain (never lowering a figure)."""
        with self.engine.begin() as conn:
            for collection_id, value in figures.items():
                _raise_collected(conn, collection_id, value)

    # ── the collection journal ──

    def journal_intent(self, tx_hash: str, nonce: int, raw: bytes) -> None:
        """Record a collection transaction as pending, before it is broadcast."""
        row = {
            "tx_hash": tx_hash,
            "nonce": nonce,
            "raw": raw,
            "status": PENDING,
            "created_at": int(time.time()),
        }
        with self.engine.begin() as conn:
            conn.execute(insert(collections).values(row).on_conflict_do_nothing())

    def pending(self) -> list[JournalEntry]:
        """Collection transactions whose outcome is not recorded yet, oldest nonce first."""
        query = select(collections).where(collections.c.status == PENDING).order_by(collections.c.nonce)
        with self.engine.connect() as conn:
            return [JournalEntry(r.tx_hash, r.nonce, bytes(r.raw), r.status) for r in conn.execute(query)]

    def journal(self) -> list[JournalEntry]:
        """Every collection transaction recorded, oldest nonce first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(collections).order_by(collections.c.nonce)).all()
        return [JournalEntry(r.tx_hash, r.nonce, bytes(r.raw), r.status) for r in rows]

    def journal_outcome(self, tx_hash: str, status: str, gas_cost: int, payments: list[Payment]) -> bool:
        """Record a pending transaction's outcome and what it paid, in one transaction.

        Returns:
            False when the entry was not pending any more (another round recorded it).
        """
        outcome = [
            {"collection_id": p.collection_id, "gross": str(p.gross), "collected": str(p.collected)} for p in payments
        ]
        with self.engine.begin() as conn:
            done = conn.execute(
                update(collections)
                .where(collections.c.tx_hash == tx_hash, collections.c.status == PENDING)
                .values(status=status, gas_cost=pad(gas_cost, UINT128_DIGITS), outcome=json.dumps(outcome))
            )
            if done.rowcount == 0:
                return False
            for p in payments:
                _raise_collected(conn, p.collection_id, p.collected)
        return True

    # ── liveness and small values (housekeeping) ──

    def get_meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar_one_or_none()

    def set_meta_once(self, key: str, value: str) -> str:
        """Keep `value` under `key` unless one is there already; return what is kept."""
        with self.engine.begin() as conn:
            conn.execute(insert(meta).values(key=key, value=value).on_conflict_do_nothing())
            return str(conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar_one())

    def mark_alive(self, now: int, tolerance: int) -> tuple[int, int] | None:
        """Record that the agent runs at `now`. When the previous mark is more than `tolerance`
        seconds old, the gap is recorded as an outage (in the same transaction) and returned."""
        with self.engine.begin() as conn:
            last = conn.execute(select(meta.c.value).where(meta.c.key == "last_alive")).scalar_one_or_none()
            gap = None
            if last is not None and now - int(last) > tolerance:
                gap = (int(last), now)
                conn.execute(insert(outages).values(start=gap[0], end=gap[1]).on_conflict_do_nothing())
            statement = insert(meta).values(key="last_alive", value=str(now))
            conn.execute(statement.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": str(now)}))
        return gap

    def downtime(self, start: int, end: int) -> int:
        """Seconds of recorded outages within ``[start, end)``."""
        if end <= start:
            return 0
        query = select(outages).where(outages.c.end > start, outages.c.start < end)
        with self.engine.connect() as conn:
            return sum(min(r.end, end) - max(r.start, start) for r in conn.execute(query))


def _raise_collected(conn: Connection, collection_id: str, value: int) -> None:
    statement = insert(collected).values(collection_id=collection_id, collected=pad(value, UINT128_DIGITS))
    statement = statement.on_conflict_do_update(
        index_elements=[collected.c.collection_id],
        set_={"collected": statement.excluded.collected},
        where=statement.excluded.collected > collected.c.collected,
    )
    conn.execute(statement)
