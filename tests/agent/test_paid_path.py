"""The agent's paid path in process (PaymentGate.admit_and_serve on a real AgentStore file, the
escrow's side stubbed): what its shortcuts must leave exactly as before. The receipt is built
without validating again, its request hash from the pixels' bytes, its row written as prebuilt
SQL, and the cover counts the payer's other collections from an index: each is checked here
against the slow, validated path it replaces. No chain: the escrow view is a fixed CoverView."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from computerails import receipts
from computerails.agent.payment import PaymentGate, Served
from computerails.agent.store import AgentStore
from computerails.collector import CollectorAPI, CoverView
from computerails.errors import InvalidModelInput, InvalidVoucher, StaleVoucher, VoucherNotCovered
from computerails.models import digits
from computerails.receipts import ResponseReceipt
from computerails.types import TokenInfo
from computerails.vouchers import Meter, VoucherDomain, VoucherSigner, keccak256, load_private_key

DOMAIN = VoucherDomain(31337, "0x" + "e5" * 20)
PROVIDER_KEY = b"\x33" * 32
PROVIDER = load_private_key(PROVIDER_KEY, "provider")[1]
TOKEN = TokenInfo(address=load_private_key(b"\x44" * 32, "t")[1], symbol="mUSD", decimals=6)
PRICE = 1_000
BALANCE = 10_000  # each payer's escrow: 10 requests' worth, 9 after the 10 % margin
PIXELS = list(digits.samples()[0][0])


class StubCollector:
    """The collector's admission (CollectorAPI.check, the real code) over a fixed escrow view."""

    check = CollectorAPI.check
    _admit_view = CollectorAPI._admit_view

    def __init__(self) -> None:
        self.domain = DOMAIN

    def cover_view(self, voucher, signer) -> CoverView:
        return CoverView(signer=signer, signer_info=(voucher.payer, 0, False), balance=BALANCE, collected=0)


def _gate(path: Path, **kwargs) -> PaymentGate:
    rails = SimpleNamespace(address=PROVIDER, collector=StubCollector())
    return PaymentGate(
        rails,  # type: ignore[arg-type]
        AgentStore(path),
        PROVIDER_KEY,
        token=TOKEN,
        price=PRICE,
        safety_margin_bps=1_000,
        min_escrow=0,
        cover_ttl=2.0,
        **kwargs,
    )


def _meter(key: int) -> Meter:
    signer = VoucherSigner(DOMAIN, key.to_bytes(32, "big"))
    return Meter(signer, payer=signer.address, provider=PROVIDER, token=TOKEN.address, budget=10**9)


def serve(gate: PaymentGate, voucher, signature, pixels) -> Served:
    """One paid request through the gate, on an event loop of its own (as the agent's is)."""
    return asyncio.run(gate.admit_and_serve(voucher, signature, pixels))


def _meter_on(key: int, collection_id: str) -> Meter:
    signer = VoucherSigner(DOMAIN, key.to_bytes(32, "big"))
    return Meter(
        signer, payer=signer.address, provider=PROVIDER, token=TOKEN.address, budget=10**9, collection_id=collection_id
    )


@pytest.fixture
def path(tmp_path) -> Path:
    return tmp_path / "agent.sqlite"


def test_admit_and_serve__receipt__as_validated_signed_kept_and_answered(path):
    gate = _gate(path)
    meter = _meter(0xA1)
    voucher, signature = meter.next(PRICE)

    served = serve(gate, voucher, signature, PIXELS)

    answer = digits.infer(PIXELS)
    validated = ResponseReceipt(
        payer=voucher.payer,
        provider=PROVIDER,
        token=TOKEN.address,
        collection_id=voucher.collection_id,
        request_index=voucher.request_count,
        request_hash=keccak256(digits.load_model().request_bytes(np.array(PIXELS))),
        response_hash=answer.response_hash,
        units=1,
    )
    assert served.result == answer
    assert served.receipt == validated
    assert served.receipt.model_dump() == validated.model_dump()
    assert served.signature == receipts.ReceiptSigner(DOMAIN, PROVIDER_KEY).sign(validated)
    assert receipts.verify(DOMAIN, validated, served.signature)
    assert served.body()["receipt"] == validated.model_dump(mode="json")
    assert served.increment == PRICE
    # Durable when it returns: another connection reads the voucher and the receipt.
    with sqlite3.connect(path) as conn:
        kept = conn.execute("SELECT request_count, signature FROM vouchers").fetchall()
        rows = conn.execute(
            "SELECT collection_id, request_index, payer, request_hash, response_hash, signature FROM receipts"
        ).fetchall()
    assert kept == [(str(voucher.request_count).zfill(20), signature)]
    assert rows == [
        (
            voucher.collection_id,
            str(voucher.request_count).zfill(20),
            voucher.payer,
            validated.request_hash,
            validated.response_hash,
            served.signature,
        )
    ]
    gate.store.close()


