"""Vouchers (issue 12): the SDK's hand-packed EIP-712 digests and coincurve signatures against
eth-account's generic path; replays and forgeries; the payer's Meter; the provider's VoucherBook.

Everything here is off chain: the module replaces the SDK suite's chain snapshot fixture, so no
anvil starts for it. The contract's own digest is checked against these once MeteredEscrow lands.
"""

from __future__ import annotations

import json
import threading

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from computerails import errors
from computerails.vouchers import (
    DOMAIN_NAME,
    UINT64_MAX,
    UINT128_MAX,
    VOUCHER_TYPE,
    Meter,
    Voucher,
    VoucherBook,
    VoucherDomain,
    VoucherSigner,
    signed_from_json,
    signed_to_json,
)
from tests.support.signatures import SECP256K1_N, high_s_twin

ESCROW = "0x" + "e5" * 20
CHAIN_ID = 31337
PAYER_KEY = b"\x11" * 32
OTHER_KEY = b"\x22" * 32
PAYER = Account.from_key(PAYER_KEY).address
PROVIDER = to_checksum_address("0x" + "70" * 20)
TOKEN = to_checksum_address("0x" + "7e" * 20)
COLLECTION = "0x" + "c0" * 32

ADDRESSES = st.binary(min_size=20, max_size=20).map(to_checksum_address)
WORDS = st.binary(min_size=32, max_size=32)
KEYS = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))
vouchers = st.builds(
    Voucher,
    payer=ADDRESSES,
    provider=ADDRESSES,
    token=ADDRESSES,
    collection_id=WORDS,
    value_aggregate=st.integers(0, UINT128_MAX),
    request_count=st.integers(0, UINT64_MAX),
    timestamp=st.integers(0, UINT64_MAX),
    metadata=WORDS,
)
domains = st.builds(VoucherDomain, chain_id=st.integers(1, 2**64), escrow=ADDRESSES)

HYPOTHESIS = settings(max_examples=60, deadline=None)


@pytest.fixture(autouse=True)
def _revert_chain():
    """Overrides the SDK suite's snapshot fixture: nothing here touches a chain."""
    yield


@pytest.fixture
def domain() -> VoucherDomain:
    return VoucherDomain(CHAIN_ID, ESCROW)


@pytest.fixture
def signer(domain) -> VoucherSigner:
    return VoucherSigner(domain, PAYER_KEY)


def _voucher(**overrides) -> Voucher:
    fields = {
        "payer": PAYER,
        "provider": PROVIDER,
        "token": TOKEN,
        "collection_id": COLLECTION,
        "value_aggregate": 1_000,
        "request_count": 10,
        "timestamp": 1_700_000_000,
        "metadata": "0x" + "4d" * 32,
    }
    return Voucher(**(fields | overrides))


def _eth_account_digest(domain: VoucherDomain, voucher: Voucher) -> bytes:
    signable = encode_typed_data(full_message=domain.typed_data(voucher))
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


# ───────────────────────────── encoding and signatures ─────────────────────────────


def test_type_strings__as_the_contract_declares__exact():
    assert VOUCHER_TYPE == (
        "Voucher(address payer,address provider,address token,bytes32 collectionId,uint128 valueAggregate,"
        "uint64 requestCount,uint64 timestamp,bytes32 metadata)"
    )
    assert DOMAIN_NAME == "ComputeRails MeteredEscrow"


@HYPOTHESIS
@given(domain=domains, voucher=vouchers)
def test_digest__generated_vouchers__equals_eth_account_encode_typed_data(domain, voucher):
    assert domain.digest(voucher) == _eth_account_digest(domain, voucher)


@HYPOTHESIS
@given(domain=domains, voucher=vouchers, key=KEYS)
def test_signature__generated_vouchers__verifies_both_ways_and_recovers_the_same_address(domain, voucher, key):
    ours = VoucherSigner(domain, key)
    signable = encode_typed_data(full_message=domain.typed_data(voucher))
    signature = ours.sign(voucher)
    theirs = bytes(Account.sign_message(signable, key).signature)

    address = Account.from_key(key).address
    assert ours.address == address
    assert int.from_bytes(signature[32:64], "big") <= SECP256K1_N // 2 and signature[64] in (27, 28)
    assert Account.recover_message(signable, signature=signature) == address  # ours, checked by eth-account
    assert domain.recover(voucher, theirs) == address  # eth-account's, checked by ours
    assert domain.verify(voucher, theirs, address) and domain.verify(voucher, signature, address)
    assert signature == theirs  # both RFC 6979: the same deterministic nonce


