"""ProviderStaking: the protocol-only calls lockCollateral, releaseCollateral and slash.

`slasher_account` and `collateral_manager` are test accounts that governance granted
SLASHER_ROLE / COLLATERAL_MANAGER_ROLE, so these tests drive the calls directly.
"""

import pytest

from tests.utils.reverts import reverts
from tests.conftest import STAKE
from tests.contracts.staking.staking_support import (
    BPS,
    MAX_UINT256,
    MIN_STAKE,
    PROVIDER_STAKE,
    UNBONDING_DELAY,
    ZERO_ADDRESS,
)


def slash(staking, slasher, account, amount, *, release=0, beneficiary=ZERO_ADDRESS, bps=0, cap=0):
    return staking.slash(account, amount, release, beneficiary, bps, cap, sender=slasher)


# ─────────────────────────────── access control ───────────────────────────────


@pytest.mark.parametrize(
    "call, role",
    [
        ("lockCollateral", "COLLATERAL_MANAGER_ROLE"),
        ("releaseCollateral", "COLLATERAL_MANAGER_ROLE"),
        ("slash", "SLASHER_ROLE"),
    ],
)
def test_protocol_calls__attacker__reverts_unauthorized(
    staking, escrow, accepted_job, registered_provider, attacker, snapshot_provider, call, role
):
    """Even with a provider that has locked collateral to release and stake to slash."""
    args = {
        "lockCollateral": (registered_provider, STAKE),
        "releaseCollateral": (registered_provider, 5 * STAKE),
        "slash": (registered_provider, PROVIDER_STAKE, 0, attacker, BPS, MAX_UINT256),
    }[call]
    before = snapshot_provider(registered_provider)

    with reverts(staking.AccessControlUnauthorizedAccount, account=attacker.address, neededRole=getattr(staking, role)()):
        getattr(staking, call)(*args, sender=attacker)

    assert snapshot_provider(registered_provider) == before
    assert staking.claimable(attacker) == 0


def test_protocol_roles__held_by_escrow_and_slasher_only(staking, escrow, slasher, governance):
    assert staking.hasRole(staking.COLLATERAL_MANAGER_ROLE(), escrow)
    assert staking.hasRole(staking.SLASHER_ROLE(), escrow)
    assert staking.hasRole(staking.SLASHER_ROLE(), slasher)
    assert not staking.hasRole(staking.SLASHER_ROLE(), governance)
    assert not staking.hasRole(staking.COLLATERAL_MANAGER_ROLE(), governance)


# ─────────────────────────────── lockCollateral ───────────────────────────────


def test_lock_collateral__free_stake__locks_cumulatively_and_emits(staking, registered_provider, collateral_manager):
    receipt = staking.lockCollateral(registered_provider, 3_000 * STAKE, sender=collateral_manager)
    assert receipt.events.filter(staking.CollateralLocked) == [
        staking.CollateralLocked(provider=registered_provider.address, amount=3_000 * STAKE, locked=3_000 * STAKE)
    ]

    receipt = staking.lockCollateral(registered_provider, 7_000 * STAKE, sender=collateral_manager)

    assert receipt.events.filter(staking.CollateralLocked) == [
        staking.CollateralLocked(provider=registered_provider.address, amount=7_000 * STAKE, locked=PROVIDER_STAKE)
    ]
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.locked, info.free) == (PROVIDER_STAKE, PROVIDER_STAKE, 0)


def test_lock_collateral__unregistered__reverts_not_registered(staking, attacker, collateral_manager, snapshot_provider):
    before = snapshot_provider(attacker)

    with reverts(staking.NotRegistered, provider=attacker.address):
        staking.lockCollateral(attacker, 1, sender=collateral_manager)

    assert snapshot_provider(attacker) == before


def test_lock_collateral__jailed__reverts_provider_is_jailed(
    staking, registered_provider, collateral_manager, slasher_account, snapshot_provider
):
    slash(staking, slasher_account, registered_provider, STAKE)
    before = snapshot_provider(registered_provider)

    with reverts(staking.ProviderIsJailed, provider=registered_provider.address):
        staking.lockCollateral(registered_provider, STAKE, sender=collateral_manager)

    assert snapshot_provider(registered_provider) == before


def test_lock_collateral__stake_below_new_minimum__reverts(
    staking, registered_provider, collateral_manager, governance, snapshot_provider
):
    staking.setMinStake(PROVIDER_STAKE + 1, sender=governance)
    before = snapshot_provider(registered_provider)

    with reverts(staking.StakeBelowMinimum, minStake=PROVIDER_STAKE + 1, stake=PROVIDER_STAKE):
        staking.lockCollateral(registered_provider, STAKE, sender=collateral_manager)

    assert snapshot_provider(registered_provider) == before


