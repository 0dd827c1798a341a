"""The provider's side of metered payments (issue 12): vouchers verified against the escrow and
kept on disk, the collection policy's decisions (off chain, then from chain state), collect and
collect_many with typed reasons for skipped vouchers, and the claim."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from computerails import errors
from computerails.collector import CollectionPolicy, CollectionState, Trigger
from computerails.devnet import dev_key
from computerails.types import Raw
from computerails.vouchers import Voucher
from tests.support.sdk import CLIENT, OTHER_CLIENT, nonce_of, raises_unsent, warp

MUSD = 10**6
HOT_KEY = "0x" + "4b" * 32
STRANGER_KEY = "0x" + "5c" * 32
THAW_PERIOD = 3 * 86_400  # computerails/devnet/params.py "metered"
COLLECTION_INTERVAL = 3_600
FEE_BPS = 250


@pytest.fixture
def payer(client_rails, registered_provider, faucet):
    """The client with 40 mUSD in escrow for the provider (registered: each collection locks 5
    stake tokens per mUSD of its free stake)."""
    faucet(client_rails, usd=100)
    client_rails.payer.deposit(registered_provider.address, 40)
    return client_rails


@pytest.fixture
def meter(payer, provider_rails):
    """A meter signed with the payer's own key, budget 40 mUSD."""
    return payer.payer.meter(dev_key(CLIENT), provider_rails.address, 40)


@pytest.fixture
def book(provider_rails, tmp_path):
    return provider_rails.collector.open_book(tmp_path / "book.sqlite", safety_margin_bps=1_000)


# ───────────────────────── verification ─────────────────────────


def test_accept__payers_own_key__kept_and_survives_reopen(provider_rails, book, meter, tmp_path):
    provider_rails.collector.accept(book, *meter.next(Raw(MUSD)))
    latest = meter.next(Raw(MUSD))
    provider_rails.collector.accept(book, *latest)

    reopened = provider_rails.collector.open_book(tmp_path / "book.sqlite")

    assert reopened.latest(meter.collection_id) == latest


def test_accept__hot_key__refused_until_authorized_on_chain(payer, provider_rails, book):
    meter = payer.payer.meter(HOT_KEY, provider_rails.address, 40)
    first = meter.next(Raw(MUSD))
    with pytest.raises(errors.InvalidVoucherSignature, match="not a signer authorized"):
        provider_rails.collector.accept(book, *first)

    payer.payer.authorize_signer(HOT_KEY)

    assert provider_rails.collector.accept(book, *first) == first[0]


def test_accept__signer_revoked_on_chain__refused(w3, payer, provider_rails, book):
    meter = payer.payer.meter(HOT_KEY, provider_rails.address, 40)
    signer = payer.payer.authorize_signer(HOT_KEY).signer
    provider_rails.collector.accept(book, *meter.next(Raw(MUSD)))
    payer.payer.thaw_signer(signer)
    warp(w3, 2 * 86_400)
    payer.payer.revoke_signer(signer)

    with pytest.raises(errors.InvalidVoucherSignature):
        provider_rails.collector.accept(book, *meter.next(Raw(MUSD)))


def test_accept__beyond_balance_less_margin__not_covered(provider_rails, book, meter):
    with pytest.raises(errors.VoucherNotCovered) as info:
        provider_rails.collector.accept(book, *meter.next(Raw(37 * MUSD)))  # cover: 40 less 10 %

    assert (info.value.outstanding, info.value.cover) == (37 * MUSD, 36 * MUSD)
    assert book.latest(meter.collection_id) is None


def test_accept__collected_part_not_counted_again(provider_rails, book, meter):
    provider_rails.collector.collect(*meter.next(Raw(20 * MUSD)))  # 20 left in escrow, cover 18

    provider_rails.collector.accept(book, *meter.next(Raw(18 * MUSD)))  # outstanding 18

    assert book.latest(meter.collection_id)[0].value_aggregate == 38 * MUSD


# ───────────────────────── collect and claim ─────────────────────────


def test_collect__one_voucher__payment_from_event_then_claim(provider_rails, meter):
    meter.next(Raw(4 * MUSD))
    voucher, signature = meter.next(Raw(6 * MUSD))

    payment = provider_rails.collector.collect(voucher, signature)

    assert (payment.gross, payment.provider_net, payment.fee) == (10, Decimal("9.75"), Decimal("0.25"))
    assert (payment.collected, payment.outstanding, payment.request_count) == (10, 0, 2)
    wallet = provider_rails.views.wallet(provider_rails.address)
    payout = provider_rails.collector.claim()
    assert (payout.amount, payout.source) == (Decimal("9.75"), "metered")
    assert provider_rails.views.wallet(provider_rails.address) == wallet + Decimal("9.75")


