"""A provider's voucher book on disk (issue 12): the latest voucher per collection in SQLite,
written in one transaction per accepted voucher, so a voucher acknowledged is never forgotten
by a crash or a restart, and a crash before the commit leaves the previous voucher whole.

SQLAlchemy Core over the standard library's sqlite3 defines the table and reads it; saves run on
one ``sqlite3`` connection of their own (:class:`computerails._sqlite.DurableSqlite`: on the
agent's paid path a pooled SQLAlchemy transaction cost a fifth of the commit it wrapped). The
database runs in WAL mode with ``synchronous=FULL``: a commit is on disk when
:meth:`SqliteVoucherStore.save` returns, which is when :class:`~computerails.vouchers.VoucherBook`
acknowledges the voucher.

SQLite integers are signed 64-bit, narrower than a voucher's uint128 value and uint64 count and
timestamp, so those are stored as zero-padded decimal text: text order is then numeric order,
and the upsert refuses, inside the same statement, to replace a voucher by one with a lower
request count (a second process sharing the file cannot roll a collection back).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, LargeBinary, MetaData, String, Table, select
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.dialects.sqlite import insert

from computerails._sqlite import UINT64_DIGITS, UINT128_DIGITS, DurableSqlite, WriterBusy, durable_engine, pad
from computerails.vouchers import Voucher

log = logging.getLogger("computerails.voucher_store")

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


@dataclass
class _Pending:
    """One save waiting for a group commit."""

    row: dict[str, Any]
    also: Callable[[sqlite3.Connection], object] | None
    done: bool = False
    error: BaseException | None = None
    then: Callable[[], object] | None = None  # right after its commit
    future: asyncio.Future[None] | None = None  # an event loop's save (save_async)


def _save_statement() -> Any:
    """The upsert :meth:`SqliteVoucherStore.save` runs, built once (its compiled form is cached,
    so a save costs the write, not a new SQL expression per call): a voucher replaces the kept
    one only with a higher request count."""
    statement = insert(vouchers)
    return statement.on_conflict_do_update(
        index_elements=[vouchers.c.collection_id],
        set_={c.name: statement.excluded[c.name] for c in vouchers.columns if c.name != "collection_id"},
        where=statement.excluded.request_count > vouchers.c.request_count,
    )


_SAVE = _save_statement()
#: The upsert as SQL text for the driver, with its parameters' order: a save runs it on the
#: store's own sqlite3 connection (SQLAlchemy's execution of a compiled statement costs more
#: than the write itself on the agent's paid path).
_SAVE_COMPILED = _SAVE.compile(dialect=sqlite_dialect())
_SAVE_SQL = str(_SAVE_COMPILED)
_SAVE_ORDER = tuple(_SAVE_COMPILED.positiontup or ())


class SqliteVoucherStore:
    """A :class:`~computerails.vouchers.VoucherStore` in one SQLite file (created if missing).

    Args:
        path: the database file (its folder is created if missing).

    Attributes:
        engine: reads, and the table's creation (SQLAlchemy).
        writer: the connection every save commits on (group commit: one writer at a time).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.engine: Engine = durable_engine(self.path)
        metadata.create_all(self.engine)
        self.writer = DurableSqlite(self.path)
        # Group commit: writers of this process queue here (not in SQLite's busy handler, which
        # sleeps milliseconds between retries); whoever finds no commit running writes everything
        # queued so far in one transaction, so concurrent requests share one fsync.
        self._queue: list[_Pending] = []
        self._committing = False
        self._turn = threading.Condition()
        # Saves from event loops (save_async): queued per loop until its commit runs.
        self._soon: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}

    def __repr__(self) -> str:
        return f"SqliteVoucherStore({self.path!r})"

    def load(self, provider: str) -> dict[str, tuple[Voucher, bytes]]:
        """Collection id -> the latest voucher and signature kept for `provider`."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(vouchers).where(vouchers.c.provider == provider)).mappings().all()
        return {row["collection_id"]: (_voucher(row), bytes(row["signature"])) for row in rows}

    def save(
        self, voucher: Voucher, signature: bytes, also: Callable[[sqlite3.Connection], object] | None = None
    ) -> None:
        """Keep `voucher` as its collection's latest in one committed transaction (a voucher with
        a request count not above the kept one's leaves the row as it was).

        Concurrent saves share one commit (group commit): a save returns once the transaction
        holding its voucher committed, or raises what made that transaction fail (then none of
        its writes happened).

        Args:
            also: more writes for the same transaction (given its ``sqlite3`` connection): they
                commit with the voucher, or nothing does (the agent keeps its receipt this way)."""
        mine = _Pending(_row(voucher, signature), also)
        with self._turn:
            self._queue.append(mine)
            while not mine.done and self._committing:
                self._turn.wait()
            if not mine.done:  # no commit running: this thread writes the queue
                batch, self._queue, self._committing = self._queue, [], True
        if not mine.done:
            error = self._commit(batch)
            with self._turn:
                for pending in batch:
                    pending.done, pending.error = True, error
                self._committing = False
                self._turn.notify_all()
        if mine.error is not None:
            raise mine.error

    def save_async(
        self,
        voucher: Voucher,
        signature: bytes,
        *,
        also: Callable[[sqlite3.Connection], object] | None = None,
        then: Callable[[], object] | None = None,
    ) -> asyncio.Future[None]:
        """:meth:`save` for an event loop: returns a future (of the running loop) that is done
        once the voucher's transaction committed, or holds what made it fail (then none of its
        writes happened).

        The commit runs on the loop itself, once the callbacks ready now have run: every save
        they queue meanwhile joins it (group commit, without a thread). The loop waits out the
        disk's flush (a fraction of a millisecond here) instead of handing each write to a
        thread and back: two threads taking turns at the interpreter cost the agent's paid path
        more CPU than the flush it would overlap. Only when another writer holds the file does
        the commit wait for it on a worker thread, so the loop never sleeps in SQLite's busy
        handler.

        Args:
            also: more writes for the same transaction, as for :meth:`save`.
            then: called right after the commit, before the future is done (and whether or not
                anyone still awaits it): what must follow a durable write even if the request
                that asked for it was cancelled meanwhile.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        queued = self._soon.get(loop)
        if queued is None:
            queued = self._soon[loop] = []
            loop.call_soon(self._commit_soon, loop)
        queued.append(_Pending(_row(voucher, signature), also, then=then, future=future))
        return future

    def _commit_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        """On `loop`: commit its queued saves in one transaction and finish their futures. When
        another writer holds the file (the agent's collection rounds write it from a worker
        thread), the commit waits for it on a worker thread instead of on the loop."""
        batch = self._soon.pop(loop)
        try:
            error = self._commit(batch, wait=False)
        except WriterBusy:
            waited = loop.run_in_executor(None, self._commit, batch)
            waited.add_done_callback(lambda done: _finish(batch, done.exception() or done.result()))
            return
        except BaseException as exc:  # never leave a save waiting: its payer's locks wait with it
            error = exc
        _finish(batch, error)

    def _commit(self, batch: list[_Pending], wait: bool = True) -> BaseException | None:
        """Write `batch` in one transaction, then run each one's ``then``: None once committed,
        or the exception that rolled the whole batch back. A ``then`` that raises is logged (its
        write stands, and so do the others').

        Raises:
            WriterBusy: with ``wait=False``, the file's write lock is taken; nothing was written.
        """
        try:
            with self.writer.transaction(wait=wait) as conn:  # commits on leaving, rolls back on any exception
                for pending in batch:
                    row = pending.row
                    conn.execute(_SAVE_SQL, tuple(row[name] for name in _SAVE_ORDER))
                    if pending.also is not None:
                        pending.also(conn)
        except WriterBusy:
            raise
        except StopIteration as exc:  # a future cannot hold one: hand it over as what it is
            return RuntimeError(f"a write of the batch raised StopIteration: {exc!r}")
        except BaseException as exc:  # the whole batch is rolled back: each of its writers hears it
            return exc
        for pending in batch:
            if pending.then is not None:
                try:
                    pending.then()
                except Exception:
                    log.exception("after the commit of collection %s", pending.row["collection_id"])
        return None

    def close(self) -> None:
        """Close the file's connections."""
        self.writer.close()
        self.engine.dispose()


def _row(voucher: Voucher, signature: bytes) -> dict[str, Any]:
    """`voucher` as its table row."""
    return {
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


def _finish(batch: list[_Pending], error: BaseException | None) -> None:
    """On the loop: finish each save's future with the commit's outcome."""
    for pending in batch:
        future = pending.future
        if future is not None and not future.done():  # one cancelled without a shield is left
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)


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