def test_lock_collateral__more_than_free__reverts_insufficient_free_stake(
    staking, registered_provider, collateral_manager, snapshot_provider
):
    staking.lockCollateral(registered_provider, 6_000 * STAKE, sender=collateral_manager)
    staking.requestUnbond(1_000 * STAKE, sender=registered_provider)  # unbonding stake is not free either
    before = snapshot_provider(registered_provider)

    with reverts(staking.InsufficientFreeStake, requested=3_000 * STAKE + 1, free=3_000 * STAKE):
        staking.lockCollateral(registered_provider, 3_000 * STAKE + 1, sender=collateral_manager)

    assert snapshot_provider(registered_provider) == before


# ─────────────────────────────── releaseCollateral ───────────────────────────────


def test_release_collateral__partial_then_more_than_locked__clamps_to_zero(
    staking, registered_provider, collateral_manager, check_books
):
    staking.lockCollateral(registered_provider, 2_000 * STAKE, sender=collateral_manager)

    receipt = staking.releaseCollateral(registered_provider, 500 * STAKE, sender=collateral_manager)
    assert receipt.events.filter(staking.CollateralReleased) == [
        staking.CollateralReleased(provider=registered_provider.address, amount=500 * STAKE, locked=1_500 * STAKE)
    ]

    receipt = staking.releaseCollateral(registered_provider, 5_000 * STAKE, sender=collateral_manager)
    assert receipt.events.filter(staking.CollateralReleased) == [
        staking.CollateralReleased(provider=registered_provider.address, amount=5_000 * STAKE, locked=0)
    ]
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.locked, info.free) == (PROVIDER_STAKE, 0, PROVIDER_STAKE)
    check_books()


# ─────────────────────────────── slash: what is taken ───────────────────────────────


def test_slash__takes_active_first_then_unbonding__and_jails(
    staking, registered_provider, slasher_account, treasury, check_books
):
    staking.requestUnbond(4_000 * STAKE, sender=registered_provider)

    receipt = slash(staking, slasher_account, registered_provider, 7_000 * STAKE)

    assert receipt.events.filter(staking.ProviderSlashed) == [
        staking.ProviderSlashed(
            provider=registered_provider.address,
            beneficiary=ZERO_ADDRESS,
            requested=7_000 * STAKE,
            fromActive=6_000 * STAKE,
            fromUnbonding=1_000 * STAKE,
            beneficiaryAmount=0,
            treasuryAmount=7_000 * STAKE,
        )
    ]
    assert receipt.events.filter(staking.ProviderJailed) == [staking.ProviderJailed(provider=registered_provider.address)]
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.unbonding, info.totalSlashed, info.jailed) == (0, 3_000 * STAKE, 7_000 * STAKE, True)
    assert not staking.isActive(registered_provider)
    assert staking.claimable(treasury) == 7_000 * STAKE
    assert staking.totalStaked() == 0 and staking.totalUnbonding() == 3_000 * STAKE
    check_books()


def test_slash__active_stake_enough__leaves_unbonding_untouched(staking, registered_provider, slasher_account):
    staking.requestUnbond(4_000 * STAKE, sender=registered_provider)

    receipt = slash(staking, slasher_account, registered_provider, 6_000 * STAKE)

    event = receipt.events.filter(staking.ProviderSlashed)[0]
    assert (event.fromActive, event.fromUnbonding) == (6_000 * STAKE, 0)
    assert staking.providerInfo(registered_provider).unbonding == 4_000 * STAKE


def test_slash__provider_unbonded_everything_first__clamped_never_reverts(
    staking, registered_provider, slasher_account, treasury, check_books
):
    staking.requestUnbond(PROVIDER_STAKE, sender=registered_provider)

    receipt = slash(staking, slasher_account, registered_provider, 12_000 * STAKE)

    event = receipt.events.filter(staking.ProviderSlashed)[0]
    assert (event.requested, event.fromActive, event.fromUnbonding) == (12_000 * STAKE, 0, PROVIDER_STAKE)
    assert event.treasuryAmount == PROVIDER_STAKE
    assert staking.slashableStake(registered_provider) == 0
    assert staking.providerInfo(registered_provider).jailed
    check_books()

    # nothing left: another slash still does not revert, takes nothing and does not jail twice
    receipt = slash(staking, slasher_account, registered_provider, STAKE)
    event = receipt.events.filter(staking.ProviderSlashed)[0]
    assert (event.fromActive, event.fromUnbonding, event.treasuryAmount) == (0, 0, 0)
    assert receipt.events.filter(staking.ProviderJailed) == []
    assert staking.claimable(treasury) == PROVIDER_STAKE
    check_books()


