"""ProviderStaking: the protocol-only calls lockCollateral, releaseCollateral, slashCollateral
and slash, and the rule that locked collateral is an obligation (issue 9, item 1).

`slasher_account` and `collateral_manager` are test accounts that governance granted
SLASHER_ROLE / COLLATERAL_MANAGER_ROLE, so these tests drive the calls directly.
"""

import pytest

from tests.support.protocol import STAKE
from tests.support.reverts import reverts
from tests.support.staking import (
    BPS,
    MAX_UINT256,
    MIN_STAKE,
    PROVIDER_STAKE,
    UNBONDING_DELAY,
    ZERO_ADDRESS,
)


def slash(staking, slasher, account, amount, *, beneficiary=ZERO_ADDRESS, bps=0, cap=0):
    """An uptime slash (free stake, then unbonding, then recorded as shortfall)."""
    return staking.slash(account, amount, beneficiary, bps, cap, sender=slasher)


def slashed_event(
    staking,
    provider,
    requested,
    from_free=0,
    from_unbonding=0,
    deferred=0,
    beneficiary=ZERO_ADDRESS,
    beneficiary_amount=0,
    treasury_amount=None,
):
    if treasury_amount is None:
        treasury_amount = from_free + from_unbonding - beneficiary_amount
    return staking.ProviderSlashed(
        provider=provider.address,
        beneficiary=beneficiary if isinstance(beneficiary, str) else beneficiary.address,
        requested=requested,
        fromFree=from_free,
        fromUnbonding=from_unbonding,
        deferred=deferred,
        beneficiaryAmount=beneficiary_amount,
        treasuryAmount=treasury_amount,
    )


# ─────────────────────────────── access control ───────────────────────────────


@pytest.mark.parametrize(
    "call, role",
    [
        ("lockCollateral", "COLLATERAL_MANAGER_ROLE"),
        ("releaseCollateral", "COLLATERAL_MANAGER_ROLE"),
        ("slashCollateral", "COLLATERAL_MANAGER_ROLE"),
        ("slash", "SLASHER_ROLE"),
        ("setReportWindow", "SLASHER_ROLE"),
    ],
)
def test_protocol_calls__attacker__reverts_unauthorized(
    staking, escrow, accepted_job, registered_provider, attacker, snapshot_provider, call, role
):
    """Even with a provider that has locked collateral to release and stake to slash."""
    args = {
        "lockCollateral": (registered_provider, STAKE),
        "releaseCollateral": (registered_provider, 5 * STAKE),
        "slashCollateral": (registered_provider, 5 * STAKE, attacker, BPS),
        "slash": (registered_provider, PROVIDER_STAKE, attacker, BPS, MAX_UINT256),
        "setReportWindow": (1,),
    }[call]
    before = snapshot_provider(registered_provider)

    with reverts(
        staking.AccessControlUnauthorizedAccount, account=attacker.address, neededRole=getattr(staking, role)()
    ):
        getattr(staking, call)(*args, sender=attacker)

    assert snapshot_provider(registered_provider) == before
    assert staking.claimable(attacker) == 0


def test_protocol_roles__held_by_escrow_and_slasher_only(staking, escrow, slasher, governance):
    assert staking.hasRole(staking.COLLATERAL_MANAGER_ROLE(), escrow)
    assert not staking.hasRole(staking.SLASHER_ROLE(), escrow)  # the escrow only ever touches its jobs' collateral
    assert staking.hasRole(staking.SLASHER_ROLE(), slasher)
    assert not staking.hasRole(
        staking.COLLATERAL_MANAGER_ROLE(), slasher
    )  # the uptime slasher never touches collateral
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


def test_lock_collateral__unregistered__reverts_not_registered(
    staking, attacker, collateral_manager, snapshot_provider
):
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

    with reverts(staking.InsufficientFreeStake, free=3_000 * STAKE, requested=3_000 * STAKE + 1):
        staking.lockCollateral(registered_provider, 3_000 * STAKE + 1, sender=collateral_manager)

    assert snapshot_provider(registered_provider) == before


# ─────────────────────────────── releaseCollateral ───────────────────────────────


