"""Response receipts (issue 12): the hand-packed EIP-712 digest and coincurve signature against
eth-account's generic path; every signed field bound; malleable and malformed signatures
refused. Off chain: the module replaces the SDK suite's chain snapshot fixture."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from computerails import errors, receipts
from computerails.receipts import RECEIPT_TYPE, ReceiptSigner, ResponseReceipt, check_for_payer
from computerails.vouchers import UINT64_MAX, VoucherDomain
from tests.support.signatures import SECP256K1_N, high_s_twin

ESCROW = "0x" + "e5" * 20
CHAIN_ID = 31337
PROVIDER_KEY = b"\x33" * 32
PROVIDER = Account.from_key(PROVIDER_KEY).address
PAYER = to_checksum_address("0x" + "a1" * 20)
TOKEN = to_checksum_address("0x" + "7e" * 20)

ADDRESSES = st.binary(min_size=20, max_size=20).map(to_checksum_address)
WORDS = st.binary(min_size=32, max_size=32)
KEYS = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))
domains = st.builds(VoucherDomain, chain_id=st.integers(1, 2**64), escrow=ADDRESSES)


def receipts_for(provider: st.SearchStrategy[str]) -> st.SearchStrategy[ResponseReceipt]:
    return st.builds(
        ResponseReceipt,
        payer=ADDRESSES,
        provider=provider,
        token=ADDRESSES,
        collection_id=WORDS,
        request_index=st.integers(0, UINT64_MAX),
        request_hash=WORDS,
        response_hash=WORDS,
        units=st.integers(0, UINT64_MAX),
    )


@pytest.fixture(autouse=True)
def _revert_chain():
    """Overrides the SDK suite's snapshot fixture: nothing here touches a chain."""
    yield


@pytest.fixture
def domain() -> VoucherDomain:
    return VoucherDomain(CHAIN_ID, ESCROW)


@pytest.fixture
def signer(domain) -> ReceiptSigner:
    return ReceiptSigner(domain, PROVIDER_KEY)


def _receipt(**overrides) -> ResponseReceipt:
    fields = {
        "payer": PAYER,
        "provider": PROVIDER,
        "token": TOKEN,
        "collection_id": "0x" + "c0" * 32,
        "request_index": 7,
        "request_hash": "0x" + "1e" * 32,
        "response_hash": "0x" + "2e" * 32,
        "units": 1,
    }
    return ResponseReceipt(**(fields | overrides))


def _signable(domain: VoucherDomain, receipt: ResponseReceipt):
    return encode_typed_data(full_message=receipts.typed_data(domain, receipt))


def test_type_string__as_the_contract_will_verify__exact():
    assert RECEIPT_TYPE == (
        "ResponseReceipt(address payer,address provider,address token,bytes32 collectionId,uint64 requestIndex,"
        "bytes32 requestHash,bytes32 responseHash,uint64 units)"
    )
    assert receipts.RECEIPT_TYPEHASH == keccak(text=RECEIPT_TYPE)


@settings(max_examples=60, deadline=None)
@given(domain=domains, receipt=receipts_for(ADDRESSES))
def test_digest__generated_receipts__equals_eth_account_encode_typed_data(domain, receipt):
    signable = _signable(domain, receipt)
    assert receipts.digest(domain, receipt) == keccak(b"\x19" + signable.version + signable.header + signable.body)


@settings(max_examples=40, deadline=None)
@given(domain=domains, key=KEYS, data=st.data())
def test_signature__generated_receipts__equals_eth_account_sign_message(domain, key, data):
    address = Account.from_key(key).address
    receipt = data.draw(receipts_for(st.just(address)))
    ours = ReceiptSigner(domain, key)
    signable = _signable(domain, receipt)
    signature = ours.sign(receipt)
    theirs = bytes(Account.sign_message(signable, key).signature)

    assert ours.address == address
    assert signature == theirs  # both RFC 6979: the same deterministic nonce, low s
    assert int.from_bytes(signature[32:64], "big") <= SECP256K1_N // 2 and signature[64] in (27, 28)
    assert Account.recover_message(signable, signature=signature) == address
    assert receipts.recover(domain, receipt, signature) == address
    assert receipts.verify(domain, receipt, signature)


TAMPERED = {
    "payer": to_checksum_address("0x" + "01" * 20),
    "provider": to_checksum_address("0x" + "02" * 20),
    "token": to_checksum_address("0x" + "03" * 20),
    "collection_id": "0x" + "c1" * 32,
    "request_index": 8,
    "request_hash": "0x" + "1f" * 32,
    "response_hash": "0x" + "2f" * 32,
    "units": 2,
}


@pytest.mark.parametrize("field", sorted(TAMPERED))
def test_recover__any_signed_field_tampered__another_address(domain, signer, field):
    receipt = _receipt()
    signature = signer.sign(receipt)
    tampered = _receipt(**{field: TAMPERED[field]})

    assert receipts.recover(domain, receipt, signature) == PROVIDER
    assert receipts.recover(domain, tampered, signature) != PROVIDER
    assert not receipts.verify(domain, tampered, signature)


