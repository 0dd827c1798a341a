"""The one way the SDK and the provider agent keep state in SQLite: durable files (WAL journal,
``synchronous=FULL``: a commit is on disk when it returns) and uint columns as zero-padded text.

Used by the voucher book (:mod:`computerails.voucher_store`, SQLAlchemy), the agent's store
(:mod:`computerails.agent.store`, on the voucher book's engine), the job runner's journal
(:class:`computerails.agent.jobs.JobJournal`) and the payer's wallet
(:class:`computerails.pay_client.MeterStore`), the last two over :class:`DurableSqlite`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

#: Digits of 2**128 - 1 and 2**64 - 1: SQLite integers are signed 64-bit, narrower than a
#: voucher's uint128 value and uint64 count, so those are stored as zero-padded decimal text
#: (text order is then numeric order, and an upsert can compare them in SQL).
UINT128_DIGITS = 39
UINT64_DIGITS = 20


def pad(value: int, digits: int) -> str:
    """`value` as zero-padded decimal text of `digits` digits (see :data:`UINT128_DIGITS`)."""
    return str(value).zfill(digits)


def make_durable(dbapi_connection: Any, _record: Any = None) -> None:
    """WAL journal, and a commit reaches the disk before it returns. Takes a DB-API connection
    (``sqlite3.Connection``), and is a SQLAlchemy ``connect`` listener as it is."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def durable_engine(path: str) -> Engine:
    """A SQLAlchemy engine on the file `path` (or ``":memory:"``) whose connections are durable."""
    url = "sqlite://" if path == ":memory:" else f"sqlite:///{Path(path).expanduser()}"
    engine = create_engine(url)
    event.listen(engine, "connect", make_durable)
    return engine


class WriterBusy(Exception):
    """A transaction that was not to wait found the file's write lock taken (by another
    connection, or by another thread on this one): nothing was written."""


#: SQLite's result code for a lock held elsewhere.
SQLITE_BUSY = 5


class DurableSqlite:
    """One durable ``sqlite3`` connection (autocommit mode, explicit transactions) shared by
    threads under a lock; its folder is created if missing.

    Args:
        path: the database file.
        schema: SQL run once on opening (``CREATE TABLE IF NOT EXISTS ...``).
        timeout: seconds to wait for another process's write lock.
    """

    def __init__(self, path: str | Path, schema: str = "", *, timeout: float = 5.0) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=timeout)
        self.lock = threading.RLock()
        self._busy_timeout_ms = int(timeout * 1_000)
        make_durable(self.connection)
        if schema:
            self.connection.executescript(schema)

    @contextmanager
    def transaction(self, *, wait: bool = True) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` .. ``COMMIT`` under the lock; ``ROLLBACK`` on any exception, the
        commit's own included (the connection is then ready for the next transaction).

        Args:
            wait: False: raise :class:`WriterBusy` at once, instead of waiting, when another
                thread holds the lock or another connection the file's write lock (an event
                loop must not sleep in SQLite's busy handler).
        """
        if not self.lock.acquire(blocking=wait):
            raise WriterBusy(f"{self.path}: another thread is writing")
        try:
            if wait:
                self.connection.execute("BEGIN IMMEDIATE")
            else:
                self._begin_now()
            try:
                yield self.connection
                self.connection.execute("COMMIT")
            except BaseException:
                if self.connection.in_transaction:
                    self.connection.execute("ROLLBACK")
                raise
        finally:
            self.lock.release()

    def _begin_now(self) -> None:
        """``BEGIN IMMEDIATE`` without waiting for another connection's write lock."""
        self.connection.execute("PRAGMA busy_timeout = 0")
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11 and later
            if (code & 0xFF) == SQLITE_BUSY if code is not None else "database is locked" in str(exc):
                raise WriterBusy(f"{self.path}: another connection is writing") from exc
            raise
        finally:
            self.connection.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")

    def close(self) -> None:
        with self.lock:
            self.connection.close()
