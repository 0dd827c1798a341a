"""ProviderStaking: governance setters (setMinStake, setUnbondingDelay, setTreasury) and the report
window the unbonding delay must exceed (setReportWindow)."""

import pytest

from tests.support.protocol import STAKE
from tests.support.reverts import reverts
from tests.support.staking import (
    DAY,
    MAX_UINT120,
    MIN_STAKE,
    PROVIDER_STAKE,
    UNBONDING_DELAY,
    ZERO_ADDRESS,
)

MAX_UNBONDING_DELAY = 365 * DAY
REPORT_WINDOW = 25 * 3_600  # (statute 24 + 1) x 1 h epochs, declared by the uptime slasher at deploy


@pytest.mark.parametrize(
    "setter, value",
    [("setMinStake", 1), ("setUnbondingDelay", 1), ("setTreasury", "attacker")],
)
def test_setters__non_governor__reverts_unauthorized(staking, attacker, treasury, setter, value):
    value = attacker.address if value == "attacker" else value
    before = (staking.minStake(), staking.unbondingDelay(), staking.treasury())

    with reverts(
        staking.AccessControlUnauthorizedAccount, account=attacker.address, neededRole=staking.GOVERNOR_ROLE()
    ):
        getattr(staking, setter)(value, sender=attacker)

    after = (staking.minStake(), staking.unbondingDelay(), staking.treasury())
    assert after == before == (MIN_STAKE, UNBONDING_DELAY, treasury.address)


# ─────────────────────────────── setMinStake ───────────────────────────────


@pytest.mark.parametrize("value", [0, 5_000 * STAKE, MAX_UINT120])
def test_set_min_stake__in_range__set_and_emitted(staking, governance, value):
    receipt = staking.setMinStake(value, sender=governance)

    assert receipt.events.filter(staking.MinStakeSet) == [staking.MinStakeSet(minStake=value)]
    assert staking.minStake() == value


def test_set_min_stake__above_uint120__reverts_amount_too_large(staking, governance):
    with reverts(staking.AmountTooLarge, max=MAX_UINT120, amount=MAX_UINT120 + 1):
        staking.setMinStake(MAX_UINT120 + 1, sender=governance)

    assert staking.minStake() == MIN_STAKE


def test_set_min_stake__raised__applies_to_new_registrations(protocol, staking, governance, provider, other_provider):
    protocol.register(provider, MIN_STAKE)
    staking.setMinStake(2 * MIN_STAKE, sender=governance)
    protocol.fund_stake(other_provider, MIN_STAKE)

    with reverts(staking.StakeBelowMinimum, minStake=2 * MIN_STAKE, stake=MIN_STAKE):
        staking.register("ipfs://late", MIN_STAKE, sender=other_provider)

    assert not staking.isRegistered(other_provider)
    assert staking.isRegistered(provider) and not staking.isActive(provider)  # existing one stays, inactive


# ─────────────────────────────── setUnbondingDelay ───────────────────────────────


@pytest.mark.parametrize("delay", [REPORT_WINDOW + 1, 2 * DAY, MAX_UNBONDING_DELAY])
def test_set_unbonding_delay__in_range__set_and_emitted(staking, governance, delay):
    receipt = staking.setUnbondingDelay(delay, sender=governance)

    assert receipt.events.filter(staking.UnbondingDelaySet) == [staking.UnbondingDelaySet(unbondingDelay=delay)]
    assert staking.unbondingDelay() == delay


def test_set_unbonding_delay__above_max__reverts_out_of_range(staking, governance):
    with reverts(
        staking.UnbondingDelayOutOfRange, min=REPORT_WINDOW + 1, max=MAX_UNBONDING_DELAY, value=MAX_UNBONDING_DELAY + 1
    ):
        staking.setUnbondingDelay(MAX_UNBONDING_DELAY + 1, sender=governance)

    assert staking.unbondingDelay() == UNBONDING_DELAY