@pytest.mark.parametrize("other", [VoucherDomain(CHAIN_ID + 1, ESCROW), VoucherDomain(CHAIN_ID, "0x" + "e6" * 20)])
def test_recover__signed_for_another_chain_or_escrow__another_address(signer, other):
    receipt = _receipt()
    signature = signer.sign(receipt)
    assert receipts.recover(other, receipt, signature) != PROVIDER
    assert not receipts.verify(other, receipt, signature)


def test_recover__high_s_twin__refused(domain, signer):
    receipt = _receipt()
    twin = high_s_twin(signer.sign(receipt))

    assert Account.recover_message(_signable(domain, receipt), signature=twin) == PROVIDER  # plain secp256k1 accepts
    assert not receipts.verify(domain, receipt, twin)
    with pytest.raises(errors.InvalidReceiptSignature, match="upper half") as info:
        receipts.recover(domain, receipt, twin)
    assert info.value.collection_id == receipt.collection_id
    assert isinstance(info.value, errors.InvalidSignatures)


@pytest.mark.parametrize(
    ("mangle", "match"),
    [
        (lambda s: s[:64] + bytes([1]), "receipt signature v is 1"),
        (lambda s: s + b"\x00", "receipt signature is 66 bytes"),
        (lambda s: bytes(64) + s[64:], "recovers no key"),
    ],
)
def test_recover__malformed_signature__invalid_receipt_signature(domain, signer, mangle, match):
    receipt = _receipt()
    bad = mangle(signer.sign(receipt))
    with pytest.raises(errors.InvalidReceiptSignature, match=match):
        receipts.recover(domain, receipt, bad)
    assert not receipts.verify(domain, receipt, bad)


def test_verify__signed_by_another_key__false(domain):
    receipt = _receipt()
    stranger = ReceiptSigner(domain, b"\x44" * 32)
    with pytest.raises(errors.InvalidReceipt, match="a provider signs only its own receipts"):
        stranger.sign(receipt)
    forged = stranger.sign(_receipt(provider=stranger.address))  # a valid signature, over another provider
    assert not receipts.verify(domain, receipt, forged)


@pytest.mark.parametrize(
    "overrides",
    [
        {"provider": "0x" + "zz" * 20},
        {"collection_id": b"\x01" * 31},
        {"request_hash": "0xnothex"},
        {"request_index": UINT64_MAX + 1},
        {"units": -1},
    ],
)
def test_receipt__malformed_field__invalid_receipt(overrides):
    with pytest.raises(errors.InvalidReceipt, match="invalid response receipt"):
        _receipt(**overrides)


def test_signer__not_a_key__invalid_key(domain):
    with pytest.raises(errors.InvalidKey, match="receipt signer key"):
        ReceiptSigner(domain, bytes(32))


# ───────────────────────── the payer's check ─────────────────────────


def _paid_request():
    """A voucher for request 3 of a collection and the provider's matching receipt."""
    from computerails.vouchers import Voucher

    voucher = Voucher(
        payer=PAYER,
        provider=PROVIDER,
        token=TOKEN,
        collection_id="0x" + "0c" * 32,
        value_aggregate=30,
        request_count=3,
        timestamp=1_700_000_000,
    )
    receipt = ResponseReceipt(
        payer=PAYER,
        provider=PROVIDER,
        token=TOKEN,
        collection_id=voucher.collection_id,
        request_index=3,
        request_hash="0x" + "0a" * 32,
        response_hash="0x" + "0b" * 32,
        units=1,
    )
    return voucher, receipt


@pytest.mark.parametrize(
    "field,value",
    [
        ("request_index", 2**64 - 1),  # an index chosen to dodge punishment
        ("request_index", 2),
        ("collection_id", "0x" + "0d" * 32),
        ("payer", "0x" + "99" * 20),
        ("token", "0x" + "98" * 20),
        ("request_hash", "0x" + "0e" * 32),
        ("response_hash", "0x" + "0f" * 32),
    ],
)
def test_check_for_payer__receipt_names_another_request_or_answer__invalid_receipt(domain, field, value):
    voucher, receipt = _paid_request()
    wrong = ResponseReceipt(**(receipt.model_dump() | {field: value}))
    signature = ReceiptSigner(domain, PROVIDER_KEY).sign(wrong)
    with pytest.raises(errors.InvalidReceipt, match=field):
        check_for_payer(
            domain, wrong, signature, voucher=voucher, request_hash="0x" + "0a" * 32, response_hash="0x" + "0b" * 32
        )


def test_check_for_payer__matching_receipt__accepted_other_key__refused(domain):
    voucher, receipt = _paid_request()
    good = ReceiptSigner(domain, PROVIDER_KEY).sign(receipt)
    check_for_payer(
        domain, receipt, good, voucher=voucher, request_hash="0x" + "0a" * 32, response_hash="0x" + "0b" * 32
    )
    other = bytes(Account.unsafe_sign_hash(receipts.digest(domain, receipt), b"\x44" * 32).signature)
    with pytest.raises(errors.InvalidReceiptSignature, match="not by its provider"):
        check_for_payer(
            domain, receipt, other, voucher=voucher, request_hash="0x" + "0a" * 32, response_hash="0x" + "0b" * 32
        )
