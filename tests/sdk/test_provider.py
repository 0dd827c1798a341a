"""ProviderAPI: register, stake, unbond, withdraw, accept, unjail, claim_rewards, status."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from computerails import JobStatus, ProviderStatus, UptimeReport
from computerails.errors import NothingClaimable
from tests.support.sdk import RESULT, finish_sla_epoch, nonce_of, raises_unsent, warp


def test_register__first_stake__registered_active_with_stake(provider_rails, faucet, stk):
    faucet(provider_rails, stake=3_000)
    before = nonce_of(provider_rails)

    status = provider_rails.provider.register("ipfs://gpu-h100", "1500.5")

    assert nonce_of(provider_rails) == before + 2  # approve, register
    assert status.sla_from is not None  # the uptime SLA starts with the registration
    assert status == ProviderStatus(
        address=provider_rails.address,
        registered=True,
        jailed=False,
        jailed_for_downtime=False,
        left=False,
        active=True,
        staked=Decimal("1500.5"),
        locked=Decimal(0),
        free=Decimal("1500.5"),
        unbonding=Decimal(0),
        unbonding_end=None,
        shortfall=Decimal(0),
        sla_from=status.sla_from,
        left_at=None,
        total_slashed=Decimal(0),
        total_deposited=Decimal("1500.5"),
        metadata_uri="ipfs://gpu-h100",
        claimable={},
    )
    assert provider_rails.views.wallet(provider_rails.address, stk.address) == Decimal("1499.5")


def test_stake__registered__adds_to_active_stake(registered_provider, stk):
    status = registered_provider.provider.stake(Decimal("250.25"))

    assert (status.staked, status.free, status.total_deposited) == (Decimal("2250.25"),) * 3
    assert registered_provider.views.wallet(registered_provider.address, stk.address) == Decimal("2749.75")


def test_request_unbond__free_stake__unbonding_until_delay(registered_provider):
    status = registered_provider.provider.request_unbond(500)

    assert (status.staked, status.unbonding) == (Decimal(1_500), Decimal(500))
    assert status.unbonding_end == datetime.fromtimestamp(registered_provider.now() + 7 * 86_400, tz=timezone.utc)
    assert status.unbonding_end.tzinfo is timezone.utc


def test_withdraw_unbonded__after_delay__pays_unbonded_stake(w3, registered_provider, stk):
    registered_provider.provider.request_unbond(500)
    warp(w3, 7 * 86_400)

    payout = registered_provider.provider.withdraw_unbonded()

    assert (payout.token, payout.amount, payout.source) == (stk, Decimal(500), "staking")
    assert payout.tx_hash == registered_provider.tx.sent[-1].tx_hash
    status = registered_provider.provider.status()
    assert (status.staked, status.unbonding, status.unbonding_end) == (Decimal(1_500), Decimal(0), None)
    assert registered_provider.views.wallet(registered_provider.address, stk.address) == Decimal(3_500)


def test_accept__open_job__accepted_and_collateral_locked(make_job, registered_provider):
    job = make_job()

    accepted = registered_provider.provider.accept(job.id)

    assert (accepted.status, accepted.collateral) == (JobStatus.ACCEPTED, Decimal(5))  # 50 % of 10 mUSD
    status = registered_provider.provider.status()
    assert (status.staked, status.locked, status.free) == (Decimal(2_000), Decimal(5), Decimal(1_995))


def test_unjail__topped_up_after_failed_job__active_again(
    make_job, other_provider_rails, faucet, relayer_rails, oracle_keys
):
    provider_rails = other_provider_rails
    faucet(provider_rails, stake=1_000)
    provider_rails.provider.register("ipfs://meta", 1_000)
    job = provider_rails.provider.accept(make_job(provider=provider_rails.address).id)
    relayer_rails.oracle.attest(job.id, success=False, units=0, result_hash=RESULT, signers=oracle_keys)
    jailed = provider_rails.provider.status()
    assert (jailed.jailed, jailed.active, jailed.staked) == (True, False, Decimal(995))
    faucet(provider_rails, stake=5)
    provider_rails.provider.stake(5)

    status = provider_rails.provider.unjail()

    assert (status.jailed, status.active, status.staked, status.total_slashed) == (
        False,
        True,
        Decimal(1_000),
        Decimal(5),
    )


@pytest.fixture
def payment_and_proceeds(w3, attested_job, registered_provider, other_provider_rails, faucet, oracle_keys):
    """The registered provider's settled job payment (7.8 mUSD in the escrow) and a relayer
    reward (5 mCRS in staking: the oracles name it the relayer of another provider's slash)."""
    warp(w3, 3_600)
    registered_provider.send(registered_provider.escrow.functions.settle(attested_job.id), "settle")
    faucet(other_provider_rails, stake=1_000)
    other_provider_rails.provider.register("ipfs://other", 1_000)
    report = UptimeReport(
        provider=other_provider_rails.address,
        epoch=finish_sla_epoch(w3, registered_provider),
        uptime_bps=0,
        relayer=registered_provider.address,
    )
    registered_provider.oracle.submit_uptime_report(
        report, registered_provider.oracle.collect_signatures(report, oracle_keys)
    )


def test_claim_rewards__payment_and_slash_proceeds__both_paid_then_nothing(
    payment_and_proceeds, registered_provider, usd, stk
):
    assert registered_provider.provider.status().claimable == {"mUSD": Decimal("7.8"), "mCRS": Decimal(5)}
    stake_wallet = registered_provider.views.wallet(registered_provider.address, stk.address)

    payouts = registered_provider.provider.claim_rewards()

    # 80 units at 0.10 less the 2.5 % fee; the relayer's 10 % of a 50-token uptime slash
    assert [(p.token, p.amount, p.source) for p in payouts] == [
        (usd, Decimal("7.8"), "escrow"),
        (stk, Decimal(5), "staking"),
    ]
    assert len({p.tx_hash for p in payouts}) == 2
    assert registered_provider.views.wallet(registered_provider.address) == Decimal("7.8")
    assert registered_provider.views.wallet(registered_provider.address, stk.address) == stake_wallet + 5
    assert registered_provider.provider.claim_rewards() == []
    assert registered_provider.provider.status().claimable == {}


def test_claim__one_balance_at_a_time__paid_then_nothing_claimable_unsent(
    payment_and_proceeds, registered_provider, usd, stk
):
    escrow = registered_provider.provider.claim(usd.address)
    with raises_unsent(registered_provider, NothingClaimable, match="nothing claimable in mUSD from the escrow"):
        registered_provider.provider.claim(usd.address)
    assert registered_provider.provider.status().claimable == {"mCRS": Decimal(5)}  # the other balance stays
    staking = registered_provider.provider.claim(source="staking")

    assert (escrow.token, escrow.amount, escrow.source) == (usd, Decimal("7.8"), "escrow")
    assert (staking.token, staking.amount, staking.source) == (stk, Decimal(5), "staking")
    assert registered_provider.provider.status().claimable == {}
    with raises_unsent(registered_provider, NothingClaimable, match="from the staking"):
        registered_provider.provider.claim(source="staking")


def test_jail_reasons__failed_job_then_downtime_then_unjail__named_until_unjailed(
    w3, make_job, other_provider_rails, faucet, relayer_rails, oracle_keys
):
    rails = other_provider_rails
    faucet(rails, stake=2_000)
    rails.provider.register("ipfs://meta", 1_000)
    assert rails.provider.jail_reasons() == frozenset()
    job = rails.provider.accept(make_job(provider=rails.address).id)
    relayer_rails.oracle.attest(job.id, success=False, units=0, result_hash=RESULT, signers=oracle_keys)
    assert rails.provider.jail_reasons() == {"work"}
    report = UptimeReport(provider=rails.address, epoch=finish_sla_epoch(w3, rails), uptime_bps=0)
    relayer_rails.oracle.submit_uptime_report(report, relayer_rails.oracle.collect_signatures(report, oracle_keys))
    assert rails.provider.jail_reasons() == {"work", "downtime"}
    assert relayer_rails.provider.jail_reasons(rails.address) == {"work", "downtime"}  # anyone may ask
    rails.provider.stake(1_000)

    rails.provider.unjail()

    assert rails.provider.jail_reasons() == frozenset()


def test_status__other_address_from_readonly__same_view(registered_provider, readonly):
    assert readonly.provider.status(registered_provider.address) == registered_provider.provider.status()
    stranger = readonly.provider.status("0x" + "ab" * 20)
    assert (stranger.registered, stranger.staked, stranger.metadata_uri) == (False, Decimal(0), "")