def test_slash__larger_than_stake__takes_all_and_credits_only_what_was_taken(
    staking, stake_token, registered_provider, slasher_account, beneficiary, treasury, check_books
):
    receipt = slash(
        staking, slasher_account, registered_provider, 50_000 * STAKE, beneficiary=beneficiary, bps=5_000, cap=MAX_UINT256
    )

    event = receipt.events.filter(staking.ProviderSlashed)[0]
    assert (event.fromActive, event.fromUnbonding) == (PROVIDER_STAKE, 0)
    # the share is of what was slashed, not of what was requested
    assert (event.beneficiaryAmount, event.treasuryAmount) == (5_000 * STAKE, 5_000 * STAKE)
    assert staking.stakeOf(registered_provider) == 0
    assert staking.providerInfo(registered_provider).totalSlashed == PROVIDER_STAKE
    assert stake_token.balanceOf(staking) == PROVIDER_STAKE  # all of it now owed to claimants
    check_books()


def test_slash__unbond_just_before_slash__still_slashable(
    protocol, staking, stake_token, registered_provider, slasher_account, check_books
):
    staking.requestUnbond(PROVIDER_STAKE, sender=registered_provider)
    end = staking.providerInfo(registered_provider).unbondingEnd
    protocol.warp_to(end)  # delay over, but not withdrawn yet: still slashable

    receipt = slash(staking, slasher_account, registered_provider, 2_000 * STAKE)

    assert receipt.events.filter(staking.ProviderSlashed)[0].fromUnbonding == 2_000 * STAKE
    staking.withdrawUnbonded(sender=registered_provider)
    assert stake_token.balanceOf(registered_provider) == 8_000 * STAKE
    check_books()


def test_slash__unregistered_account__takes_nothing_and_does_not_jail(staking, attacker, slasher_account, check_books):
    receipt = slash(staking, slasher_account, attacker, STAKE)

    event = receipt.events.filter(staking.ProviderSlashed)[0]
    assert (event.fromActive, event.fromUnbonding, event.beneficiaryAmount, event.treasuryAmount) == (0, 0, 0, 0)
    assert receipt.events.filter(staking.ProviderJailed) == []
    assert not staking.providerInfo(attacker).jailed
    check_books()


def test_slash__zero_amount__does_not_jail(staking, registered_provider, slasher_account):
    receipt = slash(staking, slasher_account, registered_provider, 0)

    assert receipt.events.filter(staking.ProviderJailed) == []
    assert staking.isActive(registered_provider)


def test_slash__already_jailed__slashes_again_without_second_jail_event(staking, registered_provider, slasher_account, treasury):
    slash(staking, slasher_account, registered_provider, STAKE)

    receipt = slash(staking, slasher_account, registered_provider, 2 * STAKE)

    assert receipt.events.filter(staking.ProviderJailed) == []
    assert staking.providerInfo(registered_provider).totalSlashed == 3 * STAKE
    assert staking.claimable(treasury) == 3 * STAKE


# ─────────────────────────────── slash: collateral ───────────────────────────────


def test_slash__big_slash__clamps_locked_to_remaining_stake(
    staking, registered_provider, collateral_manager, slasher_account, check_books
):
    staking.lockCollateral(registered_provider, 6_000 * STAKE, sender=collateral_manager)

    slash(staking, slasher_account, registered_provider, 8_000 * STAKE)

    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.locked, info.free) == (2_000 * STAKE, 2_000 * STAKE, 0)
    check_books()
    # releasing the job's full collateral later clamps to what is still locked
    receipt = staking.releaseCollateral(registered_provider, 6_000 * STAKE, sender=collateral_manager)
    assert receipt.events.filter(staking.CollateralReleased)[0].locked == 0
    assert staking.providerInfo(registered_provider).free == 2_000 * STAKE


def test_slash__accepted_job_collateral__clamped_when_stake_nearly_gone(
    staking, escrow, accepted_job, registered_provider, slasher_account, check_books
):
    collateral = escrow.job(accepted_job).collateral

    slash(staking, slasher_account, registered_provider, PROVIDER_STAKE - 2 * STAKE)

    info = staking.providerInfo(registered_provider)
    assert collateral > 2 * STAKE
    assert (info.staked, info.locked) == (2 * STAKE, 2 * STAKE)
    check_books()


def test_slash__with_release__releases_before_taking(staking, registered_provider, collateral_manager, slasher_account):
    staking.lockCollateral(registered_provider, 3_000 * STAKE, sender=collateral_manager)

    receipt = slash(staking, slasher_account, registered_provider, 1_000 * STAKE, release=3_000 * STAKE)

    assert receipt.events.filter(staking.CollateralReleased) == [
        staking.CollateralReleased(provider=registered_provider.address, amount=3_000 * STAKE, locked=0)
    ]
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.locked, info.free) == (9_000 * STAKE, 0, 9_000 * STAKE)