def test_release_collateral__partial_then_rest__event_reports_what_was_released(
    staking, registered_provider, collateral_manager, check_books
):
    staking.lockCollateral(registered_provider, 2_000 * STAKE, sender=collateral_manager)

    receipt = staking.releaseCollateral(registered_provider, 500 * STAKE, sender=collateral_manager)
    assert receipt.events.filter(staking.CollateralReleased) == [
        staking.CollateralReleased(provider=registered_provider.address, amount=500 * STAKE, locked=1_500 * STAKE)
    ]

    receipt = staking.releaseCollateral(registered_provider, 1_500 * STAKE, sender=collateral_manager)
    assert receipt.events.filter(staking.CollateralReleased) == [
        staking.CollateralReleased(provider=registered_provider.address, amount=1_500 * STAKE, locked=0)
    ]
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.locked, info.free) == (PROVIDER_STAKE, 0, PROVIDER_STAKE)
    check_books()


def test_release_collateral__more_than_locked__reverts_collateral_not_locked_nothing_changes(
    staking, registered_provider, collateral_manager, snapshot_provider
):
    """Regression (issue 9, item 1): a release is never clamped, so its event never reports an
    amount that was not released."""
    staking.lockCollateral(registered_provider, 2_000 * STAKE, sender=collateral_manager)
    before = snapshot_provider(registered_provider)

    with reverts(staking.CollateralNotLocked, locked=2_000 * STAKE, amount=2_000 * STAKE + 1):
        staking.releaseCollateral(registered_provider, 2_000 * STAKE + 1, sender=collateral_manager)

    assert snapshot_provider(registered_provider) == before


# ─────────────────────────────── slashCollateral (a failed job) ───────────────────────────────


def test_slash_collateral__failed_job__takes_exactly_it_shares_and_jails_for_work(
    staking, registered_provider, collateral_manager, beneficiary, treasury, check_books
):
    staking.lockCollateral(registered_provider, 3_000 * STAKE, sender=collateral_manager)

    receipt = staking.slashCollateral(registered_provider, 3_000 * STAKE, beneficiary, 5_000, sender=collateral_manager)

    assert receipt.events.filter(staking.CollateralSlashed) == [
        staking.CollateralSlashed(
            provider=registered_provider.address,
            beneficiary=beneficiary.address,
            amount=3_000 * STAKE,
            beneficiaryAmount=1_500 * STAKE,
            treasuryAmount=1_500 * STAKE,
        )
    ]
    assert receipt.events.filter(staking.ProviderJailed) == [
        staking.ProviderJailed(provider=registered_provider.address, forDowntime=False)
    ]
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.locked, info.totalSlashed, info.jailed, info.jailedForDowntime) == (
        7_000 * STAKE,
        0,
        3_000 * STAKE,
        True,
        False,
    )
    assert (staking.claimable(beneficiary), staking.claimable(treasury)) == (1_500 * STAKE, 1_500 * STAKE)
    check_books()


def test_slash_collateral__more_than_locked__reverts_collateral_not_locked(
    staking, registered_provider, collateral_manager, beneficiary, snapshot_provider
):
    staking.lockCollateral(registered_provider, 1_000 * STAKE, sender=collateral_manager)
    before = snapshot_provider(registered_provider)

    with reverts(staking.CollateralNotLocked, locked=1_000 * STAKE, amount=1_000 * STAKE + 1):
        staking.slashCollateral(registered_provider, 1_000 * STAKE + 1, beneficiary, 5_000, sender=collateral_manager)

    assert snapshot_provider(registered_provider) == before
    assert staking.claimable(beneficiary) == 0


def test_slash_collateral__share_above_10000_bps__reverts_bps_out_of_range(
    staking, registered_provider, collateral_manager, beneficiary, snapshot_provider
):
    staking.lockCollateral(registered_provider, 1_000 * STAKE, sender=collateral_manager)
    before = snapshot_provider(registered_provider)

    with reverts(staking.BpsOutOfRange, min=0, max=BPS, value=BPS + 1):
        staking.slashCollateral(registered_provider, 1_000 * STAKE, beneficiary, BPS + 1, sender=collateral_manager)

    assert snapshot_provider(registered_provider) == before