CHANGES = {
    "payer": to_checksum_address("0x" + "01" * 20),
    "provider": to_checksum_address("0x" + "02" * 20),
    "token": to_checksum_address("0x" + "03" * 20),
    "collection_id": "0x" + "c1" * 32,
    "value_aggregate": 1_001,
    "request_count": 11,
    "timestamp": 1_700_000_001,
    "metadata": "0x" + "4e" * 32,
}


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_verify__any_signed_field_changed__fails(domain, signer, field):
    voucher = _voucher()
    signature = signer.sign(voucher)
    forged = _voucher(**{field: CHANGES[field]})

    assert domain.verify(voucher, signature, PAYER)
    assert not domain.verify(forged, signature, PAYER)
    assert domain.recover(forged, signature) != PAYER


@pytest.mark.parametrize("other", [VoucherDomain(CHAIN_ID + 1, ESCROW), VoucherDomain(CHAIN_ID, "0x" + "e6" * 20)])
def test_verify__signed_for_another_chain_or_escrow__fails(signer, other):
    voucher = _voucher()
    assert not other.verify(voucher, signer.sign(voucher), PAYER)


def test_verify__high_s_twin__refused(domain, signer):
    voucher = _voucher()
    twin = high_s_twin(signer.sign(voucher))

    assert Account.recover_message(encode_typed_data(full_message=domain.typed_data(voucher)), signature=twin) == PAYER
    assert not domain.verify(voucher, twin, PAYER)
    with pytest.raises(errors.InvalidVoucherSignature, match="upper half"):
        domain.recover(voucher, twin)


@pytest.mark.parametrize(
    ("mangle", "match"),
    [
        (lambda s: s[:64] + bytes([0]), "v is 0"),
        (lambda s: s[:64] + bytes([29]), "v is 29"),
        (lambda s: s[:64], "64 bytes"),
        (lambda s: bytes(64) + s[64:], "recovers no key"),
    ],
)
def test_recover__malformed_signature__typed_error_and_verify_false(domain, signer, mangle, match):
    voucher = _voucher()
    bad = mangle(signer.sign(voucher))
    with pytest.raises(errors.InvalidVoucherSignature, match=match):
        domain.recover(voucher, bad)
    assert not domain.verify(voucher, bad, PAYER)


@pytest.mark.parametrize(
    "overrides",
    [
        {"payer": "0x" + "zz" * 20},
        {"payer": PAYER[:2] + PAYER[2:].swapcase()},  # mixed case with a wrong EIP-55 checksum
        {"collection_id": b"\x01" * 31},
        {"metadata": "0xnothex"},
        {"value_aggregate": UINT128_MAX + 1},
        {"value_aggregate": -1},
        {"request_count": UINT64_MAX + 1},
        {"timestamp": -1},
    ],
)
def test_voucher__malformed_field__invalid_voucher(overrides):
    with pytest.raises(errors.InvalidVoucher):
        _voucher(**overrides)


@HYPOTHESIS
@given(voucher=vouchers)
def test_voucher__json_round_trip__equal(voucher):
    assert Voucher.model_validate_json(voucher.model_dump_json()) == voucher


def test_voucher__lower_case_addresses__checksummed():
    assert _voucher(payer=PAYER.lower()).payer == PAYER


def test_signer__bad_key__invalid_key(domain):
    with pytest.raises(errors.InvalidKey):
        VoucherSigner(domain, b"\x00" * 32)
    assert "11" * 8 not in repr(VoucherSigner(domain, PAYER_KEY))


# ───────────────────────────── the payer's meter ─────────────────────────────


def _meter(signer, budget=1_000, **kwargs) -> Meter:
    return Meter(signer, payer=PAYER, provider=PROVIDER, token=TOKEN, budget=budget, collection_id=COLLECTION, **kwargs)


def test_meter_next__successive_requests__cumulative_and_signed(domain, signer):
    meter = _meter(signer, clock=lambda: 42)
    first, sig1 = meter.next(100, metadata=b"\x01" * 32)
    second, sig2 = meter.next(250)

    assert (first.value_aggregate, first.request_count, first.timestamp) == (100, 1, 42)
    assert (second.value_aggregate, second.request_count) == (350, 2)
    assert first.metadata == "0x" + "01" * 32 and second.collection_id == COLLECTION
    assert domain.verify(first, sig1, PAYER) and domain.verify(second, sig2, PAYER)
    assert (meter.value_aggregate, meter.request_count, meter.remaining) == (350, 2, 650)