def test_claim_rewards__collected_vouchers__in_views_and_claimed_with_the_rest(provider_rails, meter):
    provider_rails.collector.collect(*meter.next(Raw(8 * MUSD)))
    usd = provider_rails.views.payment_tokens()[0]

    assert provider_rails.views.claimable_raw(provider_rails.address)[usd]["metered"] == 7_800_000
    assert provider_rails.views.claimable(provider_rails.address)[usd] == Decimal("7.8")
    assert provider_rails.views.balances(provider_rails.address)[usd.symbol]["claimable"] == Decimal("7.8")
    wallet = provider_rails.views.wallet(provider_rails.address)

    payouts = provider_rails.provider.claim_rewards()

    assert [(p.token, p.amount, p.source) for p in payouts] == [(usd, Decimal("7.8"), "metered")]
    assert provider_rails.views.wallet(provider_rails.address) == wallet + Decimal("7.8")
    assert provider_rails.views.claimable(provider_rails.address)[usd] == 0
    assert provider_rails.provider.claim_rewards() == []


def test_collect__same_voucher_twice__stale_revert_unsent(provider_rails, meter):
    signed = meter.next(Raw(MUSD))
    provider_rails.collector.collect(*signed)

    with raises_unsent(provider_rails, errors.StaleVoucherRevert) as info:
        provider_rails.collector.collect(*signed)

    assert (info.value.collected, info.value.valueAggregate) == (MUSD, MUSD)


def test_collect__voucher_for_another_provider__not_allowed_unsent(payer, provider_rails):
    meter = payer.payer.meter(dev_key(CLIENT), payer.address, 1)
    with raises_unsent(provider_rails, errors.NotAllowed):
        provider_rails.collector.collect(*meter.next(Raw(1)))


def test_claim__nothing_collected__nothing_claimable_unsent(provider_rails):
    with raises_unsent(provider_rails, errors.NothingClaimable):
        provider_rails.collector.claim()


def test_collect_many__good_and_bad_vouchers__typed_reason_per_voucher(
    payer, other_client_rails, provider_rails, meter
):
    provider = provider_rails.address
    stale = meter.next(Raw(MUSD))
    good = meter.next(Raw(MUSD))
    provider_rails.collector.collect(*stale)
    stranger = payer.payer.meter(STRANGER_KEY, provider, 1)  # a key the payer never authorized
    unfunded = other_client_rails.payer.meter(dev_key(OTHER_CLIENT), provider, 1)  # no escrow at all
    forged_voucher = Voucher(**{**good[0].model_dump(), "value_aggregate": 39 * MUSD})

    outcomes = provider_rails.collector.collect_many(
        [good, stale, stranger.next(Raw(5)), unfunded.next(Raw(5)), (forged_voucher, good[1])]
    )

    assert [o.index for o in outcomes] == [0, 1, 2, 3, 4]
    assert outcomes[0].error is None and outcomes[0].payment.gross == 1
    assert [type(o.error) for o in outcomes[1:]] == [
        errors.StaleVoucherRevert,
        errors.SignerNotAuthorized,
        errors.EmptyEscrowAccount,
        errors.SignerNotAuthorized,  # a changed field recovers another key
    ]
    assert all(o.payment is None for o in outcomes[1:])
    assert outcomes[2].error.signer == Account.from_key(STRANGER_KEY).address
    assert outcomes[3].error.payer == other_client_rails.address


def test_collect_many__empty__precondition_unsent(provider_rails):
    before = nonce_of(provider_rails)
    with pytest.raises(errors.PreconditionError):
        provider_rails.collector.collect_many([])
    assert nonce_of(provider_rails) == before


# ───────────────────────── the policy, off chain ─────────────────────────

TOKEN = to_checksum_address("0x" + "7e" * 20)


def _state(value=10 * MUSD, collected=0, balance=40 * MUSD, escrow_thaw_end=None, signer_thaw_end=None, fee=FEE_BPS):
    voucher = Voucher(
        payer="0x" + "11" * 20,
        provider="0x" + "22" * 20,
        token=TOKEN,
        collection_id="0x" + "c0" * 32,
        value_aggregate=value,
        request_count=1,
        timestamp=0,
    )
    return CollectionState(
        voucher=voucher,
        signature=b"",
        signer=voucher.payer,
        collected=collected,
        fee_bps=fee,
        balance=balance,
        escrow_thaw_end=escrow_thaw_end,
        signer_thaw_end=signer_thaw_end,
    )


# 1 native coin = 3,000 mUSD; gas 42,470 at 10 gwei = 0.0004247 ETH = 1.2741 mUSD.
POLICY = CollectionPolicy(thaw_lead=COLLECTION_INTERVAL, token_per_native={TOKEN: 3_000 * MUSD})
GWEI = 10**9


def _decide(state, now=1_000_000, gas_price=10 * GWEI, **kwargs):
    (decision,) = POLICY.decide([state], now=now, gas_price=gas_price, **kwargs)
    return decision


def test_policy__gas_cost__in_token_units():
    assert _decide(_state()).gas_cost == 1_321_380


def test_policy__net_worth_the_gas__collect():
    decision = _decide(_state(value=2 * MUSD))  # net 1.95 mUSD >= 1.2741
    assert (decision.collect, decision.trigger) == (True, Trigger.WORTH_GAS)