def test_slash_collateral__client_is_the_provider__no_part_of_its_own_slash(
    staking, registered_provider, collateral_manager, treasury, check_books
):
    """Regression (issue 9, item 2): a provider never receives any part of its own slash, even
    as the client of its own job."""
    staking.lockCollateral(registered_provider, 1_000 * STAKE, sender=collateral_manager)

    receipt = staking.slashCollateral(
        registered_provider, 1_000 * STAKE, registered_provider, BPS, sender=collateral_manager
    )

    event = receipt.events.filter(staking.CollateralSlashed)[0]
    assert (event.beneficiary, event.beneficiaryAmount, event.treasuryAmount) == (ZERO_ADDRESS, 0, 1_000 * STAKE)
    assert staking.claimable(registered_provider) == 0
    assert staking.claimable(treasury) == 1_000 * STAKE
    check_books()


def test_slash_collateral__zero_collateral__takes_nothing_and_does_not_jail(
    staking, registered_provider, collateral_manager, beneficiary
):
    receipt = staking.slashCollateral(registered_provider, 0, beneficiary, 5_000, sender=collateral_manager)

    assert receipt.events.filter(staking.ProviderJailed) == []
    assert staking.isActive(registered_provider)


# ─────────────────────────────── slash (uptime): what is taken ───────────────────────────────


def test_slash__takes_free_then_unbonding__and_jails_for_downtime(
    staking, registered_provider, slasher_account, treasury, check_books
):
    staking.requestUnbond(4_000 * STAKE, sender=registered_provider)

    receipt = slash(staking, slasher_account, registered_provider, 7_000 * STAKE)

    assert receipt.events.filter(staking.ProviderSlashed) == [
        slashed_event(
            staking, registered_provider, 7_000 * STAKE, from_free=6_000 * STAKE, from_unbonding=1_000 * STAKE
        )
    ]
    assert receipt.events.filter(staking.ProviderJailed) == [
        staking.ProviderJailed(provider=registered_provider.address, forDowntime=True)
    ]
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.unbonding, info.totalSlashed, info.jailed, info.jailedForDowntime) == (
        0,
        3_000 * STAKE,
        7_000 * STAKE,
        True,
        True,
    )
    assert not staking.isActive(registered_provider)
    assert staking.claimable(treasury) == 7_000 * STAKE
    assert staking.totalStaked() == 0 and staking.totalUnbonding() == 3_000 * STAKE
    check_books()


def test_slash__free_stake_enough__leaves_unbonding_untouched(staking, registered_provider, slasher_account):
    staking.requestUnbond(4_000 * STAKE, sender=registered_provider)

    receipt = slash(staking, slasher_account, registered_provider, 6_000 * STAKE)

    event = receipt.events.filter(staking.ProviderSlashed)[0]
    assert (event.fromFree, event.fromUnbonding, event.deferred) == (6_000 * STAKE, 0, 0)
    assert staking.providerInfo(registered_provider).unbonding == 4_000 * STAKE


def test_slash__provider_unbonded_everything_first__takes_unbonding_never_reverts(
    staking, registered_provider, slasher_account, treasury, check_books
):
    staking.requestUnbond(PROVIDER_STAKE, sender=registered_provider)

    receipt = slash(staking, slasher_account, registered_provider, 12_000 * STAKE)

    event = receipt.events.filter(staking.ProviderSlashed)[0]
    assert (event.requested, event.fromFree, event.fromUnbonding, event.deferred) == (
        12_000 * STAKE,
        0,
        PROVIDER_STAKE,
        0,
    )
    assert event.treasuryAmount == PROVIDER_STAKE
    assert staking.slashableStake(registered_provider) == 0
    assert staking.providerInfo(registered_provider).jailed
    check_books()

    # nothing left: another slash still does not revert, takes nothing and does not jail twice
    receipt = slash(staking, slasher_account, registered_provider, STAKE)
    event = receipt.events.filter(staking.ProviderSlashed)[0]
    assert (event.fromFree, event.fromUnbonding, event.deferred, event.treasuryAmount) == (0, 0, 0, 0)
    assert receipt.events.filter(staking.ProviderJailed) == []
    assert staking.claimable(treasury) == PROVIDER_STAKE
    check_books()


