"""UptimeSlasher: parameters, epoch numbering and re-anchoring on an epoch-length change."""

import pytest

from tests.utils.reverts import reverts
from tests.conftest import STAKE
from tests.contracts.staking.staking_support import BPS, PROVIDER_STAKE, ZERO_ADDRESS
from tests.contracts.uptime.uptime_support import DEFAULT_UPTIME_PARAMS, EPOCH_LENGTH, HOUR, params_tuple

MAX_UINT128 = 2**128 - 1
DAY = 24 * HOUR


def assert_params_set(receipt, slasher, params: tuple, anchor_epoch: int, anchor_time: int) -> None:
    """Exactly one ParamsSet event with these values (Ape cannot compare struct arguments
    through a mock log, so the struct is compared field by field)."""
    events = receipt.events.filter(slasher.ParamsSet)
    assert len(events) == 1
    event = events[0]
    assert tuple(event.params) == params
    assert (event.anchorEpoch, event.anchorTime) == (anchor_epoch, anchor_time)


def test_params__view__returns_deployment_defaults(slasher):
    p = slasher.params()

    assert {name: getattr(p, name) for name in DEFAULT_UPTIME_PARAMS} == DEFAULT_UPTIME_PARAMS
    assert slasher.MAX_UPTIME_SLASH_BPS() == 5_000


def test_set_params__non_governor__reverts_unauthorized(slasher, attacker):
    with reverts(slasher.AccessControlUnauthorizedAccount, account=attacker.address, neededRole=slasher.GOVERNOR_ROLE()):
        slasher.setParams(params_tuple(slaBps=0), sender=attacker)

    assert tuple(slasher.params()) == params_tuple()


@pytest.mark.parametrize(
    "name, value, low, high",
    [
        ("epochLength", 59, 60, 30 * DAY),
        ("epochLength", 30 * DAY + 1, 60, 30 * DAY),
        ("statuteEpochs", 0, 1, 1_000),
        ("statuteEpochs", 1_001, 1, 1_000),
        ("slaBps", BPS + 1, 0, BPS),
        ("uptimeSlashBps", 5_001, 0, 5_000),
        ("uptimeSlashCap", MAX_UINT128 + 1, 0, MAX_UINT128),
        ("relayerRewardBps", BPS + 1, 0, BPS),
        ("relayerRewardCap", MAX_UINT128 + 1, 0, MAX_UINT128),
    ],
)
def test_set_params__out_of_range__reverts_param_out_of_range(slasher, governance, name, value, low, high):
    epoch_before = slasher.currentEpoch()

    with reverts(slasher.ParamOutOfRange, name=name, min=low, max=high, value=value):
        slasher.setParams(params_tuple(**{name: value}), sender=governance)

    assert tuple(slasher.params()) == params_tuple()
    assert slasher.currentEpoch() == epoch_before


@pytest.mark.parametrize(
    "overrides",
    [
        dict(
            epochLength=60, statuteEpochs=1, slaBps=0, uptimeSlashBps=0, uptimeSlashCap=0, relayerRewardBps=0, relayerRewardCap=0
        ),
        dict(
            epochLength=30 * DAY,
            statuteEpochs=1_000,
            slaBps=BPS,
            uptimeSlashBps=5_000,
            uptimeSlashCap=MAX_UINT128,
            relayerRewardBps=BPS,
            relayerRewardCap=MAX_UINT128,
        ),
    ],
    ids=["all-minimums", "all-maximums"],
)
def test_set_params__at_bounds__accepted(slasher, governance, overrides):
    slasher.setParams(params_tuple(**overrides), sender=governance)

    assert tuple(slasher.params()) == params_tuple(**overrides)


def test_set_params__same_epoch_length__no_reanchor_and_emits(protocol, slasher, governance):
    protocol.finish_epoch()
    current = slasher.currentEpoch()
    start = slasher.epochStart(current)
    anchor_before = slasher.epochStart(0)

    receipt = slasher.setParams(params_tuple(slaBps=9_000, relayerRewardCap=5 * STAKE), sender=governance)

    assert slasher.currentEpoch() == current
    assert slasher.epochStart(current) == start
    assert slasher.epochStart(0) == anchor_before  # still anchored at deployment, epoch 0
    assert_params_set(receipt, slasher, params_tuple(slaBps=9_000, relayerRewardCap=5 * STAKE), 0, anchor_before)
    assert slasher.params().slaBps == 9_000