def test_set_unbonding_delay__applies_to_new_requests_only(
    protocol, staking, governance, registered_provider, other_provider
):
    protocol.register(other_provider, MIN_STAKE)
    old_end = staking.requestUnbond(STAKE, sender=registered_provider).timestamp + UNBONDING_DELAY

    staking.setUnbondingDelay(2 * DAY, sender=governance)
    receipt = staking.requestUnbond(STAKE, sender=other_provider)

    assert staking.providerInfo(registered_provider).unbondingEnd == old_end
    assert staking.providerInfo(other_provider).unbondingEnd == receipt.timestamp + 2 * DAY


def test_set_unbonding_delay__shortest_allowed__withdrawable_one_second_after_the_report_window(
    protocol, staking, stake_token, governance, registered_provider
):
    staking.setUnbondingDelay(REPORT_WINDOW + 1, sender=governance)
    receipt = staking.requestUnbond(PROVIDER_STAKE, sender=registered_provider)
    assert staking.providerInfo(registered_provider).unbondingEnd == receipt.timestamp + REPORT_WINDOW + 1

    protocol.warp_to(receipt.timestamp + REPORT_WINDOW + 1)
    staking.withdrawUnbonded(sender=registered_provider)

    assert stake_token.balanceOf(registered_provider) == PROVIDER_STAKE


@pytest.mark.parametrize("delay", [0, DAY, REPORT_WINDOW])
def test_set_unbonding_delay__within_report_window__out_of_range_nothing_changes(staking, slasher, governance, delay):
    """Regression (issue 9, item 5): a delay that lets stake leave before a report that is still
    on time can reach it is refused with a named error."""
    assert staking.reportWindow() == REPORT_WINDOW == slasher.reportWindow()

    with reverts(staking.UnbondingDelayOutOfRange, min=REPORT_WINDOW + 1, max=MAX_UNBONDING_DELAY, value=delay):
        staking.setUnbondingDelay(delay, sender=governance)

    assert staking.unbondingDelay() == UNBONDING_DELAY


def test_set_report_window__not_below_unbonding_delay__unbonding_delay_out_of_range(staking, slasher_account):
    """The slasher declares a window the current delay does not exceed (a delay lowered before it
    synced, say): the staking contract names the delay as the value out of its range."""
    for window in (UNBONDING_DELAY, UNBONDING_DELAY + 1):
        with reverts(staking.UnbondingDelayOutOfRange, min=window + 1, max=MAX_UNBONDING_DELAY, value=UNBONDING_DELAY):
            staking.setReportWindow(window, sender=slasher_account)

    staking.setReportWindow(UNBONDING_DELAY - 1, sender=slasher_account)
    assert staking.reportWindow() == UNBONDING_DELAY - 1


# ─────────────────────────────── setTreasury ───────────────────────────────


def test_set_treasury__zero__reverts_zero_address(staking, governance, treasury):
    with reverts(staking.ZeroAddress):
        staking.setTreasury(ZERO_ADDRESS, sender=governance)

    assert staking.treasury() == treasury.address


def test_set_treasury__new_treasury__gets_future_slashes_old_keeps_its_claim(
    accounts, staking, governance, treasury, registered_provider, slasher_account, check_books
):
    new_treasury = accounts[12]
    staking.slash(registered_provider, 100 * STAKE, ZERO_ADDRESS, 0, 0, sender=slasher_account)

    receipt = staking.setTreasury(new_treasury, sender=governance)
    assert receipt.events.filter(staking.TreasurySet) == [staking.TreasurySet(treasury=new_treasury.address)]
    assert staking.treasury() == new_treasury.address
    staking.slash(registered_provider, 200 * STAKE, ZERO_ADDRESS, 0, 0, sender=slasher_account)

    assert staking.claimable(treasury) == 100 * STAKE
    assert staking.claimable(new_treasury) == 200 * STAKE
    staking.claim(sender=treasury)  # the old treasury can still claim what it was owed
    check_books()