def test_slash__larger_than_stake__takes_all_and_credits_only_what_was_taken(
    staking, stake_token, registered_provider, slasher_account, beneficiary, treasury, check_books
):
    receipt = slash(
        staking,
        slasher_account,
        registered_provider,
        50_000 * STAKE,
        beneficiary=beneficiary,
        bps=5_000,
        cap=MAX_UINT256,
    )

    event = receipt.events.filter(staking.ProviderSlashed)[0]
    assert (event.fromFree, event.fromUnbonding, event.deferred) == (PROVIDER_STAKE, 0, 0)
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
    assert (event.fromFree, event.fromUnbonding, event.deferred, event.beneficiaryAmount, event.treasuryAmount) == (
        0,
        0,
        0,
        0,
        0,
    )
    assert receipt.events.filter(staking.ProviderJailed) == []
    assert not staking.providerInfo(attacker).jailed
    check_books()


def test_slash__zero_amount__does_not_jail(staking, registered_provider, slasher_account):
    receipt = slash(staking, slasher_account, registered_provider, 0)

    assert receipt.events.filter(staking.ProviderJailed) == []
    assert staking.isActive(registered_provider)


def test_slash__already_jailed__slashes_again_without_second_jail_event(
    staking, registered_provider, slasher_account, treasury
):
    slash(staking, slasher_account, registered_provider, STAKE)

    receipt = slash(staking, slasher_account, registered_provider, 2 * STAKE)

    assert receipt.events.filter(staking.ProviderJailed) == []
    assert staking.providerInfo(registered_provider).totalSlashed == 3 * STAKE
    assert staking.claimable(treasury) == 3 * STAKE


def test_slash__jailed_for_work_then_downtime__second_reason_recorded(
    staking, registered_provider, collateral_manager, slasher_account, beneficiary
):
    staking.lockCollateral(registered_provider, 100 * STAKE, sender=collateral_manager)
    staking.slashCollateral(registered_provider, 100 * STAKE, beneficiary, 5_000, sender=collateral_manager)

    receipt = slash(staking, slasher_account, registered_provider, STAKE)

    assert receipt.events.filter(staking.ProviderJailed) == [
        staking.ProviderJailed(provider=registered_provider.address, forDowntime=True)
    ]
    info = staking.providerInfo(registered_provider)
    assert (info.jailed, info.jailedForDowntime) == (True, True)


# ─────────────────────────── collateral is an obligation (issue 9, item 1) ───────────────────────────


def test_uptime_slash__free_stake_moved_to_unbonding_first__unbonding_slashed_collateral_untouched(
    staking, registered_provider, collateral_manager, slasher_account, beneficiary, treasury, check_books
):
    """The attack: a provider with a live job moves its free stake into unbonding so that the
    uptime slash falls on the job's collateral. Unbonding stake is taken before locked stake."""
    staking.lockCollateral(registered_provider, 6_000 * STAKE, sender=collateral_manager)
    staking.requestUnbond(4_000 * STAKE, sender=registered_provider)

    receipt = slash(staking, slasher_account, registered_provider, 500 * STAKE)

    assert receipt.events.filter(staking.ProviderSlashed) == [
        slashed_event(staking, registered_provider, 500 * STAKE, from_unbonding=500 * STAKE)
    ]
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.locked, info.unbonding, info.shortfall) == (
        6_000 * STAKE,
        6_000 * STAKE,
        3_500 * STAKE,
        0,
    )
    # the job then fails: its client gets exactly its share of the full collateral
    receipt = staking.slashCollateral(registered_provider, 6_000 * STAKE, beneficiary, 5_000, sender=collateral_manager)
    assert receipt.events.filter(staking.CollateralSlashed)[0].beneficiaryAmount == 3_000 * STAKE
    assert staking.claimable(beneficiary) == 3_000 * STAKE
    assert staking.claimable(treasury) == 500 * STAKE + 3_000 * STAKE
    check_books()


def test_uptime_slash__only_locked_stake_left__shortfall_recorded_collateral_kept_whole(
    staking, registered_provider, collateral_manager, slasher_account, beneficiary, treasury, check_books
):
    staking.lockCollateral(registered_provider, 9_800 * STAKE, sender=collateral_manager)
    staking.requestUnbond(100 * STAKE, sender=registered_provider)

    receipt = slash(staking, slasher_account, registered_provider, 500 * STAKE)

    # 100 free, 100 unbonding, the other 300 owed instead of taken from the job's collateral
    assert receipt.events.filter(staking.ProviderSlashed) == [
        slashed_event(
            staking,
            registered_provider,
            500 * STAKE,
            from_free=100 * STAKE,
            from_unbonding=100 * STAKE,
            deferred=300 * STAKE,
        )
    ]
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.locked, info.free, info.unbonding, info.shortfall) == (
        9_800 * STAKE,
        9_800 * STAKE,
        0,
        0,
        300 * STAKE,
    )
    assert staking.claimable(treasury) == 200 * STAKE
    check_books()
    # the job fails: its client's share is of the whole collateral
    staking.slashCollateral(registered_provider, 9_800 * STAKE, beneficiary, 5_000, sender=collateral_manager)
    assert staking.claimable(beneficiary) == 4_900 * STAKE
    # the shortfall is still owed: nothing was forgiven
    assert staking.providerInfo(registered_provider).shortfall == 300 * STAKE
    check_books()


