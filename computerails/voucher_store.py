"""A provider's voucher book on disk (issue 12): the latest voucher per collection in SQLite,
written in one transaction per accepted voucher, so a voucher acknowledged is never forgotten
by a crash or a restart, and a crash before the commit leaves the previous voucher whole.

SQLAlchemy Core over the standard library's sqlite3. The database runs in WAL mode with
``synchronous=FULL`` (:func:`computerails._sqlite.durable_engine`): a commit is on disk when
:meth:`SqliteVoucherStore.save` returns, which is when :class:`~computerails.vouchers.VoucherBook`
acknowledges the voucher.

SQLite integers are signed 64-bit, narrower than a voucher's uint128 value and uint64 count and
timestamp, so those are stored as zero-padded decimal text: text order is then numeric order,
and the upsert refuses, inside the same statement, to replace a voucher by one with a lower
request count (a second process sharing the file cannot roll a collection back).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, LargeBinary, MetaData, String, Table, select
from sqlalchemy.dialects.sqlite import insert

from computerails._sqlite import UINT64_DIGITS, UINT128_DIGITS, durable_engine, pad
from computerails.vouchers import Voucher

metadata = MetaData()

#: The latest accepted voucher of each collection, with its signature.
vouchers = Table(
    "vouchers",
    metadata,
    Column("collection_id", String(66), primary_key=True),
    Column("provider", String(42), nullable=False, index=True),
    Column("payer", String(42), nullable=False),
    Column("token", String(42), nullable=False),
    Column("value_aggregate", String(UINT128_DIGITS), nullable=False),
    Column("request_count", String(UINT64_DIGITS), nullable=False),
    Column("timestamp", String(UINT64_DIGITS), nullable=False),
    Column("metadata", String(66), nullable=False),
    Column("signature", LargeBinary(65), nullable=False),
)


class SqliteVoucherStore:
    """A :class:`~computerails.vouchers.VoucherStore` in one SQLite file (created if missing).

    Args:
        path: the database file, or ``":memory:"`` (tests: nothing survives the process).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.engine: Engine = durable_engine(self.path)
        metadata.create_all(self.engine)

    def __repr__(self) -> str:
        return f"SqliteVoucherStore({self.path!r})"

    def load(self, provider: str) -> dict[str, tuple[Voucher, bytes]]:
        """Collection id -> the latest voucher and signature kept for `provider`."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(vouchers).where(vouchers.c.provider == provider)).mappings().all()
        return {row["collection_id"]: (_voucher(row), bytes(row["signature"])) for row in rows}

    def save(self, voucher: Voucher, signature: bytes) -> None:
        """Keep `voucher` as its collection's latest in one committed transaction (a voucher with
        a request count not above the kept one's leaves the row as it was)."""
        row = {
            "collection_id": voucher.collection_id,
            "provider": voucher.provider,
            "payer": voucher.payer,
            "token": voucher.token,
            "value_aggregate": pad(voucher.value_aggregate, UINT128_DIGITS),
            "request_count": pad(voucher.request_count, UINT64_DIGITS),
            "timestamp": pad(voucher.timestamp, UINT64_DIGITS),
            "metadata": voucher.metadata,
            "signature": bytes(signature),
        }
        statement = insert(vouchers).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=[vouchers.c.collection_id],
            set_={name: statement.excluded[name] for name in row if name != "collection_id"},
            where=statement.excluded.request_count > vouchers.c.request_count,
        )
        with self.engine.begin() as conn:  # commits on leaving, rolls back on any exception
            conn.execute(statement)

    def close(self) -> None:
        """Close the file's connections."""
        self.engine.dispose()


def _voucher(row: Any) -> Voucher:
    return Voucher(
        payer=row["payer"],
        provider=row["provider"],
        token=row["token"],
        collection_id=row["collection_id"],
        value_aggregate=int(row["value_aggregate"]),
        request_count=int(row["request_count"]),
        timestamp=int(row["timestamp"]),
        metadata=row["metadata"],
    )
