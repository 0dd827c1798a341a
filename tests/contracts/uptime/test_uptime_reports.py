"""UptimeSlasher: applying quorum-signed uptime reports relayed through the AttestationHub, and
when the SLA applies (registration, leaving, downtime jail and unjail)."""

import pytest

from tests.support.protocol import STAKE
from tests.support.reverts import reverts
from tests.support.staking import BPS, PROVIDER_STAKE
from tests.support.uptime import (
    EPOCH_LENGTH,
    RELAYER_REWARD_CAP,
    SLA_BPS,
    STATUTE_EPOCHS,
    UPTIME_SLASH_CAP,
)


def expected_slash(slashable: int) -> tuple[int, int, int]:
    """(requested, relayer reward, treasury share) for a below-SLA report at the defaults."""
    requested = min(slashable * 500 // BPS, UPTIME_SLASH_CAP)
    reward = min(requested * 1_000 // BPS, RELAYER_REWARD_CAP)
    return requested, reward, requested - reward


# ─────────────────────────────── below the SLA ───────────────────────────────


def test_report__below_sla__slashes_pays_relayer_capped_and_jails(
    protocol, staking, slasher, provider, relayer, treasury, check_books
):
    protocol.register(provider, 4_000 * STAKE)
    protocol.warp_past_sla_start(provider)
    epoch = protocol.finish_epoch()
    requested, reward, to_treasury = expected_slash(4_000 * STAKE)
    assert (requested, reward, to_treasury) == (200 * STAKE, 10 * STAKE, 190 * STAKE)  # 20 capped at 10

    receipt = protocol.report_uptime(provider, epoch, 9_000, sender=relayer)

    assert receipt.events.filter(slasher.UptimeReported) == [
        slasher.UptimeReported(
            provider=provider.address,
            epoch=epoch,
            relayer=relayer.address,
            uptimeBps=9_000,
            slashRequested=requested,
            slashed=requested,
            relayerReward=reward,
        )
    ]
    assert receipt.events.filter(staking.ProviderSlashed) == [
        staking.ProviderSlashed(
            provider=provider.address,
            beneficiary=relayer.address,
            requested=requested,
            fromFree=requested,
            fromUnbonding=0,
            deferred=0,
            beneficiaryAmount=reward,
            treasuryAmount=to_treasury,
        )
    ]
    assert receipt.events.filter(staking.ProviderJailed) == [
        staking.ProviderJailed(provider=provider.address, forDowntime=True)
    ]
    assert staking.stakeOf(provider) == 3_800 * STAKE
    assert staking.claimable(relayer) == reward
    assert staking.claimable(treasury) == to_treasury
    assert staking.providerInfo(provider).jailed and not staking.isActive(provider)
    assert slasher.isReported(provider, epoch)
    check_books()


def test_report__small_stake__relayer_gets_bps_share_under_cap(protocol, staking, slasher, provider, relayer, treasury):
    protocol.register(provider, 1_000 * STAKE)
    protocol.warp_past_sla_start(provider)
    epoch = protocol.finish_epoch()

    receipt = protocol.report_uptime(provider, epoch, 0, sender=relayer)

    event = receipt.events.filter(slasher.UptimeReported)[0]
    assert (event.slashRequested, event.slashed, event.relayerReward) == (50 * STAKE, 50 * STAKE, 5 * STAKE)
    assert staking.claimable(relayer) == 5 * STAKE  # 10% of 50, under the 10-token cap
    assert staking.claimable(treasury) == 45 * STAKE


def test_report__large_stake__slash_capped_by_uptime_slash_cap(
    protocol, staking, slasher, provider, relayer, treasury, check_books
):
    protocol.register(provider, 20_000 * STAKE)
    protocol.warp_past_sla_start(provider)
    epoch = protocol.finish_epoch()

    receipt = protocol.report_uptime(provider, epoch, 5_000, sender=relayer)

    event = receipt.events.filter(slasher.UptimeReported)[0]
    assert (event.slashRequested, event.slashed) == (UPTIME_SLASH_CAP, UPTIME_SLASH_CAP)  # 5% of 20,000 = 1,000 > cap
    assert event.relayerReward == RELAYER_REWARD_CAP
    assert staking.stakeOf(provider) == 20_000 * STAKE - UPTIME_SLASH_CAP
    assert staking.claimable(treasury) == UPTIME_SLASH_CAP - RELAYER_REWARD_CAP
    check_books()


def test_report__slash_base_includes_unbonding_stake(
    protocol, staking, slasher, registered_provider, relayer, check_books
):
    staking.requestUnbond(9_000 * STAKE, sender=registered_provider)  # staked 1,000 + unbonding 9,000
    epoch = protocol.finish_epoch()

    receipt = protocol.report_uptime(registered_provider, epoch, 9_499, sender=relayer)

    assert receipt.events.filter(slasher.UptimeReported)[0].slashRequested == 500 * STAKE  # 5% of 10,000
    event = receipt.events.filter(staking.ProviderSlashed)[0]
    assert (event.fromFree, event.fromUnbonding) == (500 * STAKE, 0)  # free stake first
    check_books()


def test_report__provider_unbonded_everything__slashes_unbonding_stake(
    protocol, staking, stake_token, slasher, registered_provider, relayer, check_books
):
    staking.requestUnbond(PROVIDER_STAKE, sender=registered_provider)
    assert staking.stakeOf(registered_provider) == 0
    epoch = protocol.finish_epoch()

    receipt = protocol.report_uptime(registered_provider, epoch, 1_000, sender=relayer)

    event = receipt.events.filter(staking.ProviderSlashed)[0]
    assert (event.requested, event.fromFree, event.fromUnbonding, event.deferred) == (500 * STAKE, 0, 500 * STAKE, 0)
    assert receipt.events.filter(slasher.UptimeReported)[0].slashed == 500 * STAKE
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.unbonding, info.jailed) == (0, 9_500 * STAKE, True)
    check_books()

    protocol.warp_to(info.unbondingEnd)
    staking.withdrawUnbonded(sender=registered_provider)
    assert stake_token.balanceOf(registered_provider) == 9_500 * STAKE
    check_books()


def test_report__provider_withdrew_everything__reports_zero_slash_without_revert(
    protocol, staking, slasher, registered_provider, relayer
):
    staking.requestUnbond(PROVIDER_STAKE, sender=registered_provider)
    protocol.warp(staking.unbondingDelay())
    staking.withdrawUnbonded(sender=registered_provider)
    epoch = protocol.finish_epoch()

    receipt = protocol.report_uptime(registered_provider, epoch, 0, sender=relayer)

    event = receipt.events.filter(slasher.UptimeReported)[0]
    assert (event.slashRequested, event.slashed, event.relayerReward) == (0, 0, 0)
    assert receipt.events.filter(staking.ProviderJailed) == []  # nothing requested: not jailed
    assert slasher.isReported(registered_provider, epoch)


def test_report__jailed_for_downtime__later_epochs_not_slashed_again__sla_not_in_force(
    protocol, staking, slasher, registered_provider, relayer, treasury, check_books
):
    """Regression (issue 9, item 6): a provider jailed for downtime is not slashed for downtime
    again while it stays jailed (today it lost 5% every epoch until it could withdraw)."""
    first = protocol.finish_epoch()
    protocol.report_uptime(registered_provider, first, 0, sender=relayer)
    later = [protocol.finish_epoch() for _ in range(3)]
    before = (staking.stakeOf(registered_provider), staking.claimable(treasury), staking.claimable(relayer))

    for epoch in later:
        with reverts(slasher.SlaNotInForce, provider=registered_provider.address, epoch=epoch):
            protocol.report_uptime(registered_provider, epoch, 0, sender=relayer)

    assert (staking.stakeOf(registered_provider), staking.claimable(treasury), staking.claimable(relayer)) == before
    assert staking.stakeOf(registered_provider) == PROVIDER_STAKE - 500 * STAKE
    check_books()


def test_report__unjailed_after_downtime__sla_resumes_next_epoch_repeat_miss_slashed(
    protocol, staking, slasher, registered_provider, relayer, check_books
):
    first = protocol.finish_epoch()
    protocol.report_uptime(registered_provider, first, 0, sender=relayer)
    jailed_through = protocol.finish_epoch()  # a whole epoch spent jailed
    protocol.warp(EPOCH_LENGTH // 3)
    receipt = staking.unjail(sender=registered_provider)
    unjail_epoch = slasher.currentEpoch()
    assert staking.providerInfo(registered_provider).slaFrom == receipt.timestamp

    protocol.finish_epoch()
    # neither the epochs it spent jailed, reported after the unjail, nor the epoch it unjailed in
    for epoch in (jailed_through, unjail_epoch):
        with reverts(slasher.SlaNotInForce, provider=registered_provider.address, epoch=epoch):
            protocol.report_uptime(registered_provider, epoch, 0, sender=relayer)
    next_epoch = protocol.finish_epoch()
    assert next_epoch == unjail_epoch + 1
    # the next epoch is under the SLA again: a repeat miss is slashed and jails again
    receipt = protocol.report_uptime(registered_provider, next_epoch, 0, sender=relayer)
    assert receipt.events.filter(slasher.UptimeReported)[0].slashed == 475 * STAKE  # 5% of the remaining 9,500
    assert receipt.events.filter(staking.ProviderJailed) == [
        staking.ProviderJailed(provider=registered_provider.address, forDowntime=True)
    ]
    check_books()


def test_report__jailed_for_a_failed_job__downtime_still_slashed(
    protocol, staking, escrow, slasher, client, registered_provider, relayer, check_books
):
    """Only a downtime jail suspends the SLA: failing a cheap job must not buy an exemption."""
    epoch = protocol.finish_epoch()
    job = protocol.accepted_job(client, registered_provider)
    protocol.attest(job, success=False, units=0)
    assert staking.providerInfo(registered_provider).jailed

    receipt = protocol.report_uptime(registered_provider, epoch, 0, sender=relayer)

    assert receipt.events.filter(slasher.UptimeReported)[0].slashed > 0
    check_books()


def test_report__epoch_started_before_registration__sla_not_in_force(protocol, staking, slasher, provider, relayer):
    protocol.finish_epoch()
    protocol.warp(EPOCH_LENGTH // 2)
    protocol.register(provider, 2_000 * STAKE)
    epoch = protocol.finish_epoch()  # registered halfway through it

    with reverts(slasher.SlaNotInForce, provider=provider.address, epoch=epoch):
        protocol.report_uptime(provider, epoch, 0, sender=relayer)

    assert staking.stakeOf(provider) == 2_000 * STAKE
    protocol.report_uptime(provider, protocol.finish_epoch(), 0, sender=relayer)  # the next one is
    assert staking.stakeOf(provider) == 1_900 * STAKE


def test_report__provider_left__sla_ends_with_the_epoch_it_left_in(
    protocol, staking, slasher, registered_provider, relayer, check_books
):
    """Regression (issue 9, item 6): a leaving provider is no longer slashed every epoch until
    its withdrawal, but misses before it left stay slashable within the reporting window."""
    before_leaving = protocol.finish_epoch()
    protocol.warp(EPOCH_LENGTH // 2)
    staking.leave(sender=registered_provider)
    left_in = slasher.currentEpoch()
    staking.requestUnbond(PROVIDER_STAKE, sender=registered_provider)
    after = [protocol.finish_epoch() for _ in range(3)]
    assert after[0] == left_in

    for epoch in after[1:]:  # epochs that started after it left: no SLA
        with reverts(slasher.SlaNotInForce, provider=registered_provider.address, epoch=epoch):
            protocol.report_uptime(registered_provider, epoch, 0, sender=relayer)
    # the epoch it left in, and the one before, are still under the SLA
    receipt = protocol.report_uptime(registered_provider, before_leaving, 0, sender=relayer)
    assert receipt.events.filter(staking.ProviderSlashed)[0].fromUnbonding == 500 * STAKE
    check_books()


def test_report__miss_in_the_epoch_it_left__slashable(protocol, staking, slasher, registered_provider, relayer):
    protocol.warp(EPOCH_LENGTH // 2)
    staking.leave(sender=registered_provider)
    left_in = protocol.finish_epoch()

    receipt = protocol.report_uptime(registered_provider, left_in, 0, sender=relayer)

    assert receipt.events.filter(slasher.UptimeReported)[0].slashed == 500 * STAKE


# ─────────────────────────────── at or above the SLA ───────────────────────────────


@pytest.mark.parametrize("uptime", [SLA_BPS, SLA_BPS + 1, BPS])
def test_report__at_or_above_sla__no_slash_but_marked(
    protocol, staking, slasher, registered_provider, relayer, check_books, uptime
):
    epoch = protocol.finish_epoch()

    receipt = protocol.report_uptime(registered_provider, epoch, uptime, sender=relayer)

    assert receipt.events.filter(slasher.UptimeReported) == [
        slasher.UptimeReported(
            provider=registered_provider.address,
            epoch=epoch,
            relayer=relayer.address,
            uptimeBps=uptime,
            slashRequested=0,
            slashed=0,
            relayerReward=0,
        )
    ]
    assert receipt.events.filter(staking.ProviderSlashed) == []
    assert slasher.isReported(registered_provider, epoch)
    assert staking.isActive(registered_provider)
    assert staking.stakeOf(registered_provider) == PROVIDER_STAKE
    assert staking.claimable(relayer) == 0
    check_books()


def test_report__second_report_same_provider_and_epoch__reverts_already_applied(
    protocol, staking, slasher, registered_provider, relayer
):
    epoch = protocol.finish_epoch()
    protocol.report_uptime(registered_provider, epoch, BPS, sender=relayer)  # fine, no slash

    # a second, worse report for the same epoch cannot slash afterwards
    with reverts(slasher.ReportAlreadyApplied, provider=registered_provider.address, epoch=epoch):
        protocol.report_uptime(registered_provider, epoch, 0, sender=relayer)

    assert staking.stakeOf(registered_provider) == PROVIDER_STAKE
    assert staking.isActive(registered_provider)
    assert staking.claimable(relayer) == 0


def test_report__below_sla_twice_same_epoch__slashes_once(
    protocol, staking, slasher, registered_provider, relayer, other_client
):
    epoch = protocol.finish_epoch()
    protocol.report_uptime(registered_provider, epoch, 0, sender=relayer)
    staked = staking.stakeOf(registered_provider)

    with reverts(slasher.ReportAlreadyApplied, provider=registered_provider.address, epoch=epoch):
        protocol.report_uptime(registered_provider, epoch, 0, sender=other_client)

    assert staking.stakeOf(registered_provider) == staked
    assert staking.claimable(other_client) == 0


def test_report__marks_are_per_provider_and_epoch(protocol, slasher, registered_provider, other_provider, relayer):
    protocol.register(other_provider, 2_000 * STAKE)
    protocol.warp_past_sla_start(other_provider)
    first = protocol.finish_epoch()
    second = protocol.finish_epoch()

    protocol.report_uptime(registered_provider, first, BPS, sender=relayer)

    assert slasher.isReported(registered_provider, first)
    assert not slasher.isReported(registered_provider, second)
    assert not slasher.isReported(other_provider, first)
    protocol.report_uptime(registered_provider, second, BPS, sender=relayer)
    protocol.report_uptime(other_provider, first, BPS, sender=relayer)
    assert slasher.isReported(registered_provider, second) and slasher.isReported(other_provider, first)


def test_report__epochs_across_a_bitmap_word__tracked_separately(protocol, slasher, registered_provider, relayer):
    """Marks are kept 256 epochs per word: epochs 255 and 256 sit in different words."""
    protocol.warp_to(slasher.epochStart(260))
    protocol.chain.mine()
    assert slasher.currentEpoch() == 260

    protocol.report_uptime(registered_provider, 255, BPS, sender=relayer)
    assert slasher.isReported(registered_provider, 255)
    assert not slasher.isReported(registered_provider, 256)
    assert not slasher.isReported(registered_provider, 254)  # same word as 255
    protocol.report_uptime(registered_provider, 256, BPS, sender=relayer)
    assert slasher.isReported(registered_provider, 256)
    with reverts(slasher.ReportAlreadyApplied, provider=registered_provider.address, epoch=255):
        protocol.report_uptime(registered_provider, 255, 0, sender=relayer)


# ─────────────────────────────── refused reports ───────────────────────────────


@pytest.mark.parametrize("ahead", [0, 1, 1_000])
def test_report__epoch_not_ended__reverts(protocol, staking, slasher, registered_provider, relayer, ahead):
    protocol.finish_epoch()
    current = slasher.currentEpoch()

    with reverts(slasher.EpochNotEnded, currentEpoch=current, epoch=current + ahead):
        protocol.report_uptime(registered_provider, current + ahead, 0, sender=relayer)

    assert not slasher.isReported(registered_provider, current + ahead)
    assert staking.stakeOf(registered_provider) == PROVIDER_STAKE


def test_report__at_its_deadline__reverts_report_window_closed__later_epoch_accepted(
    protocol, staking, slasher, registered_provider, relayer
):
    epoch = protocol.finish_epoch()
    deadline = slasher.reportDeadline(epoch)
    assert deadline == slasher.epochEnd(epoch) + STATUTE_EPOCHS * EPOCH_LENGTH
    protocol.warp_to(deadline)
    protocol.chain.mine()
    assert slasher.currentEpoch() == epoch + STATUTE_EPOCHS + 1

    with reverts(slasher.ReportWindowClosed, deadline=deadline, nowTime=protocol.now()):
        protocol.report_uptime(registered_provider, epoch, 0, sender=relayer)
    assert not slasher.isReported(registered_provider, epoch)
    assert staking.stakeOf(registered_provider) == PROVIDER_STAKE

    protocol.report_uptime(registered_provider, epoch + 1, 0, sender=relayer)  # exactly the oldest still open
    assert slasher.isReported(registered_provider, epoch + 1)
    assert staking.stakeOf(registered_provider) == PROVIDER_STAKE - 500 * STAKE


def test_report__last_second_before_deadline__accepted(protocol, slasher, registered_provider, relayer):
    epoch = protocol.finish_epoch()
    deadline = slasher.reportDeadline(epoch)

    protocol.warp_to(deadline - 1)
    receipt = protocol.report_uptime(registered_provider, epoch, 0, sender=relayer)

    assert receipt.timestamp == deadline - 1
    assert slasher.currentEpoch() == epoch + STATUTE_EPOCHS
    assert receipt.events.filter(slasher.UptimeReported)[0].slashed == 500 * STAKE


def test_report__uptime_above_10000__reverts_out_of_range(protocol, slasher, registered_provider, relayer):
    epoch = protocol.finish_epoch()

    with reverts(slasher.UptimeOutOfRange, min=0, max=BPS, value=BPS + 1):
        protocol.report_uptime(registered_provider, epoch, BPS + 1, sender=relayer)

    assert not slasher.isReported(registered_provider, epoch)


def test_report__unregistered_provider__reverts_unknown_provider(
    protocol, staking, slasher, attacker, relayer, check_books
):
    epoch = protocol.finish_epoch()

    with reverts(slasher.UnknownProvider, provider=attacker.address):
        protocol.report_uptime(attacker, epoch, 0, sender=relayer)

    assert not slasher.isReported(attacker, epoch)
    assert staking.claimable(relayer) == 0
    check_books()


@pytest.mark.parametrize("caller", ["attacker", "governance"])
def test_on_uptime_report__called_directly__reverts_unauthorized(
    request, protocol, staking, slasher, registered_provider, caller
):
    account = request.getfixturevalue(caller)
    epoch = protocol.finish_epoch()

    with reverts(slasher.AccessControlUnauthorizedAccount, account=account.address, neededRole=slasher.REPORTER_ROLE()):
        slasher.onUptimeReport(registered_provider, epoch, 0, account, sender=account)

    assert not slasher.isReported(registered_provider, epoch)
    assert staking.stakeOf(registered_provider) == PROVIDER_STAKE
    assert staking.claimable(account) == 0


def test_reporter_role__held_by_hub(slasher, hub, staking):
    assert slasher.hasRole(slasher.REPORTER_ROLE(), hub)
    assert staking.hasRole(staking.SLASHER_ROLE(), slasher)
    assert slasher.staking() == staking.address