def test_meter_next__past_the_budget__budget_exceeded_and_nothing_signed(signer):
    meter = _meter(signer, budget=300)
    meter.next(200)
    with pytest.raises(errors.BudgetExceeded) as refused:
        meter.next(101)

    assert (refused.value.budget, refused.value.value_aggregate, refused.value.value) == (300, 200, 101)
    assert (meter.value_aggregate, meter.request_count) == (200, 1)
    voucher, _ = meter.next(100)  # exactly up to the cap is allowed
    assert voucher.value_aggregate == 300


def test_meter_raise_budget__below_what_is_signed__refused(signer):
    meter = _meter(signer, budget=300)
    meter.next(200)
    with pytest.raises(errors.BudgetExceeded):
        meter.raise_budget(199)
    meter.raise_budget(500)
    assert meter.next(300)[0].value_aggregate == 500


def test_meter_next__negative_value__invalid_voucher(signer):
    with pytest.raises(errors.InvalidVoucher):
        _meter(signer).next(-1)


def test_meter__resumed__continues_from_the_given_figures(signer):
    meter = _meter(signer, value_aggregate=900, request_count=9)
    assert meter.next(50)[0].request_count == 10
    with pytest.raises(errors.BudgetExceeded):
        _meter(signer, budget=100, value_aggregate=101)


def test_meter_next__concurrent_threads__every_count_once_and_values_add_up(domain, signer):
    meter = _meter(signer, budget=10**9)
    issued: list[Voucher] = []

    def spend() -> None:
        for _ in range(50):
            issued.append(meter.next(3)[0])

    threads = [threading.Thread(target=spend) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(v.request_count for v in issued) == list(range(1, 201))
    assert {v.request_count: v.value_aggregate for v in issued} == {n: 3 * n for n in range(1, 201)}


# ───────────────────────────── the provider's book ─────────────────────────────


@pytest.fixture
def book(domain) -> VoucherBook:
    return VoucherBook(domain, PROVIDER, {PAYER: [PAYER]}, tokens=[TOKEN])


STEPS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=6),  # request count
        st.integers(min_value=0, max_value=60),  # value aggregate
        st.sampled_from([PAYER_KEY, OTHER_KEY]),  # signed by the payer, or by a key it never authorized
    ),
    min_size=1,
    max_size=12,
)


@HYPOTHESIS
@given(steps=STEPS, balance=st.integers(min_value=0, max_value=80))
def test_book_check_then_keep__any_voucher_stream__same_outcomes_as_accept(steps, balance):
    """What the agent's event loop does (check, its own write, keep) refuses and keeps exactly
    what accept does; a refused check keeps nothing."""
    domain = VoucherDomain(CHAIN_ID, ESCROW)
    signers = {key: VoucherSigner(domain, key) for key in (PAYER_KEY, OTHER_KEY)}
    accepting = VoucherBook(domain, PROVIDER, {PAYER: [PAYER]}, tokens=[TOKEN])
    checking = VoucherBook(domain, PROVIDER, {PAYER: [PAYER]}, tokens=[TOKEN])
    for count, value, key in steps:
        voucher = _voucher(request_count=count, value_aggregate=value)
        signature = signers[key].sign(voucher)
        outcome = []
        for book in (accepting, checking):
            before = book.latest(COLLECTION)
            try:
                if book is accepting:
                    book.accept(voucher, signature, escrow_balance=balance)
                else:
                    book.check(voucher, signature, escrow_balance=balance)
                    assert book.latest(COLLECTION) == before  # a check alone keeps nothing
                    book.keep(voucher, signature)
                outcome.append(None)
            except errors.ComputeRailsError as refused:
                assert book.latest(COLLECTION) == before
                outcome.append(type(refused))
        assert outcome[0] == outcome[1]
        assert accepting.latest(COLLECTION) == checking.latest(COLLECTION)
        assert accepting.collections() == checking.collections()
        assert accepting.payer_collections(PAYER, TOKEN) == checking.payer_collections(PAYER, TOKEN)


def test_book_keep__not_above_the_kept_request_count__left_as_it_was(book, signer):
    meter = _meter(signer)
    first, second = meter.next(10), meter.next(10)
    book.keep(*second)
    book.keep(*first)  # a late write of an older voucher (as the store's upsert refuses it)
    assert book.latest(COLLECTION) == second


def test_book_accept__meter_stream__keeps_the_latest(book, signer):
    meter = _meter(signer)
    for _ in range(3):
        voucher, signature = meter.next(10)
        book.accept(voucher, signature)
    assert book.latest(COLLECTION) == (voucher, signature)
    assert list(book.collections()) == [COLLECTION]


