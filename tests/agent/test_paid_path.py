"""The agent's paid path in process (PaymentGate.admit_and_serve on a real AgentStore file, the
escrow's side stubbed): what its shortcuts must leave exactly as before. The receipt is built
without validating again, its request hash from the pixels' bytes, its row written as prebuilt
SQL, and the cover counts the payer's other collections from an index: each is checked here
against the slow, validated path it replaces. No chain: the escrow view is a fixed CoverView."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from computerails import receipts
from computerails.agent.payment import PaymentGate
from computerails.agent.store import AgentStore
from computerails.collector import CollectorAPI, CoverView
from computerails.errors import InvalidModelInput, StaleVoucher, VoucherNotCovered
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
    """The collector's admission (CollectorAPI.accept, the real code) over a fixed escrow view."""

    accept = CollectorAPI.accept

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


@pytest.fixture
def path(tmp_path) -> Path:
    return tmp_path / "agent.sqlite"


def test_admit_and_serve__receipt__as_validated_signed_kept_and_answered(path):
    gate = _gate(path)
    meter = _meter(0xA1)
    voucher, signature = meter.next(PRICE)

    served = gate.admit_and_serve(voucher, signature, PIXELS)

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
    gate.admit_and_serve(*signed, PIXELS)

    with pytest.raises(StaleVoucher):
        gate.admit_and_serve(*signed, PIXELS)
    assert gate.store.receipt_count() == 1
    gate.store.close()


def test_admit_and_serve__wrong_answer_model__receipt_signs_the_answer_given(path):
    def wrong(pixels):
        right = digits.infer(pixels)
        return right.model_copy(update={"label": (right.label + 1) % 10})

    gate = _gate(path, model=wrong)
    served = gate.admit_and_serve(*_meter(0xA3).next(PRICE), PIXELS)

    assert served.result.label == (digits.infer(PIXELS).label + 1) % 10
    assert served.receipt.response_hash == "0x" + served.result.response_hash.hex()
    assert receipts.verify(DOMAIN, served.receipt, served.signature)
    gate.store.close()


def test_cover__other_collections_of_the_payer__counted__after_a_restart_too(path):
    gate = _gate(path)
    first, second, stranger = _meter(0xB1), _meter(0xB1), _meter(0xB2)
    for _ in range(5):
        gate.admit_and_serve(*first.next(PRICE), PIXELS)  # 5 of the payer's 9 requests of cover
    for _ in range(5):
        gate.admit_and_serve(*stranger.next(PRICE), PIXELS)  # another payer: its own cover
    for _ in range(4):
        gate.admit_and_serve(*second.next(PRICE), PIXELS)

    with pytest.raises(VoucherNotCovered):
        gate.admit_and_serve(*second.next(PRICE), PIXELS)
    gate.store.close()

    restarted = _gate(path)  # the book and its per-payer index from disk
    third = _meter(0xB1)
    with pytest.raises(VoucherNotCovered):
        restarted.admit_and_serve(*third.next(PRICE), PIXELS)
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