def test_policy__net_below_the_gas__wait():
    decision = _decide(_state(value=1_300_000))  # net 1.2675 mUSD < 1.2741
    assert (decision.collect, decision.trigger) == (False, None)


def test_policy__stricter_ratio__waits_for_more_value():
    strict = replace(POLICY, min_value_per_gas=Decimal(2))
    (decision,) = strict.decide([_state(value=2 * MUSD)], now=0, gas_price=10 * GWEI)
    assert not decision.collect


def test_policy__escrow_thaw_ends_within_lead__collect_whatever_the_gas():
    now = 1_000_000
    soon = _decide(_state(value=1, escrow_thaw_end=now + COLLECTION_INTERVAL), now=now)
    later = _decide(_state(value=1, escrow_thaw_end=now + COLLECTION_INTERVAL + 1), now=now)
    assert (soon.collect, soon.trigger) == (True, Trigger.ESCROW_THAW)
    assert not later.collect


def test_policy__signer_thaw_ends_within_lead__collect():
    now = 1_000_000
    decision = _decide(_state(value=1, signer_thaw_end=now + 60), now=now)
    assert (decision.collect, decision.trigger) == (True, Trigger.SIGNER_THAW)


def test_policy__on_demand__collects_small_values():
    decision = _decide(_state(value=1), on_demand=True)
    assert (decision.collect, decision.trigger) == (True, Trigger.ON_DEMAND)


def test_policy__empty_escrow_or_nothing_outstanding__blocked_even_on_demand():
    empty = _decide(_state(balance=0), on_demand=True)
    done = _decide(_state(collected=10 * MUSD), on_demand=True)
    assert not empty.collect and "empty" in empty.blocked
    assert not done.collect and done.blocked == "nothing outstanding"


def test_policy__partly_covered__values_what_the_balance_pays():
    state = _state(value=10 * MUSD, balance=MUSD)
    assert (state.outstanding, state.payable, state.net) == (10 * MUSD, MUSD, 975_000)


def test_policy__token_without_price__only_thaws_and_demand():
    unpriced = CollectionPolicy(thaw_lead=COLLECTION_INTERVAL, token_per_native={})
    (decision,) = unpriced.decide([_state(value=10**12)], now=0, gas_price=1)
    assert (decision.collect, decision.gas_cost) == (False, None)


# ───────────────────────── the policy, from chain state ─────────────────────────


def test_plan__payer_thaw_nearly_over__due_before_it_ends(w3, payer, provider_rails, book, meter):
    provider_rails.collector.accept(book, *meter.next(Raw(1)))  # worth no gas
    policy = provider_rails.collector.policy({payer.token().address: 3_000 * MUSD})
    payer.payer.thaw(provider_rails.address, 40)

    (waiting,) = provider_rails.collector.plan(book, policy, gas_price=10 * GWEI)
    warp(w3, THAW_PERIOD - COLLECTION_INTERVAL)
    (due,) = provider_rails.collector.plan(book, policy, gas_price=10 * GWEI)

    assert policy.thaw_lead == COLLECTION_INTERVAL
    assert waiting.trigger is None and waiting.state.escrow_thaw_end is not None
    assert (due.collect, due.trigger, due.state.fee_bps) == (True, Trigger.ESCROW_THAW, FEE_BPS)


def test_collect_due__on_demand__one_collect_many_for_the_book(payer, provider_rails, book, meter):
    other = payer.payer.meter(dev_key(CLIENT), provider_rails.address, 40)
    provider_rails.collector.accept(book, *meter.next(Raw(MUSD)))
    provider_rails.collector.accept(book, *other.next(Raw(2 * MUSD)))
    policy = provider_rails.collector.policy({})
    before = nonce_of(provider_rails)

    outcomes = provider_rails.collector.collect_due(book, policy, on_demand=True)

    assert nonce_of(provider_rails) == before + 1
    assert sorted(o.payment.gross for o in outcomes) == [1, 2]
    assert provider_rails.collector.collect_due(book, policy, on_demand=True) == []  # nothing outstanding


def test_collect_due__more_than_half_a_block__split_with_running_indices(w3, payer, provider_rails, book, meter):
    other = payer.payer.meter(dev_key(CLIENT), provider_rails.address, 40)
    provider_rails.collector.accept(book, *meter.next(Raw(MUSD)))
    provider_rails.collector.accept(book, *other.next(Raw(2 * MUSD)))
    half_a_block = w3.eth.get_block("latest")["gasLimit"] // 2
    policy = replace(provider_rails.collector.policy({}), gas_per_voucher=half_a_block)  # one voucher a batch
    before = nonce_of(provider_rails)

    outcomes = provider_rails.collector.collect_due(book, policy, on_demand=True)

    assert nonce_of(provider_rails) == before + 2
    assert [o.index for o in outcomes] == [0, 1] and all(o.error is None for o in outcomes)