def test_admit_and_serve__replayed_voucher__stale_nothing_written(path):
    gate = _gate(path)
    signed = _meter(0xA2).next(PRICE)
    serve(gate, *signed, PIXELS)

    with pytest.raises(StaleVoucher):
        serve(gate, *signed, PIXELS)
    assert gate.store.receipt_count() == 1
    gate.store.close()


def test_admit_and_serve__wrong_answer_model__receipt_signs_the_answer_given(path):
    def wrong(pixels):
        right = digits.infer(pixels)
        return right.model_copy(update={"label": (right.label + 1) % 10})

    gate = _gate(path, model=wrong)
    served = serve(gate, *_meter(0xA3).next(PRICE), PIXELS)

    assert served.result.label == (digits.infer(PIXELS).label + 1) % 10
    assert served.receipt.response_hash == "0x" + served.result.response_hash.hex()
    assert receipts.verify(DOMAIN, served.receipt, served.signature)
    gate.store.close()


def test_cover__other_collections_of_the_payer__counted__after_a_restart_too(path):
    gate = _gate(path)
    first, second, stranger = _meter(0xB1), _meter(0xB1), _meter(0xB2)
    for _ in range(5):
        serve(gate, *first.next(PRICE), PIXELS)  # 5 of the payer's 9 requests of cover
    for _ in range(5):
        serve(gate, *stranger.next(PRICE), PIXELS)  # another payer: its own cover
    for _ in range(4):
        serve(gate, *second.next(PRICE), PIXELS)

    with pytest.raises(VoucherNotCovered):
        serve(gate, *second.next(PRICE), PIXELS)
    gate.store.close()

    restarted = _gate(path)  # the book and its per-payer index from disk
    third = _meter(0xB1)
    with pytest.raises(VoucherNotCovered):
        serve(restarted, *third.next(PRICE), PIXELS)
    assert [cid for cid, _v in restarted.book.payer_collections(first.latest.payer, TOKEN.address)] != []
    assert {cid for cid, _v in restarted.book.payer_collections(first.latest.payer, TOKEN.address)} == {
        first.collection_id,
        second.collection_id,
    }
    restarted.store.close()


@pytest.mark.parametrize(
    "pixels",
    [
        [True] + PIXELS[1:],  # a bool is not a pixel
        [17] + PIXELS[1:],
        [-1] + PIXELS[1:],
        [256] + PIXELS[1:],
        [1.0] + PIXELS[1:],
        PIXELS[:-1],
        PIXELS + [0],
        tuple([17] + PIXELS[1:]),
    ],
)
def test_request_hash__invalid_pixels__refused_as_before(pixels):
    with pytest.raises(InvalidModelInput):
        digits.request_hash(pixels)


@pytest.mark.parametrize(
    "pixels", [PIXELS, tuple(PIXELS), np.array(PIXELS), np.array(PIXELS, dtype=np.uint8), [np.int64(v) for v in PIXELS]]
)
def test_request_hash__any_valid_form__the_validated_bytes_hash(pixels):
    expected = keccak256(bytes.fromhex(digits.WEIGHTS_SHA256) + bytes(digits.validate_pixels(PIXELS).tolist()))
    assert digits.request_hash(pixels) == expected


# ───────────────────────────── on one event loop ─────────────────────────────


def _batches(gate: PaymentGate) -> list[int]:
    """Record the size of every transaction the gate's voucher store commits."""
    sizes: list[int] = []
    store = gate.store.vouchers
    commit = store._commit

    def counted(batch, **kwargs):
        sizes.append(len(batch))
        return commit(batch, **kwargs)

    store._commit = counted  # type: ignore[method-assign]
    return sizes


def test_admit_and_serve__concurrent_payers__one_commit_for_all(path):
    gate = _gate(path)
    meters = [_meter(0xC0 + i) for i in range(5)]
    for meter in meters:  # each payer's escrow view read and cached: no admission below leaves the loop
        serve(gate, *meter.next(PRICE), PIXELS)
    sizes = _batches(gate)

    signed = [m.next(PRICE) for m in meters]

    async def at_once():
        return await asyncio.gather(*(gate.admit_and_serve(*s, PIXELS) for s in signed))

    served = asyncio.run(at_once())

    assert sizes == [5]  # one transaction, one flush, for the five requests
    assert [s.receipt.request_index for s in served] == [2] * 5
    assert gate.store.receipt_count() == 10
    for meter, kept in zip(meters, signed, strict=True):
        assert gate.book.latest(meter.collection_id) == kept
    gate.store.close()