# ─────────────────────────────── slash: who gets what ───────────────────────────────


@pytest.mark.parametrize(
    "bps, cap, expected_beneficiary",
    [
        (3_000, MAX_UINT256, 300 * STAKE),  # the bps share, uncapped
        (3_000, 300 * STAKE, 300 * STAKE),  # cap exactly at the share
        (3_000, 120 * STAKE, 120 * STAKE),  # capped
        (0, MAX_UINT256, 0),  # no share
        (BPS, MAX_UINT256, 1_000 * STAKE),  # everything
        (BPS, 0, 0),  # zero cap
        (3_333, MAX_UINT256, 1_000 * STAKE * 3_333 // BPS),  # rounds down
    ],
)
def test_slash__beneficiary_share__min_of_bps_share_and_cap(
    staking, registered_provider, slasher_account, beneficiary, treasury, check_books, bps, cap, expected_beneficiary
):
    receipt = slash(staking, slasher_account, registered_provider, 1_000 * STAKE, beneficiary=beneficiary, bps=bps, cap=cap)

    expected_treasury = 1_000 * STAKE - expected_beneficiary
    assert receipt.events.filter(staking.ProviderSlashed) == [
        staking.ProviderSlashed(
            provider=registered_provider.address,
            beneficiary=beneficiary.address,
            requested=1_000 * STAKE,
            fromActive=1_000 * STAKE,
            fromUnbonding=0,
            beneficiaryAmount=expected_beneficiary,
            treasuryAmount=expected_treasury,
        )
    ]
    assert staking.claimable(beneficiary) == expected_beneficiary
    assert staking.claimable(treasury) == expected_treasury
    assert staking.totalClaimable() == 1_000 * STAKE
    check_books()


def test_slash__no_beneficiary__everything_to_treasury(staking, registered_provider, slasher_account, treasury):
    receipt = slash(staking, slasher_account, registered_provider, 1_000 * STAKE, bps=BPS, cap=MAX_UINT256)

    event = receipt.events.filter(staking.ProviderSlashed)[0]
    assert (event.beneficiary, event.beneficiaryAmount, event.treasuryAmount) == (ZERO_ADDRESS, 0, 1_000 * STAKE)
    assert staking.claimable(treasury) == 1_000 * STAKE
    assert staking.claimable(ZERO_ADDRESS) == 0


def test_slash__share_above_10000_bps__reverts_invalid_share_bps(
    staking, registered_provider, slasher_account, beneficiary, snapshot_provider
):
    before = snapshot_provider(registered_provider)

    with reverts(staking.InvalidShareBps, maxBps=BPS, bps=BPS + 1):
        slash(staking, slasher_account, registered_provider, STAKE, beneficiary=beneficiary, bps=BPS + 1, cap=MAX_UINT256)

    assert snapshot_provider(registered_provider) == before
    assert staking.claimable(beneficiary) == 0
    assert staking.isActive(registered_provider)


def test_slash__books_balance_through_a_mixed_history(
    protocol,
    staking,
    registered_provider,
    other_provider,
    collateral_manager,
    slasher_account,
    beneficiary,
    treasury,
    check_books,
):
    """Register, lock, unbond, slash both providers, claim, withdraw: the books balance after each step."""
    protocol.register(other_provider, 3_000 * STAKE)
    staking.lockCollateral(registered_provider, 2_000 * STAKE, sender=collateral_manager)
    staking.requestUnbond(5_000 * STAKE, sender=registered_provider)
    staking.requestUnbond(1_000 * STAKE, sender=other_provider)
    check_books()
    slash(
        staking,
        slasher_account,
        registered_provider,
        6_000 * STAKE,
        release=500 * STAKE,
        beneficiary=beneficiary,
        bps=2_500,
        cap=1_000 * STAKE,
    )
    slash(staking, slasher_account, other_provider, 2_500 * STAKE, beneficiary=beneficiary, bps=BPS, cap=100 * STAKE)
    check_books()
    assert staking.claimable(beneficiary) == 1_000 * STAKE + 100 * STAKE
    assert staking.claimable(treasury) == 5_000 * STAKE + 2_400 * STAKE
    staking.claim(sender=beneficiary)
    check_books()
    protocol.warp(UNBONDING_DELAY)
    staking.withdrawUnbonded(sender=registered_provider)
    staking.withdrawUnbonded(sender=other_provider)
    staking.claim(sender=treasury)
    check_books()
    # what is left is exactly the providers' remaining stake
    assert staking.totalStaked() == staking.stakeOf(registered_provider) + staking.stakeOf(other_provider)
    assert (staking.totalUnbonding(), staking.totalClaimable()) == (0, 0)
    assert staking.stakeOf(other_provider) == 0 and staking.stakeOf(registered_provider) == 0
    assert staking.minStake() == MIN_STAKE
