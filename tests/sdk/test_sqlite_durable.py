"""computerails._sqlite: the one durable SQLite set-up the voucher book, the agent's store, the job
runner's journal and the payer's wallet share (WAL, synchronous=FULL, explicit transactions)."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import text

from computerails._sqlite import UINT64_DIGITS, DurableSqlite, WriterBusy, durable_engine, pad

FULL = 2  # PRAGMA synchronous's number for FULL


def test_durable_sqlite__opened__wal_full_schema_and_folder(tmp_path):
    db = DurableSqlite(tmp_path / "new" / "state.sqlite", "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY);")
    try:
        assert db.connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.connection.execute("PRAGMA synchronous").fetchone() == (FULL,)
        assert db.connection.execute("SELECT count(*) FROM t").fetchone() == (0,)
    finally:
        db.close()


def test_durable_engine__connections__wal_and_full(tmp_path):
    engine = durable_engine(str(tmp_path / "book.sqlite"))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar() == FULL
    finally:
        engine.dispose()


def test_transaction__body_raises__rolled_back_and_next_one_commits(tmp_path):
    db = DurableSqlite(tmp_path / "s.sqlite", "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY);")
    try:
        with pytest.raises(RuntimeError), db.transaction() as conn:
            conn.execute("INSERT INTO t VALUES ('lost')")
            raise RuntimeError("crash mid-write")
        with db.transaction() as conn:
            conn.execute("INSERT INTO t VALUES ('kept')")
        assert db.connection.execute("SELECT k FROM t").fetchall() == [("kept",)]
    finally:
        db.close()


def test_transaction__commit_fails__rolled_back_and_connection_usable(tmp_path):
    schema = (
        "CREATE TABLE IF NOT EXISTS p (k TEXT PRIMARY KEY);"
        "CREATE TABLE IF NOT EXISTS c (k TEXT REFERENCES p (k) DEFERRABLE INITIALLY DEFERRED);"
    )
    db = DurableSqlite(tmp_path / "s.sqlite", schema)
    db.connection.execute("PRAGMA foreign_keys=ON")
    try:
        with pytest.raises(Exception, match="FOREIGN KEY"), db.transaction() as conn:
            conn.execute("INSERT INTO c VALUES ('orphan')")  # checked at COMMIT
        assert not db.connection.in_transaction
        with db.transaction() as conn:
            conn.execute("INSERT INTO p VALUES ('a')")
        assert db.connection.execute("SELECT count(*) FROM c").fetchone() == (0,)
    finally:
        db.close()


def test_transaction_not_waiting__another_connection_writing__writer_busy_at_once_nothing_written(tmp_path):
    path = tmp_path / "s.sqlite"
    db = DurableSqlite(path, "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY);", timeout=30)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # holds the file's write lock
        with pytest.raises(WriterBusy), db.transaction(wait=False) as conn:
            conn.execute("INSERT INTO t VALUES ('not now')")  # pragma: no cover - never reached
        other.execute("COMMIT")
        assert db.connection.execute("PRAGMA busy_timeout").fetchone() == (30_000,)  # as it was
        assert not db.connection.in_transaction
        with db.transaction(wait=False) as conn:  # the lock free again
            conn.execute("INSERT INTO t VALUES ('now')")
        assert other.execute("SELECT k FROM t").fetchall() == [("now",)]
    finally:
        other.close()
        db.close()


def test_transaction_not_waiting__another_thread_in_one__writer_busy(tmp_path):
    db = DurableSqlite(tmp_path / "s.sqlite", "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY);")
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with db.transaction() as conn:
            conn.execute("INSERT INTO t VALUES ('theirs')")
            inside.set()
            leave.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        inside.wait()
        with pytest.raises(WriterBusy), db.transaction(wait=False):
            pass  # pragma: no cover - never reached
    finally:
        leave.set()
        holder.join()
    with db.transaction(wait=False) as conn:
        conn.execute("INSERT INTO t VALUES ('mine')")
    assert sorted(db.connection.execute("SELECT k FROM t").fetchall()) == [("mine",), ("theirs",)]
    db.close()


def test_pad__uint64__text_order_is_numeric_order():
    assert pad(9, UINT64_DIGITS) < pad(10, UINT64_DIGITS) and len(pad(2**64 - 1, UINT64_DIGITS)) == UINT64_DIGITS
