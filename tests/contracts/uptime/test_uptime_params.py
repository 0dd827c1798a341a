"""UptimeSlasher: parameters, epoch schedules (a change applies from the next epoch boundary,
never to an epoch that has started) and the report-window rule against the unbonding delay."""

import pytest

from tests.support.protocol import STAKE
from tests.support.reverts import reverts
from tests.support.staking import BPS, PROVIDER_STAKE, UNBONDING_DELAY, ZERO_ADDRESS
from tests.support.uptime import (
    DEFAULT_UPTIME_PARAMS,
    EPOCH_LENGTH,
    HOUR,
    STATUTE_EPOCHS,
    params_tuple,
)

MAX_UINT128 = 2**128 - 1
DAY = 24 * HOUR
WINDOW = (STATUTE_EPOCHS + 1) * EPOCH_LENGTH  # 25 h: from an epoch's start to its reporting deadline


def assert_params_set(receipt, slasher, params: tuple) -> None:
    """Exactly one ParamsSet event with these values (Ape cannot compare struct arguments
    through a mock log, so the struct is compared field by field)."""
    events = receipt.events.filter(slasher.ParamsSet)
    assert len(events) == 1
    assert tuple(events[0].params) == params


def test_params__view__returns_deployment_defaults(slasher, staking):
    p = slasher.params()

    assert {name: getattr(p, name) for name in DEFAULT_UPTIME_PARAMS} == DEFAULT_UPTIME_PARAMS
    assert slasher.MAX_UPTIME_SLASH_BPS() == 5_000
    assert slasher.reportWindow() == WINDOW == staking.reportWindow()  # declared at deploy


def test_set_params__non_governor__reverts_unauthorized(slasher, attacker):
    with reverts(
        slasher.AccessControlUnauthorizedAccount, account=attacker.address, neededRole=slasher.GOVERNOR_ROLE()
    ):
        slasher.setParams(params_tuple(slaBps=0), sender=attacker)

    assert tuple(slasher.params()) == params_tuple()


def test_set_params__out_of_range__each_field_its_own_error(slasher, governance):
    """Each field of Params has its own <Field>OutOfRange(min, max, value); nothing changes."""
    epoch_before = slasher.currentEpoch()

    def set_params(**field):
        slasher.setParams(params_tuple(**field), sender=governance)

    with reverts(slasher.EpochLengthOutOfRange, min=60, max=30 * DAY, value=59):
        set_params(epochLength=59)
    with reverts(slasher.EpochLengthOutOfRange, min=60, max=30 * DAY, value=30 * DAY + 1):
        set_params(epochLength=30 * DAY + 1)
    with reverts(slasher.StatuteEpochsOutOfRange, min=1, max=1_000, value=0):
        set_params(statuteEpochs=0)
    with reverts(slasher.StatuteEpochsOutOfRange, min=1, max=1_000, value=1_001):
        set_params(statuteEpochs=1_001)
    with reverts(slasher.SlaBpsOutOfRange, min=0, max=BPS, value=BPS + 1):
        set_params(slaBps=BPS + 1)
    with reverts(slasher.UptimeSlashBpsOutOfRange, min=0, max=5_000, value=5_001):
        set_params(uptimeSlashBps=5_001)
    with reverts(slasher.UptimeSlashCapOutOfRange, min=0, max=MAX_UINT128, value=MAX_UINT128 + 1):
        set_params(uptimeSlashCap=MAX_UINT128 + 1)
    with reverts(slasher.RelayerRewardBpsOutOfRange, min=0, max=BPS, value=BPS + 1):
        set_params(relayerRewardBps=BPS + 1)
    with reverts(slasher.RelayerRewardCapOutOfRange, min=0, max=MAX_UINT128, value=MAX_UINT128 + 1):
        set_params(relayerRewardCap=MAX_UINT128 + 1)

    assert tuple(slasher.params()) == params_tuple()
    assert slasher.currentEpoch() == epoch_before


@pytest.mark.parametrize(
    "overrides",
    [
        dict(
            epochLength=60,
            statuteEpochs=1,
            slaBps=0,
            uptimeSlashBps=0,
            uptimeSlashCap=0,
            relayerRewardBps=0,
            relayerRewardCap=0,
        ),
        dict(  # every bound at its maximum but the statute, which the report window caps
            epochLength=30 * DAY,
            statuteEpochs=11,
            slaBps=BPS,
            uptimeSlashBps=5_000,
            uptimeSlashCap=MAX_UINT128,
            relayerRewardBps=BPS,
            relayerRewardCap=MAX_UINT128,
        ),
        dict(epochLength=HOUR, statuteEpochs=1_000),  # the longest statute
    ],
    ids=["all-minimums", "all-maximums", "longest-statute"],
)
def test_set_params__at_bounds__accepted(slasher, staking, governance, overrides):
    staking.setUnbondingDelay(365 * DAY, sender=governance)  # room for the longest report windows

    slasher.setParams(params_tuple(**overrides), sender=governance)

    assert tuple(slasher.params()) == params_tuple(**overrides)


