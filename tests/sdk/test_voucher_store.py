"""The provider's voucher book on disk (issue 12): what a book acknowledged survives a reopen of
the SQLite file, a crash before the commit leaves the previous voucher whole (in the file and in
the book), and full-width uint128/uint64 figures round-trip. Off chain: no anvil starts."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from computerails import errors
from computerails.voucher_store import SqliteVoucherStore
from computerails.vouchers import UINT64_MAX, UINT128_MAX, Meter, Voucher, VoucherBook, VoucherDomain, VoucherSigner

PAYER_KEY = b"\x11" * 32
PAYER = Account.from_key(PAYER_KEY).address
PROVIDER = to_checksum_address("0x" + "70" * 20)
TOKEN = to_checksum_address("0x" + "7e" * 20)
DOMAIN = VoucherDomain(31337, "0x" + "e5" * 20)


@pytest.fixture(autouse=True)
def _revert_chain():
    """Overrides the SDK suite's snapshot fixture: nothing here touches a chain."""
    yield


@pytest.fixture
def path(tmp_path):
    return tmp_path / "book.sqlite"


def _book(path) -> VoucherBook:
    return VoucherBook(DOMAIN, PROVIDER, {PAYER: [PAYER]}, store=SqliteVoucherStore(path))


def _meter(budget: int = 10**9) -> Meter:
    return Meter(VoucherSigner(DOMAIN, PAYER_KEY), payer=PAYER, provider=PROVIDER, token=TOKEN, budget=budget)


def test_reopen__accepted_vouchers__latest_per_collection_kept(path):
    book = _book(path)
    first, second = _meter(), _meter()
    for _ in range(3):
        book.accept(*first.next(10))
    latest_second = second.next(7)
    book.accept(*latest_second)
    book.store.close()

    reopened = _book(path)

    assert reopened.collections() == book.collections()
    assert reopened.latest(first.collection_id)[0].value_aggregate == 30
    assert reopened.latest(second.collection_id) == latest_second


def test_reopen__stale_voucher_after_restart__still_refused(path):
    book = _book(path)
    meter = _meter()
    old = meter.next(10)
    book.accept(*old)
    book.accept(*meter.next(10))
    book.store.close()

    with pytest.raises(errors.StaleVoucher):
        _book(path).accept(*old)


def test_crash_before_commit__book_and_file_keep_the_previous_voucher(path):
    book = _book(path)
    meter = _meter()
    kept = meter.next(10)
    book.accept(*kept)

    class CommitFails:
        """The store's connection, except that COMMIT fails (the rollback still runs)."""

        def __init__(self, inner):
            self.inner = inner

        def execute(self, sql, *args):
            if sql == "COMMIT":
                raise OSError("power lost before the commit")
            return self.inner.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    book.store.writer.connection = CommitFails(book.store.writer.connection)
    with pytest.raises(OSError, match="power lost"):
        book.accept(*meter.next(10))

    assert book.latest(meter.collection_id) == kept  # never acknowledged, never kept
    assert _book(path).latest(meter.collection_id) == kept


def test_process_killed_mid_transaction__reopen_finds_the_previous_voucher(path):
    book = _book(path)
    meter = _meter()
    kept = meter.next(10)
    book.accept(*kept)
    unsaved = meter.next(10)

    pid = os.fork()
    if pid == 0:  # the child writes the next voucher and dies before committing
        store = SqliteVoucherStore(path)
        conn = store.engine.connect()
        conn.begin()
        conn.exec_driver_sql("UPDATE vouchers SET value_aggregate = '1', request_count = '9'")
        os._exit(0)
    os.waitpid(pid, 0)

    assert _book(path).latest(meter.collection_id) == kept
    assert unsaved[0].request_count == kept[0].request_count + 1


def test_save__lower_request_count_from_another_writer__row_unchanged(path):
    store = SqliteVoucherStore(path)
    meter = _meter()
    old, new = meter.next(1), meter.next(1)
    store.save(*new)

    store.save(*old)

    assert store.load(PROVIDER) == {meter.collection_id: new}


def test_save__full_width_figures__round_trip(path):
    store = SqliteVoucherStore(path)
    voucher = Voucher(
        payer=PAYER,
        provider=PROVIDER,
        token=TOKEN,
        collection_id="0x" + "ab" * 32,
        value_aggregate=UINT128_MAX,
        request_count=UINT64_MAX,
        timestamp=UINT64_MAX,
        metadata="0x" + "cd" * 32,
    )
    signature = VoucherSigner(DOMAIN, PAYER_KEY).sign(voucher)

    store.save(voucher, signature)

    assert SqliteVoucherStore(path).load(PROVIDER) == {voucher.collection_id: (voucher, signature)}


