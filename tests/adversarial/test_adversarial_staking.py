"""Staking attacks: dodging slashes, over-slashing, replaying uptime reports, timing reports,
and touching another provider's unbonding queue or jail. Reports go through the hub with a
real oracle quorum; every test ends with `assert_books` (via the `books` fixture)."""

from __future__ import annotations

import pytest

from tests.support.books import STAKE, UNBONDING_DELAY, USD, Status

BPS = 10_000
PROVIDER_STAKE = 10_000 * STAKE  # what `registered_provider` stakes
UPTIME_SLASH_CAP = 500 * STAKE
RELAYER_REWARD_CAP = 10 * STAKE
STATUTE_EPOCHS = 24


def uptime_slash(slashable):
    """(requested, relayer reward, treasury share) of a below-SLA report at the defaults."""
    requested = min(slashable * 500 // BPS, UPTIME_SLASH_CAP)
    reward = min(requested * 1_000 // BPS, RELAYER_REWARD_CAP)
    return requested, reward, requested - reward


def stake_state(staking, slasher, accounts, reports=()):
    return (
        [tuple(staking.providerInfo(a)) for a in accounts],
        [staking.claimable(a) for a in accounts],
        (staking.totalStaked(), staking.totalUnbonding(), staking.totalClaimable()),
        [slasher.isReported(p, e) for p, e in reports],
    )


# ─────────────────────────── dodging a slash ───────────────────────────


def test_unbond_front_run__provider_unbonds_all_then_report_at_statute_edge__unbonding_slashed(
    protocol, staking, slasher, registered_provider, relayer, treasury, books
):
    # The provider knows it missed the SLA in `epoch` and moves everything into unbonding at
    # once. The report arrives as late as the statute allows; the unbonding delay (7 days)
    # outlasts the statute (24 hours), so the stake is still there to slash.
    provider = registered_provider
    protocol.warp_past_sla_start(provider)
    epoch = protocol.finish_epoch()
    staking.requestUnbond(PROVIDER_STAKE, sender=provider)
    unbonding_end = staking.providerInfo(provider).unbondingEnd
    protocol.warp_to(slasher.epochStart(epoch + STATUTE_EPOCHS))
    protocol.chain.mine()
    assert slasher.currentEpoch() == epoch + STATUTE_EPOCHS
    requested, reward, to_treasury = uptime_slash(PROVIDER_STAKE)

    receipt = protocol.report_uptime(provider, epoch, 0, sender=relayer)

    assert receipt.timestamp < unbonding_end
    assert receipt.events.filter(staking.ProviderSlashed) == [
        staking.ProviderSlashed(
            provider=provider.address,
            beneficiary=relayer.address,
            requested=requested,
            fromFree=0,
            fromUnbonding=requested,
            deferred=0,
            beneficiaryAmount=reward,
            treasuryAmount=to_treasury,
        )
    ]
    info = staking.providerInfo(provider)
    assert (info.staked, info.unbonding, info.jailed) == (0, PROVIDER_STAKE - requested, True)
    assert (staking.claimable(relayer), staking.claimable(treasury)) == (reward, to_treasury)
    books()
    # What is left of the unbond is paid out after the delay, not a token more.
    protocol.warp_to(unbonding_end)
    staking.withdrawUnbonded(sender=provider)
    assert protocol.stake_token.balanceOf(provider) == PROVIDER_STAKE - requested
    books()


def test_unbond_front_run__locked_collateral__cannot_be_unbonded(
    reverts, protocol, staking, slasher, client, registered_provider, books
):
    provider = registered_provider
    job = protocol.accepted_job(client, provider)
    collateral = protocol.escrow.job(job).collateral
    before = stake_state(staking, slasher, [provider])

    with reverts(staking.InsufficientFreeStake, free=PROVIDER_STAKE - collateral, requested=PROVIDER_STAKE):
        staking.requestUnbond(PROVIDER_STAKE, sender=provider)

    assert stake_state(staking, slasher, [provider]) == before
    # The free part may go; the collateral stays and is slashed in full on failure.
    staking.requestUnbond(PROVIDER_STAKE - collateral, sender=provider)
    receipt = protocol.attest(job, success=False, units=0)
    assert receipt.events.filter(protocol.escrow.JobRefunded)[0].collateralSlashed == collateral
    books()


# ─────────────────────────── over-slashing ───────────────────────────


def test_over_slash__uptime_slash_when_all_stake_is_locked__collateral_kept_whole_shortfall_owed(
    reverts, protocol, staking, escrow, slasher, client, registered_provider, relayer, treasury, books
):
    """Regression (issue 9, item 1): two jobs lock all 10,000 stake tokens and an uptime slash of
    500 arrives. It used to be paid out of the jobs' collateral (and the second failed job's
    client got 4,500 instead of 5,000 to share). Now the slash cannot touch locked stake: it is
    owed as a shortfall, both failed jobs give their clients exactly their share, and the
    provider cannot leave until it pays."""
    provider = registered_provider
    protocol.warp_past_sla_start(provider)
    big = {"unit_price": 100 * USD, "max_units": 100}  # 10,000 USD escrow -> 5,000 stake collateral
    jobs = [protocol.accepted_job(client, provider, **big) for _ in range(2)]
    collateral = escrow.job(jobs[0]).collateral
    assert collateral == 5_000 * STAKE
    assert staking.providerInfo(provider).free == 0
    epoch = protocol.finish_epoch()
    receipt = protocol.report_uptime(provider, epoch, 0, sender=relayer)
    uptime_requested, _, _ = uptime_slash(PROVIDER_STAKE)
    assert receipt.events.filter(staking.ProviderSlashed)[0].deferred == uptime_requested
    info = staking.providerInfo(provider)
    assert (info.staked, info.locked, info.shortfall) == (PROVIDER_STAKE, PROVIDER_STAKE, uptime_requested)

    protocol.attest(jobs[0], success=False, units=0)
    receipt = protocol.attest(jobs[1], success=False, units=0)

    assert receipt.events.filter(staking.CollateralSlashed) == [
        staking.CollateralSlashed(
            provider=provider.address,
            beneficiary=client.address,
            amount=collateral,
            beneficiaryAmount=collateral // 2,
            treasuryAmount=collateral - collateral // 2,
        )
    ]
    assert receipt.events.filter(escrow.JobRefunded) == [
        escrow.JobRefunded(
            jobId=jobs[1],
            client=client.address,
            status=Status.FAILED,
            refund=10_000 * USD,
            collateralSlashed=collateral,
            clientCollateralShare=collateral // 2,
        )
    ]
    info = staking.providerInfo(provider)
    assert (info.staked, info.locked, info.unbonding, info.shortfall) == (0, 0, 0, uptime_requested)
    assert info.totalSlashed == PROVIDER_STAKE
    assert staking.claimable(client) == collateral  # both halves, in full
    assert staking.claimable(relayer) == 0  # nothing was taken at report time: no reward was earned
    assert staking.claimable(client) + staking.claimable(treasury) == PROVIDER_STAKE
    assert escrow.claimable(client, protocol.usd) == 20_000 * USD
    books()
    # the shortfall is still owed: no exit, no unjail until a top-up pays it (to the treasury)
    with reverts(staking.ShortfallOutstanding, provider=provider, shortfall=uptime_requested):
        staking.unjail(sender=provider)
    protocol.fund_stake(provider, 2_000 * STAKE)
    staking.addStake(2_000 * STAKE, sender=provider)
    assert staking.providerInfo(provider).shortfall == 0
    assert staking.claimable(treasury) == PROVIDER_STAKE - collateral + uptime_requested
    staking.requestUnbond(2_000 * STAKE - uptime_requested, sender=provider)
    books()


# ─────────────────────────── replaying uptime reports ───────────────────────────


@pytest.mark.parametrize(
    "uptime, who",
    [
        pytest.param(0, "relayer", id="identical-replay"),
        pytest.param(0, "attacker", id="same-report-other-relayer"),
        pytest.param(1_000, "relayer", id="reworded-uptime-same-epoch"),
    ],
)
def test_replay__second_report_for_same_provider_epoch__report_already_applied_no_second_slash(
    reverts, protocol, staking, slasher, registered_provider, relayer, attacker, treasury, books, uptime, who
):
    provider = registered_provider
    protocol.warp_past_sla_start(provider)
    epoch = protocol.finish_epoch()
    protocol.report_uptime(provider, epoch, 0, sender=relayer)
    parties = [provider, relayer, attacker, treasury]
    before = stake_state(staking, slasher, parties, [(provider, epoch)])

    with reverts(slasher.ReportAlreadyApplied, provider=provider, epoch=epoch):
        protocol.report_uptime(provider, epoch, uptime, sender={"relayer": relayer, "attacker": attacker}[who])

    assert stake_state(staking, slasher, parties, [(provider, epoch)]) == before
    books()


# ─────────────────────────── report timing ───────────────────────────


@pytest.mark.parametrize("which", ["current", "future", "older-than-statute"])
def test_timing__report_outside_the_reportable_epochs__named_error_no_slash(
    reverts, protocol, staking, slasher, registered_provider, attacker, books, which
):
    provider = registered_provider
    protocol.finish_epoch()
    if which == "older-than-statute":
        protocol.warp(STATUTE_EPOCHS * 3_600 + 1)  # two epochs past the statute of epoch 0
    current = slasher.currentEpoch()
    epoch = {"current": current, "future": current + 5, "older-than-statute": 0}[which]
    before = stake_state(staking, slasher, [provider, attacker], [(provider, epoch)])

    if which == "older-than-statute":
        assert epoch + STATUTE_EPOCHS < current
        deadline = slasher.reportDeadline(epoch)
        assert deadline == slasher.epochEnd(epoch) + STATUTE_EPOCHS * 3_600
        expectation = reverts(slasher.ReportWindowClosed, deadline=deadline, nowTime=protocol.now())
    else:
        expectation = reverts(slasher.EpochNotEnded, currentEpoch=current, epoch=epoch)
    with expectation:
        protocol.report_uptime(provider, epoch, 0, sender=attacker)

    assert stake_state(staking, slasher, [provider, attacker], [(provider, epoch)]) == before
    books()


# ─────────────────────────── another provider's queue and jail ───────────────────────────


def test_queue__attacker_calls_request_unbond__not_registered_provider_queue_unchanged(
    reverts, protocol, staking, slasher, registered_provider, attacker, books
):
    # requestUnbond acts on msg.sender only: there is no way to name someone else's queue, so
    # an attacker cannot push back (restart) a provider's unbonding end.
    provider = registered_provider
    staking.requestUnbond(1_000 * STAKE, sender=provider)
    protocol.warp(UNBONDING_DELAY - 60)
    before = stake_state(staking, slasher, [provider, attacker])

    with reverts(staking.NotRegistered, provider=attacker):
        staking.requestUnbond(1_000 * STAKE, sender=attacker)

    assert stake_state(staking, slasher, [provider, attacker]) == before
    # Even a registered attacker only fills its own queue.
    protocol.register(attacker, 2_000 * STAKE)
    staking.requestUnbond(1_000 * STAKE, sender=attacker)
    info = staking.providerInfo(provider)
    assert (info.unbonding, info.unbondingEnd) == (1_000 * STAKE, before[0][0][8])
    protocol.warp(60)
    receipt = staking.withdrawUnbonded(sender=provider)
    assert receipt.events.filter(staking.UnbondWithdrawn) == [
        staking.UnbondWithdrawn(provider=provider.address, amount=1_000 * STAKE)
    ]
    books()


def test_jail__attacker_calls_unjail__provider_not_jailed_for_caller_provider_stays_jailed(
    reverts, protocol, staking, slasher, registered_provider, relayer, attacker, books
):
    provider = registered_provider
    protocol.warp_past_sla_start(provider)
    epoch = protocol.finish_epoch()
    protocol.report_uptime(provider, epoch, 0, sender=relayer)
    assert staking.providerInfo(provider).jailed

    with reverts(staking.ProviderNotJailed, provider=attacker):
        staking.unjail(sender=attacker)

    assert staking.providerInfo(provider).jailed
    assert not staking.isActive(provider)
    books()