def test_set_params__new_epoch_length__reanchors_one_past_current(protocol, slasher, governance):
    protocol.finish_epoch()
    protocol.warp(EPOCH_LENGTH // 2)  # halfway through an epoch
    current = slasher.currentEpoch()

    receipt = slasher.setParams(params_tuple(epochLength=2 * HOUR), sender=governance)

    now = receipt.timestamp
    assert_params_set(receipt, slasher, params_tuple(epochLength=2 * HOUR), current + 1, now)
    assert slasher.currentEpoch() == current + 1  # a new epoch starts now; `current` ended early
    assert slasher.epochStart(current + 1) == now
    assert slasher.epochStart(current + 2) == now + 2 * HOUR
    assert slasher.epochStart(current) == 0  # before the anchor
    assert slasher.params().epochLength == 2 * HOUR

    protocol.warp_to(now + 2 * HOUR - 1)
    protocol.chain.mine()
    assert slasher.currentEpoch() == current + 1
    protocol.warp_to(now + 2 * HOUR)
    protocol.chain.mine()
    assert slasher.currentEpoch() == current + 2


def test_set_params__epoch_length_changes__epoch_numbers_monotonic(protocol, slasher, governance):
    seen = [slasher.currentEpoch()]
    for length in (2 * HOUR, 60, 2 * HOUR, EPOCH_LENGTH):
        slasher.setParams(params_tuple(epochLength=length), sender=governance)
        seen.append(slasher.currentEpoch())
        protocol.warp(length // 2)
        seen.append(slasher.currentEpoch())
        protocol.finish_epoch()
        seen.append(slasher.currentEpoch())

    assert all(a <= b for a, b in zip(seen, seen[1:])), seen
    # each change opens a fresh epoch number (the one in progress is cut short, never reused)
    assert seen[-1] == seen[0] + 4 * 2


def test_set_params__reanchor__reported_epoch_not_reportable_again(
    protocol, staking, slasher, governance, registered_provider, relayer
):
    ended = protocol.finish_epoch()
    protocol.report_uptime(registered_provider, ended, BPS, sender=relayer)
    in_progress = slasher.currentEpoch()

    slasher.setParams(params_tuple(epochLength=30 * 60), sender=governance)

    # the epoch that was in progress has ended early and is now reportable, under its old number
    with reverts(slasher.EpochNotEnded, currentEpoch=in_progress + 1, epoch=in_progress + 1):
        protocol.report_uptime(registered_provider, in_progress + 1, 0, sender=relayer)
    protocol.report_uptime(registered_provider, in_progress, 0, sender=relayer)
    assert staking.stakeOf(registered_provider) == PROVIDER_STAKE - 500 * STAKE
    # and earlier numbers keep their marks
    with reverts(slasher.ReportAlreadyApplied, provider=registered_provider.address, epoch=ended):
        protocol.report_uptime(registered_provider, ended, 0, sender=relayer)
    protocol.finish_epoch()
    with reverts(slasher.ReportAlreadyApplied, provider=registered_provider.address, epoch=in_progress):
        protocol.report_uptime(registered_provider, in_progress, 0, sender=relayer)


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


def test_set_params__shorter_statute__applies_at_once(protocol, slasher, governance, registered_provider, relayer):
    epoch = protocol.finish_epoch()
    protocol.finish_epoch()  # now current = epoch + 2
    slasher.setParams(params_tuple(statuteEpochs=1), sender=governance)

    with reverts(slasher.ReportTooOld, oldestEpoch=epoch + 1, epoch=epoch):
        protocol.report_uptime(registered_provider, epoch, 0, sender=relayer)
    protocol.report_uptime(registered_provider, epoch + 1, 0, sender=relayer)


@pytest.mark.parametrize("zero", ["staking", "admin"])
def test_constructor__zero_address__reverts(project, staking, governance, zero):
    args = {"staking": staking.address, "admin": governance.address}
    args[zero] = ZERO_ADDRESS

    with reverts(project.UptimeSlasher.ZeroAddress):
        project.UptimeSlasher.deploy(args["staking"], args["admin"], params_tuple(), sender=governance)


def test_constructor__bad_params__reverts_param_out_of_range(project, staking, governance):
    with reverts(project.UptimeSlasher.ParamOutOfRange, name="epochLength", min=60, max=30 * DAY, value=0):
        project.UptimeSlasher.deploy(staking.address, governance.address, params_tuple(epochLength=0), sender=governance)


def test_constructor__epoch_zero_starts_at_deployment(project, staking, governance):
    fresh = project.UptimeSlasher.deploy(staking.address, governance.address, params_tuple(), sender=governance)
    deployed_at = fresh.creation_metadata.receipt.timestamp

    assert fresh.currentEpoch() == 0
    assert fresh.epochStart(0) == deployed_at
    assert fresh.epochStart(5) == deployed_at + 5 * EPOCH_LENGTH