def test_load__another_providers_rows__not_loaded(path):
    store = SqliteVoucherStore(path)
    store.save(*_meter().next(1))

    assert store.load(TOKEN) == {}


def test_group_commit__writers_queued_behind_a_commit__share_the_next_one(path):
    store = SqliteVoucherStore(path)
    book = VoucherBook(DOMAIN, PROVIDER, {PAYER: [PAYER]}, store=store)
    commits = []
    store.writer.connection.set_trace_callback(lambda sql: commits.append(1) if sql == "COMMIT" else None)
    inside, release = threading.Event(), threading.Event()

    def slow(_conn):
        inside.set()
        release.wait(30)

    first, *others = [_meter() for _ in range(4)]
    leader = threading.Thread(target=lambda: book.accept(*first.next(5), also=slow))
    leader.start()
    assert inside.wait(30)
    queued = [threading.Thread(target=lambda m=m: book.accept(*m.next(5))) for m in others]
    for t in queued:
        t.start()
    while len(store._queue) < len(others):  # all three wait behind the open commit
        time.sleep(0.001)

    release.set()
    for t in [leader, *queued]:
        t.join(30)

    assert len(commits) == 2  # the leader's, then one for the three queued behind it
    kept = _book(path).collections()
    assert set(kept) == {m.collection_id for m in (first, *others)}


def test_group_commit__a_failing_write_in_the_batch__every_writer_of_it_raises_nothing_kept(path):
    book = _book(path)
    meter = _meter()

    def fail(_conn):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        book.accept(*meter.next(5), also=fail)

    assert book.latest(meter.collection_id) is None
    assert _book(path).latest(meter.collection_id) is None
    book.accept(*meter.next(5))  # the next save goes through
    assert _book(path).latest(meter.collection_id)[0].request_count == 2


def test_save_async__saves_queued_in_one_pass_of_the_loop__one_transaction_then_each_then(path):
    store = SqliteVoucherStore(path)
    meters = [_meter() for _ in range(4)]
    signed = [m.next(5) for m in meters]
    events: list[str] = []
    commit = store._commit

    def counted(batch, **kwargs):
        events.append(f"commit {len(batch)}")
        return commit(batch, **kwargs)

    store._commit = counted  # type: ignore[method-assign]

    async def save_all():
        futures = [store.save_async(*s, then=lambda i=i: events.append(f"then {i}")) for i, s in enumerate(signed)]
        assert not any(f.done() for f in futures)  # nothing is written before the loop's next pass
        await asyncio.gather(*futures)

    asyncio.run(save_all())

    assert events == ["commit 4", "then 0", "then 1", "then 2", "then 3"]
    assert SqliteVoucherStore(path).load(PROVIDER) == {m.collection_id: s for m, s in zip(meters, signed, strict=True)}


def test_save_async__commit_fails__every_future_holds_the_error_nothing_written_no_then(path, monkeypatch):
    store = SqliteVoucherStore(path)
    meter = _meter()
    kept = meter.next(5)
    store.save(*kept)
    ran: list[int] = []

    def fail_after_the_voucher(conn):
        raise RuntimeError("the receipt's insert failed")

    async def save_two():
        return await asyncio.gather(
            store.save_async(*meter.next(5), then=lambda: ran.append(1)),
            store.save_async(*_meter().next(5), also=fail_after_the_voucher, then=lambda: ran.append(2)),
            return_exceptions=True,
        )

    first, second = asyncio.run(save_two())

    assert isinstance(first, RuntimeError) and first is second  # one transaction: both rolled back
    assert ran == []
    assert SqliteVoucherStore(path).load(PROVIDER) == {meter.collection_id: kept}


def test_save_async__another_connection_holds_the_file__commit_waits_off_the_loop(path):
    store = SqliteVoucherStore(path)
    signed = _meter().next(5)
    other = sqlite3.connect(path, isolation_level=None)

    async def save_while_locked():
        other.execute("BEGIN IMMEDIATE")  # e.g. the agent's collection round, on a worker thread
        written = store.save_async(*signed)
        for _ in range(20):  # the loop keeps running: this coroutine can let the other writer go
            await asyncio.sleep(0.005)
        assert not written.done()
        other.execute("COMMIT")
        await written

    asyncio.run(save_while_locked())  # had the loop waited in SQLite's busy handler, it could not COMMIT

    other.close()
    assert SqliteVoucherStore(path).load(PROVIDER) == {signed[0].collection_id: signed}