def test_admit_and_serve__one_payer_at_once__served_in_turn_and_a_replay_refused(path):
    gate = _gate(path)
    meter = _meter(0xC8)
    serve(gate, *meter.next(PRICE), PIXELS)
    first, second = meter.next(PRICE), meter.next(PRICE)
    sizes = _batches(gate)

    async def at_once():
        return await asyncio.gather(
            gate.admit_and_serve(*first, PIXELS),
            gate.admit_and_serve(*first, PIXELS),  # the same voucher again, while the first is being written
            gate.admit_and_serve(*second, PIXELS),
            return_exceptions=True,
        )

    one, replay, two = asyncio.run(at_once())

    assert isinstance(one, Served) and isinstance(two, Served)
    assert isinstance(replay, StaleVoucher)  # checked only once the first was kept: the payer's lock
    assert sizes == [1, 1]  # one payer's vouchers are written one after the other
    assert gate.book.latest(meter.collection_id) == second
    assert gate.store.receipt_count() == 3
    gate.store.close()


def test_admit_and_serve__request_cancelled_while_writing__voucher_kept_all_the_same(path):
    gate = _gate(path)
    meter = _meter(0xC9)
    serve(gate, *meter.next(PRICE), PIXELS)
    cancelled, after = meter.next(PRICE), meter.next(PRICE)

    async def cancel_mid_write():
        task = asyncio.create_task(gate.admit_and_serve(*cancelled, PIXELS))
        await asyncio.sleep(0)  # the task checked, answered and queued its write; the commit runs next
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await gate.admit_and_serve(*after, PIXELS)

    served = asyncio.run(cancel_mid_write())

    assert served.increment == PRICE  # the cancelled voucher was kept: the next one adds one price to it
    assert gate.book.latest(meter.collection_id) == after
    with pytest.raises(StaleVoucher):
        serve(gate, *cancelled, PIXELS)
    assert gate.store.receipt_count() == 3
    gate.store.close()


def test_admit_and_serve__commit_fails__every_request_of_the_batch_told_nothing_kept(path, monkeypatch):
    gate = _gate(path)
    meters = [_meter(0xD0 + i) for i in range(3)]
    for meter in meters:
        serve(gate, *meter.next(PRICE), PIXELS)
    signed = [m.next(PRICE) for m in meters]
    writer = gate.store.vouchers.writer
    real = writer.transaction

    def broken(**_kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(writer, "transaction", broken)

    async def at_once():
        return await asyncio.gather(*(gate.admit_and_serve(*s, PIXELS) for s in signed), return_exceptions=True)

    failed = asyncio.run(at_once())

    assert [type(e) for e in failed] == [sqlite3.OperationalError] * 3
    assert gate.store.receipt_count() == 3  # the first round's only
    for meter, (voucher, _sig) in zip(meters, signed, strict=True):
        assert gate.book.latest(meter.collection_id)[0].request_count == voucher.request_count - 1
        assert not gate._lock(f"{voucher.payer}/{voucher.token}").locked()
    monkeypatch.setattr(writer, "transaction", real)
    served = asyncio.run(at_once())  # the same vouchers, once the disk is back
    assert [s.increment for s in served] == [PRICE] * 3
    assert gate.store.receipt_count() == 6
    gate.store.close()


def test_admit_and_serve__two_payers_open_one_collection_at_once__only_one_served(path):
    gate = _gate(path)
    first, second = _meter(0xE1), _meter(0xE2)
    serve(gate, *first.next(PRICE), PIXELS)  # both payers' escrow views read and cached: no admission leaves the loop
    serve(gate, *second.next(PRICE), PIXELS)
    shared = "0x" + "5e" * 32  # a collection id is the payer's choice: both pick this one
    late = _meter_on(0xE2, shared)
    late.next(PRICE)  # signed, never sent: the next one is above the first payer's request count
    claims = [_meter_on(0xE1, shared).next(PRICE), late.next(PRICE)]  # the second would overwrite the first

    async def at_once():
        return await asyncio.gather(*(gate.admit_and_serve(*c, PIXELS) for c in claims), return_exceptions=True)

    outcomes = asyncio.run(at_once())

    assert isinstance(outcomes[0], Served)
    assert isinstance(outcomes[1], InvalidVoucher) and "belongs to payer" in str(outcomes[1])
    assert gate.book.latest(shared) == claims[0]
    assert shared in {cid for cid, _v in gate.book.payer_collections(claims[0][0].payer, TOKEN.address)}
    assert shared not in {cid for cid, _v in gate.book.payer_collections(claims[1][0].payer, TOKEN.address)}
    gate.store.close()
    assert AgentStore(path).vouchers.load(PROVIDER)[shared] == claims[0]
    assert AgentStore(path).receipt_count() == 3