def test_set_params__same_schedule__no_new_schedule_and_emits(protocol, slasher, governance):
    protocol.finish_epoch()
    current = slasher.currentEpoch()
    start = slasher.epochStart(current)
    schedules = slasher.schedules()

    receipt = slasher.setParams(params_tuple(slaBps=9_000, relayerRewardCap=5 * STAKE), sender=governance)

    assert slasher.currentEpoch() == current
    assert slasher.epochStart(current) == start
    assert slasher.schedules() == schedules
    assert receipt.events.filter(slasher.ScheduleSet) == []
    assert_params_set(receipt, slasher, params_tuple(slaBps=9_000, relayerRewardCap=5 * STAKE))
    assert slasher.params().slaBps == 9_000


def test_set_params__new_epoch_length__applies_from_the_next_boundary(protocol, slasher, governance):
    protocol.finish_epoch()
    protocol.warp(EPOCH_LENGTH // 2)  # halfway through an epoch
    current = slasher.currentEpoch()
    start, end = slasher.epochStart(current), slasher.epochEnd(current)

    receipt = slasher.setParams(params_tuple(epochLength=2 * HOUR), sender=governance)

    assert receipt.events.filter(slasher.ScheduleSet) == [
        slasher.ScheduleSet(
            index=1, firstEpoch=current + 1, startTime=end, epochLength=2 * HOUR, statuteEpochs=STATUTE_EPOCHS
        )
    ]
    # the epoch in progress keeps its start and end
    assert slasher.currentEpoch() == current
    assert (slasher.epochStart(current), slasher.epochEnd(current)) == (start, end)
    assert slasher.reportDeadline(current) == start + WINDOW
    assert slasher.epochStart(current + 1) == end
    assert slasher.epochEnd(current + 1) == end + 2 * HOUR
    assert slasher.params().epochLength == 2 * HOUR
    deployed = slasher.schedules()[0]
    assert [tuple(s) for s in slasher.schedules()] == [tuple(deployed), (current + 1, end, 2 * HOUR, STATUTE_EPOCHS)]

    protocol.warp_to(end - 1)
    protocol.chain.mine()
    assert slasher.currentEpoch() == current
    protocol.warp_to(end + 2 * HOUR - 1)
    protocol.chain.mine()
    assert slasher.currentEpoch() == current + 1
    protocol.warp_to(end + 2 * HOUR)
    protocol.chain.mine()
    assert slasher.currentEpoch() == current + 2


def test_set_params__second_change_before_the_first_starts__replaces_it(protocol, slasher, governance):
    current = slasher.currentEpoch()
    end = slasher.epochEnd(current)
    slasher.setParams(params_tuple(epochLength=2 * HOUR), sender=governance)

    receipt = slasher.setParams(params_tuple(epochLength=30 * 60, statuteEpochs=10), sender=governance)

    assert receipt.events.filter(slasher.ScheduleSet) == [
        slasher.ScheduleSet(index=1, firstEpoch=current + 1, startTime=end, epochLength=30 * 60, statuteEpochs=10)
    ]
    assert len(slasher.schedules()) == 2
    assert slasher.epochEnd(current + 1) == end + 30 * 60


def test_set_params__epoch_length_changes__epoch_numbers_contiguous_and_monotonic(protocol, slasher, governance):
    seen = [slasher.currentEpoch()]
    for length in (2 * HOUR, 60, 2 * HOUR, EPOCH_LENGTH):
        slasher.setParams(params_tuple(epochLength=length), sender=governance)
        seen.append(slasher.currentEpoch())
        protocol.finish_epoch()  # the old length's epoch ends where it always would have
        seen.append(slasher.currentEpoch())
        protocol.warp(length // 2)
        seen.append(slasher.currentEpoch())

    assert all(a <= b for a, b in zip(seen, seen[1:])), seen
    assert seen[-1] == seen[0] + 4  # one epoch per change: no number skipped, none reused
    schedules = slasher.schedules()
    for older, newer in zip(schedules, schedules[1:]):  # every schedule starts where the one before ends
        assert newer.startTime == older.startTime + (newer.firstEpoch - older.firstEpoch) * older.epochLength


def test_epoch_length__shortened_after_epochs_ended__past_epochs_keep_times_and_deadline(
    protocol, staking, slasher, governance, registered_provider, relayer
):
    """Regression (issue 9, item 4): switching from 1-hour to 1-minute epochs used to shrink a
    24-hour reporting window for already-ended epochs to about 24 minutes."""
    ended = protocol.finish_epoch()
    start, end, deadline = slasher.epochStart(ended), slasher.epochEnd(ended), slasher.reportDeadline(ended)
    assert deadline == end + STATUTE_EPOCHS * EPOCH_LENGTH

    slasher.setParams(params_tuple(epochLength=60), sender=governance)
    protocol.warp(HOUR + 30 * 60)  # far more than 24 one-minute epochs later

    assert (slasher.epochStart(ended), slasher.epochEnd(ended), slasher.reportDeadline(ended)) == (start, end, deadline)
    receipt = protocol.report_uptime(registered_provider, ended, 0, sender=relayer)
    assert receipt.events.filter(slasher.UptimeReported)[0].slashed == 500 * STAKE
    assert staking.stakeOf(registered_provider) == PROVIDER_STAKE - 500 * STAKE


def test_statute__lowered__past_epoch_keeps_its_deadline(protocol, slasher, governance, registered_provider, relayer):
    """Regression (issue 9, item 4): the statute is part of the schedule: lowering it applies to
    epochs that start after the change."""
    epoch = protocol.finish_epoch()
    protocol.finish_epoch()
    deadline = slasher.reportDeadline(epoch)

    slasher.setParams(params_tuple(statuteEpochs=1), sender=governance)
    protocol.warp(3 * HOUR)  # well past what a 1-epoch statute would allow

    protocol.report_uptime(registered_provider, epoch, BPS, sender=relayer)
    later = slasher.currentEpoch() + 1  # the first epoch under the new statute
    protocol.warp_to(slasher.reportDeadline(later))
    protocol.chain.mine()
    with reverts(slasher.ReportWindowClosed, deadline=slasher.reportDeadline(later), nowTime=protocol.now()):
        protocol.report_uptime(registered_provider, later, BPS, sender=relayer)
    assert slasher.reportDeadline(later) == slasher.epochStart(later) + 2 * EPOCH_LENGTH
    assert deadline == slasher.epochStart(epoch) + WINDOW


def test_set_params__new_schedule__reported_epoch_not_reportable_again(
    protocol, staking, slasher, governance, registered_provider, relayer
):
    ended = protocol.finish_epoch()
    protocol.report_uptime(registered_provider, ended, BPS, sender=relayer)
    in_progress = slasher.currentEpoch()

    slasher.setParams(params_tuple(epochLength=30 * 60), sender=governance)

    # the epoch in progress runs to its end: not reportable before
    with reverts(slasher.EpochNotEnded, currentEpoch=in_progress, epoch=in_progress):
        protocol.report_uptime(registered_provider, in_progress, 0, sender=relayer)
    protocol.finish_epoch()
    # earlier numbers keep their marks
    with reverts(slasher.ReportAlreadyApplied, provider=registered_provider.address, epoch=ended):
        protocol.report_uptime(registered_provider, ended, BPS, sender=relayer)
    protocol.report_uptime(registered_provider, in_progress, 0, sender=relayer)
    assert staking.stakeOf(registered_provider) == PROVIDER_STAKE - 500 * STAKE


def test_set_params__new_sla_and_rates__apply_to_later_reports(
    protocol, staking, slasher, governance, registered_provider, relayer, treasury
):
    slasher.setParams(
        params_tuple(
            slaBps=BPS,
            uptimeSlashBps=1_000,
            uptimeSlashCap=MAX_UINT128,
            relayerRewardBps=BPS,
            relayerRewardCap=MAX_UINT128,
        ),
        sender=governance,
    )
    epoch = protocol.finish_epoch()

    receipt = protocol.report_uptime(registered_provider, epoch, BPS - 1, sender=relayer)  # 99.99% < 100% SLA

    event = receipt.events.filter(slasher.UptimeReported)[0]
    assert (event.slashRequested, event.slashed, event.relayerReward) == (1_000 * STAKE, 1_000 * STAKE, 1_000 * STAKE)
    assert staking.claimable(relayer) == 1_000 * STAKE
    assert staking.claimable(treasury) == 0


def test_set_params__zero_slash_bps__below_sla_report_neither_slashes_nor_jails(
    protocol, staking, slasher, governance, registered_provider, relayer
):
    slasher.setParams(params_tuple(uptimeSlashBps=0), sender=governance)
    epoch = protocol.finish_epoch()

    receipt = protocol.report_uptime(registered_provider, epoch, 0, sender=relayer)

    assert receipt.events.filter(slasher.UptimeReported)[0].slashed == 0
    assert receipt.events.filter(staking.ProviderJailed) == []
    assert staking.isActive(registered_provider)
    assert slasher.isReported(registered_provider, epoch)


def test_set_params__several_fields_out_of_range__first_in_struct_order_named(slasher, governance):
    with reverts(slasher.StatuteEpochsOutOfRange, min=1, max=1_000, value=0):
        slasher.setParams(params_tuple(relayerRewardBps=BPS + 1, statuteEpochs=0, slaBps=BPS + 1), sender=governance)


# ─────────────────────── report window against the unbonding delay (item 5) ───────────────────────


@pytest.mark.parametrize("length, statute", [(HOUR, 7 * 24 - 1), (HOUR, 1_000), (DAY, 7)])
def test_set_params__report_window_not_below_unbonding_delay__report_window_out_of_range(
    slasher, staking, governance, length, statute
):
    """Regression (issue 9, item 5): with (statute + 1) x epoch length at or above the unbonding
    delay, a provider could withdraw its stake before a report that is still on time lands."""
    window = (statute + 1) * length
    assert window >= UNBONDING_DELAY

    with reverts(slasher.ReportWindowOutOfRange, min=0, max=UNBONDING_DELAY - 1, value=window):
        slasher.setParams(params_tuple(epochLength=length, statuteEpochs=statute), sender=governance)

    assert tuple(slasher.params()) == params_tuple()
    assert staking.reportWindow() == WINDOW


def test_set_params__longer_window__declared_to_staking_which_then_refuses_a_shorter_delay(
    slasher, staking, governance
):
    window = (STATUTE_EPOCHS + 1) * 2 * HOUR  # 2-hour epochs: 50 h
    receipt = slasher.setParams(params_tuple(epochLength=2 * HOUR), sender=governance)

    assert receipt.events.filter(staking.ReportWindowSet) == [
        staking.ReportWindowSet(slasher=slasher.address, reportWindow=window)
    ]
    assert staking.reportWindow() == window == slasher.reportWindow()
    with reverts(staking.UnbondingDelayOutOfRange, min=window + 1, max=365 * DAY, value=window):
        staking.setUnbondingDelay(window, sender=governance)
    staking.setUnbondingDelay(window + 1, sender=governance)


def test_report_window__shorter_schedule__old_window_counts_until_its_epochs_close(
    protocol, slasher, staking, governance
):
    """A shorter schedule cannot shrink the window while epochs of the longer one can still be
    reported; once they cannot, anyone can push the shorter window."""
    slasher.setParams(params_tuple(statuteEpochs=2), sender=governance)
    assert slasher.reportWindow() == WINDOW  # the epochs of the 24-epoch statute are still open

    protocol.finish_epoch()  # the new schedule starts
    protocol.warp(STATUTE_EPOCHS * EPOCH_LENGTH)  # the old schedule's last epoch can no longer be reported
    assert slasher.reportWindow() == 3 * EPOCH_LENGTH
    assert staking.reportWindow() == WINDOW  # until someone declares it
    slasher.syncReportWindow(sender=protocol.oracles[0])
    assert staking.reportWindow() == 3 * EPOCH_LENGTH
    staking.setUnbondingDelay(3 * EPOCH_LENGTH + 1, sender=governance)


@pytest.mark.parametrize("zero", ["staking", "admin"])
def test_constructor__zero_address__reverts(project, staking, governance, zero):
    args = {"staking": staking.address, "admin": governance.address}
    args[zero] = ZERO_ADDRESS

    with reverts(project.UptimeSlasher.ZeroAddress):
        project.UptimeSlasher.deploy(args["staking"], args["admin"], params_tuple(), sender=governance)


def test_constructor__bad_params__reverts_epoch_length_out_of_range(project, staking, governance):
    with reverts(project.UptimeSlasher.EpochLengthOutOfRange, min=60, max=30 * DAY, value=0):
        project.UptimeSlasher.deploy(
            staking.address, governance.address, params_tuple(epochLength=0), sender=governance
        )


def test_constructor__window_not_below_unbonding_delay__reverts_report_window_out_of_range(
    project, staking, governance
):
    with reverts(project.UptimeSlasher.ReportWindowOutOfRange, min=0, max=UNBONDING_DELAY - 1, value=8 * DAY):
        project.UptimeSlasher.deploy(
            staking.address, governance.address, params_tuple(epochLength=DAY, statuteEpochs=7), sender=governance
        )


def test_constructor__epoch_zero_starts_at_deployment(project, staking, governance):
    fresh = project.UptimeSlasher.deploy(staking.address, governance.address, params_tuple(), sender=governance)
    deployed_at = fresh.creation_metadata.receipt.timestamp

    assert fresh.currentEpoch() == 0
    assert fresh.epochStart(0) == deployed_at
    assert fresh.epochStart(5) == deployed_at + 5 * EPOCH_LENGTH
    assert [tuple(s) for s in fresh.schedules()] == [(0, deployed_at, EPOCH_LENGTH, STATUTE_EPOCHS)]