def test_shortfall__provider_tries_to_exit_or_return__shortfall_outstanding_until_repaid(
    protocol, staking, registered_provider, collateral_manager, slasher_account, snapshot_provider
):
    staking.lockCollateral(registered_provider, PROVIDER_STAKE, sender=collateral_manager)
    slash(staking, slasher_account, registered_provider, 500 * STAKE)
    before = snapshot_provider(registered_provider)

    with reverts(staking.ShortfallOutstanding, provider=registered_provider.address, shortfall=500 * STAKE):
        staking.requestUnbond(1, sender=registered_provider)
    with reverts(staking.ShortfallOutstanding, provider=registered_provider.address, shortfall=500 * STAKE):
        staking.withdrawUnbonded(sender=registered_provider)
    with reverts(staking.ShortfallOutstanding, provider=registered_provider.address, shortfall=500 * STAKE):
        staking.unjail(sender=registered_provider)
    with reverts(staking.ProviderIsJailed, provider=registered_provider.address):  # no new jobs either
        staking.lockCollateral(registered_provider, 0, sender=collateral_manager)

    assert snapshot_provider(registered_provider) == before


def test_shortfall__top_up__pays_the_shortfall_first_then_the_rest_is_free(
    protocol, staking, registered_provider, collateral_manager, slasher_account, treasury, check_books
):
    staking.lockCollateral(registered_provider, PROVIDER_STAKE, sender=collateral_manager)
    slash(staking, slasher_account, registered_provider, 500 * STAKE)
    protocol.fund_stake(registered_provider, 800 * STAKE)

    receipt = staking.addStake(200 * STAKE, sender=registered_provider)  # pays part of it
    assert receipt.events.filter(staking.ShortfallPaid) == [
        staking.ShortfallPaid(provider=registered_provider.address, amount=200 * STAKE, remaining=300 * STAKE)
    ]
    receipt = staking.addStake(600 * STAKE, sender=registered_provider)  # the rest, then free stake

    assert receipt.events.filter(staking.ShortfallPaid) == [
        staking.ShortfallPaid(provider=registered_provider.address, amount=300 * STAKE, remaining=0)
    ]
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.locked, info.free, info.shortfall, info.totalSlashed) == (
        PROVIDER_STAKE + 300 * STAKE,
        PROVIDER_STAKE,
        300 * STAKE,
        0,
        500 * STAKE,
    )
    assert staking.claimable(treasury) == 500 * STAKE
    staking.unjail(sender=registered_provider)
    staking.requestUnbond(300 * STAKE, sender=registered_provider)
    check_books()


def test_shortfall__job_ends_without_slash__released_collateral_pays_it(
    staking, registered_provider, collateral_manager, slasher_account, treasury, check_books
):
    staking.lockCollateral(registered_provider, PROVIDER_STAKE, sender=collateral_manager)
    slash(staking, slasher_account, registered_provider, 500 * STAKE)

    receipt = staking.releaseCollateral(registered_provider, 2_000 * STAKE, sender=collateral_manager)

    assert receipt.events.filter(staking.CollateralReleased) == [
        staking.CollateralReleased(provider=registered_provider.address, amount=2_000 * STAKE, locked=8_000 * STAKE)
    ]
    assert receipt.events.filter(staking.ShortfallPaid) == [
        staking.ShortfallPaid(provider=registered_provider.address, amount=500 * STAKE, remaining=0)
    ]
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.locked, info.free, info.shortfall) == (9_500 * STAKE, 8_000 * STAKE, 1_500 * STAKE, 0)
    assert staking.claimable(treasury) == 500 * STAKE
    check_books()