def test_book_accept__replayed__stale_voucher(book, signer):
    voucher, signature = _meter(signer).next(10)
    book.accept(voucher, signature)
    with pytest.raises(errors.StaleVoucher) as refused:
        book.accept(voucher, signature)
    assert (refused.value.field, refused.value.latest, refused.value.value) == ("request_count", 1, 1)


def test_book_accept__reordered__stale_voucher_and_latest_kept(book, signer):
    meter = _meter(signer)
    first, second = meter.next(10), meter.next(10)
    book.accept(*second)
    with pytest.raises(errors.StaleVoucher):
        book.accept(*first)
    assert book.latest(COLLECTION) == second


def test_book_accept__value_goes_down__stale_voucher(book, signer):
    book.accept(
        _voucher(value_aggregate=500, request_count=5), signer.sign(_voucher(value_aggregate=500, request_count=5))
    )
    lower = _voucher(value_aggregate=499, request_count=6)
    with pytest.raises(errors.StaleVoucher) as refused:
        book.accept(lower, signer.sign(lower))
    assert refused.value.field == "value_aggregate"


def test_book_accept__unauthorized_or_revoked_signer__invalid_signature(domain, book):
    other = VoucherSigner(domain, OTHER_KEY)
    voucher = _voucher()
    with pytest.raises(errors.InvalidVoucherSignature) as refused:
        book.accept(voucher, other.sign(voucher))
    assert refused.value.recovered == other.address

    book.authorize(PAYER, other.address)
    book.accept(voucher, other.sign(voucher))
    book.revoke(PAYER, other.address)
    later = _voucher(request_count=11)
    with pytest.raises(errors.InvalidSignatures):  # InvalidVoucherSignature is one
        book.accept(later, other.sign(later))


def test_book_accept__forged_field__invalid_signature(book, signer):
    signature = signer.sign(_voucher())
    with pytest.raises(errors.InvalidVoucherSignature):
        book.accept(_voucher(value_aggregate=10**6), signature)
    assert book.latest(COLLECTION) is None


def test_book_accept__high_s_twin__invalid_signature(book, signer):
    with pytest.raises(errors.InvalidVoucherSignature):
        book.accept(_voucher(), high_s_twin(signer.sign(_voucher())))


@pytest.mark.parametrize(
    ("field", "value"), [("provider", CHANGES["provider"]), ("token", CHANGES["token"])], ids=["provider", "token"]
)
def test_book_accept__another_provider_or_token__invalid_voucher(book, signer, field, value):
    voucher = _voucher(**{field: value})
    with pytest.raises(errors.InvalidVoucher, match=field):
        book.accept(voucher, signer.sign(voucher))


def test_book_accept__collection_reused_by_another_payer__invalid_voucher(domain, book, signer):
    other = VoucherSigner(domain, OTHER_KEY)
    book.authorize(other.address, other.address)
    book.accept(_voucher(), signer.sign(_voucher()))
    theirs = _voucher(payer=other.address, request_count=99, value_aggregate=10**6)
    with pytest.raises(errors.InvalidVoucher, match="belongs to payer"):
        book.accept(theirs, other.sign(theirs))


def test_book_accept__beyond_escrow_less_margin__not_covered(domain, signer):
    book = VoucherBook(domain, PROVIDER, {PAYER: [PAYER]}, safety_margin_bps=1_000)
    voucher = _voucher(value_aggregate=1_000)
    with pytest.raises(errors.VoucherNotCovered) as refused:
        book.accept(voucher, signer.sign(voucher), escrow_balance=1_000)
    assert (refused.value.outstanding, refused.value.cover) == (1_000, 900)

    book.accept(voucher, signer.sign(voucher), escrow_balance=1_000, collected=100)  # 900 outstanding: covered
    assert book.latest(COLLECTION) is not None


# ───────────────────────── the JSON form a payer hands over ─────────────────────────


def test_signed_json__round_trip_through_text__same_voucher_and_signature(signer):
    voucher = _voucher()
    signature = signer.sign(voucher)

    text = json.dumps(signed_to_json(voucher, signature))

    assert signed_from_json(json.loads(text)) == (voucher, signature)


@pytest.mark.parametrize(
    "data",
    [[], {"voucher": 1, "signature": "0x"}, {"voucher": {}}, {"voucher": {"payer": "0x12"}, "signature": "0x"}],
)
def test_signed_json__wrong_shape_or_field__invalid_voucher(data):
    with pytest.raises(errors.InvalidVoucher):
        signed_from_json(data)


def test_signed_json__signature_not_hex__invalid_voucher(signer):
    data = signed_to_json(_voucher(), signer.sign(_voucher())) | {"signature": "0xzz"}
    with pytest.raises(errors.InvalidVoucher, match="not hex"):
        signed_from_json(data)