def test_shortfall__failed_job_after_uptime_slash__client_gets_exact_share_of_that_job(
    protocol, staking, escrow, client, registered_provider, slasher_account, treasury, check_books
):
    """End to end through the escrow: two live jobs lock all free stake, an uptime slash cannot
    touch them, one job fails and its client receives exactly its documented share."""
    first = protocol.accepted_job(client, registered_provider, unit_price=100 * 10**6, max_units=100)  # 5,000 locked
    second = protocol.accepted_job(client, registered_provider, unit_price=100 * 10**6, max_units=100)  # 5,000 locked
    assert staking.providerInfo(registered_provider).free == 0

    slash(staking, slasher_account, registered_provider, 500 * STAKE)
    assert staking.providerInfo(registered_provider).shortfall == 500 * STAKE

    receipt = protocol.attest(first, success=False, units=0)
    collateral = escrow.job(first).collateral
    share = collateral * escrow.terms(escrow.job(first).termsId).clientSlashShareBps // BPS
    event = receipt.events.filter(escrow.JobRefunded)[0]
    assert (event.collateralSlashed, event.clientCollateralShare) == (collateral, share)
    assert staking.claimable(client) == share
    info = staking.providerInfo(registered_provider)
    assert (info.locked, info.staked, info.shortfall) == (5_000 * STAKE, 5_000 * STAKE, 500 * STAKE)
    # the other job settles: its released collateral pays the shortfall
    protocol.attest(second, units=100)
    protocol.warp(3_601)
    escrow.settle(second, sender=client)
    info = staking.providerInfo(registered_provider)
    assert (info.locked, info.staked, info.shortfall) == (0, 4_500 * STAKE, 0)
    assert staking.claimable(treasury) == collateral - share + 500 * STAKE
    check_books()


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
    receipt = slash(
        staking, slasher_account, registered_provider, 1_000 * STAKE, beneficiary=beneficiary, bps=bps, cap=cap
    )

    expected_treasury = 1_000 * STAKE - expected_beneficiary
    assert receipt.events.filter(staking.ProviderSlashed) == [
        slashed_event(
            staking,
            registered_provider,
            1_000 * STAKE,
            from_free=1_000 * STAKE,
            beneficiary=beneficiary,
            beneficiary_amount=expected_beneficiary,
            treasury_amount=expected_treasury,
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


def test_slash__provider_named_as_beneficiary__no_part_of_its_own_slash(
    staking, registered_provider, slasher_account, treasury, check_books
):
    """Regression (issue 9, item 2): a slashed provider never receives any part of its own slash."""
    receipt = slash(
        staking,
        slasher_account,
        registered_provider,
        1_000 * STAKE,
        beneficiary=registered_provider,
        bps=BPS,
        cap=MAX_UINT256,
    )

    event = receipt.events.filter(staking.ProviderSlashed)[0]
    assert (event.beneficiary, event.beneficiaryAmount, event.treasuryAmount) == (ZERO_ADDRESS, 0, 1_000 * STAKE)
    assert staking.claimable(registered_provider) == 0
    assert staking.claimable(treasury) == 1_000 * STAKE
    check_books()


def test_slash__share_above_10000_bps__reverts_bps_out_of_range(
    staking, registered_provider, slasher_account, beneficiary, snapshot_provider
):
    before = snapshot_provider(registered_provider)

    with reverts(staking.BpsOutOfRange, min=0, max=BPS, value=BPS + 1):
        slash(
            staking, slasher_account, registered_provider, STAKE, beneficiary=beneficiary, bps=BPS + 1, cap=MAX_UINT256
        )

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
    staking.releaseCollateral(registered_provider, 500 * STAKE, sender=collateral_manager)
    # free 3,500, then 2,500 of the 5,000 unbonding
    slash(
        staking,
        slasher_account,
        registered_provider,
        6_000 * STAKE,
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
    # what is left is exactly the providers' remaining stake: the locked 1,500 and nothing else
    assert staking.totalStaked() == staking.stakeOf(registered_provider) + staking.stakeOf(other_provider)
    assert (staking.totalUnbonding(), staking.totalClaimable()) == (0, 0)
    assert staking.stakeOf(other_provider) == 0 and staking.stakeOf(registered_provider) == 1_500 * STAKE
    assert staking.minStake() == MIN_STAKE
