"""ProviderStaking: what providers (and claimants) call themselves.

register, setMetadataURI, addStake, requestUnbond, withdrawUnbonded, unjail, claim, the views
and the constructor. Every revert is asserted by its named error and arguments, and followed by a
check that nothing changed.
"""

import pytest

from tests.support.protocol import STAKE
from tests.support.reverts import reverts
from tests.support.staking import MIN_STAKE, PROVIDER_STAKE, UNBONDING_DELAY, ZERO_ADDRESS

URI = "ipfs://provider-meta"  # what protocol.register uses


# ─────────────────────────────── register ───────────────────────────────


def test_register__first_stake__recorded_with_events(protocol, staking, stake_token, provider, check_books):
    protocol.fund_stake(provider, 2_000 * STAKE)

    receipt = staking.register("ipfs://gpu-h100", 2_000 * STAKE, sender=provider)

    assert receipt.events.filter(staking.ProviderRegistered) == [
        staking.ProviderRegistered(provider=provider.address, metadataURI="ipfs://gpu-h100", amount=2_000 * STAKE)
    ]
    assert receipt.events.filter(staking.StakeAdded) == [
        staking.StakeAdded(provider=provider.address, amount=2_000 * STAKE, staked=2_000 * STAKE)
    ]
    assert receipt.events.filter(stake_token.Transfer) == [
        stake_token.Transfer(**{"from": provider.address, "to": staking.address, "value": 2_000 * STAKE})
    ]
    info = staking.providerInfo(provider)
    assert info.slaFrom == receipt.timestamp  # the uptime SLA applies from the next epoch on
    assert info.registered and not info.jailed
    assert (info.staked, info.locked, info.free, info.unbonding, info.unbondingEnd) == (
        2_000 * STAKE,
        0,
        2_000 * STAKE,
        0,
        0,
    )
    assert (info.totalSlashed, info.totalDeposited) == (0, 2_000 * STAKE)
    assert info.metadataURI == "ipfs://gpu-h100"
    assert staking.isRegistered(provider) and staking.isActive(provider)
    assert stake_token.balanceOf(provider) == 0
    assert staking.totalStaked() == 2_000 * STAKE
    check_books()


def test_register__exactly_min_stake__accepted(protocol, staking, provider):
    protocol.register(provider, MIN_STAKE)
    assert staking.stakeOf(provider) == MIN_STAKE
    assert staking.isActive(provider)


def test_register__twice__reverts_already_registered(protocol, staking, registered_provider, snapshot_provider):
    protocol.fund_stake(registered_provider, MIN_STAKE)
    before = snapshot_provider(registered_provider)

    with reverts(staking.AlreadyRegistered, provider=registered_provider.address):
        staking.register("ipfs://other", MIN_STAKE, sender=registered_provider)

    assert snapshot_provider(registered_provider) == before
    assert staking.providerInfo(registered_provider).metadataURI == URI


def test_register__zero_amount__reverts_zero_amount(protocol, staking, provider, snapshot_provider):
    protocol.fund_stake(provider, MIN_STAKE)
    before = snapshot_provider(provider)

    with reverts(staking.ZeroAmount):
        staking.register(URI, 0, sender=provider)

    assert snapshot_provider(provider) == before
    assert not staking.isRegistered(provider)


def test_register__below_min_stake__reverts_stake_below_minimum(
    protocol, staking, stake_token, provider, snapshot_provider
):
    protocol.fund_stake(provider, MIN_STAKE)
    before = snapshot_provider(provider)

    with reverts(staking.StakeBelowMinimum, minStake=MIN_STAKE, stake=MIN_STAKE - 1):
        staking.register(URI, MIN_STAKE - 1, sender=provider)

    assert snapshot_provider(provider) == before
    assert not staking.isRegistered(provider)
    assert stake_token.balanceOf(provider) == MIN_STAKE


# ─────────────────────────────── setMetadataURI ───────────────────────────────


def test_set_metadata_uri__registered__replaces_and_emits(staking, registered_provider):
    receipt = staking.setMetadataURI("https://node.example/meta.json", sender=registered_provider)

    assert receipt.events.filter(staking.ProviderMetadataUpdated) == [
        staking.ProviderMetadataUpdated(
            provider=registered_provider.address, metadataURI="https://node.example/meta.json"
        )
    ]
    assert staking.providerInfo(registered_provider).metadataURI == "https://node.example/meta.json"


def test_set_metadata_uri__unregistered__reverts_not_registered(staking, attacker):
    with reverts(staking.NotRegistered, provider=attacker.address):
        staking.setMetadataURI("ipfs://spoof", sender=attacker)

    assert staking.providerInfo(attacker).metadataURI == ""
    assert not staking.isRegistered(attacker)


# ─────────────────────────────── addStake ───────────────────────────────


def test_add_stake__registered__adds_and_emits(protocol, staking, registered_provider, check_books):
    protocol.fund_stake(registered_provider, 500 * STAKE)

    receipt = staking.addStake(500 * STAKE, sender=registered_provider)

    assert receipt.events.filter(staking.StakeAdded) == [
        staking.StakeAdded(
            provider=registered_provider.address, amount=500 * STAKE, staked=PROVIDER_STAKE + 500 * STAKE
        )
    ]
    info = staking.providerInfo(registered_provider)
    assert info.staked == PROVIDER_STAKE + 500 * STAKE
    assert info.totalDeposited == PROVIDER_STAKE + 500 * STAKE
    check_books()


def test_add_stake__unregistered__reverts_not_registered(protocol, staking, attacker, snapshot_provider):
    protocol.fund_stake(attacker, MIN_STAKE)
    before = snapshot_provider(attacker)

    with reverts(staking.NotRegistered, provider=attacker.address):
        staking.addStake(MIN_STAKE, sender=attacker)

    assert snapshot_provider(attacker) == before


def test_add_stake__zero__reverts_zero_amount(staking, registered_provider, snapshot_provider):
    before = snapshot_provider(registered_provider)

    with reverts(staking.ZeroAmount):
        staking.addStake(0, sender=registered_provider)

    assert snapshot_provider(registered_provider) == before


def test_add_stake__while_jailed__works_and_stays_jailed(
    protocol, staking, registered_provider, slasher_account, treasury, check_books
):
    staking.slash(registered_provider, STAKE, ZERO_ADDRESS, 0, 0, sender=slasher_account)
    assert staking.providerInfo(registered_provider).jailed
    protocol.fund_stake(registered_provider, 100 * STAKE)

    staking.addStake(100 * STAKE, sender=registered_provider)

    info = staking.providerInfo(registered_provider)
    assert info.staked == PROVIDER_STAKE - STAKE + 100 * STAKE
    assert info.jailed  # adding stake does not unjail by itself
    assert not staking.isActive(registered_provider)
    check_books()


# ─────────────────────────────── requestUnbond ───────────────────────────────


def test_request_unbond__free_stake__moves_to_unbonding_and_emits(staking, registered_provider, check_books):
    receipt = staking.requestUnbond(4_000 * STAKE, sender=registered_provider)

    end = receipt.timestamp + UNBONDING_DELAY
    assert receipt.events.filter(staking.UnbondRequested) == [
        staking.UnbondRequested(
            provider=registered_provider.address, amount=4_000 * STAKE, unbonding=4_000 * STAKE, unbondingEnd=end
        )
    ]
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.unbonding, info.unbondingEnd) == (6_000 * STAKE, 4_000 * STAKE, end)
    assert staking.slashableStake(registered_provider) == PROVIDER_STAKE
    assert staking.totalStaked() == 6_000 * STAKE and staking.totalUnbonding() == 4_000 * STAKE
    check_books()


def test_request_unbond__unregistered__reverts_not_registered(staking, attacker):
    with reverts(staking.NotRegistered, provider=attacker.address):
        staking.requestUnbond(1, sender=attacker)


def test_request_unbond__zero__reverts_zero_amount(staking, registered_provider, snapshot_provider):
    before = snapshot_provider(registered_provider)

    with reverts(staking.ZeroAmount):
        staking.requestUnbond(0, sender=registered_provider)

    assert snapshot_provider(registered_provider) == before


def test_request_unbond__more_than_staked__reverts_insufficient_free_stake(
    staking, registered_provider, snapshot_provider
):
    before = snapshot_provider(registered_provider)

    with reverts(staking.InsufficientFreeStake, free=PROVIDER_STAKE, requested=PROVIDER_STAKE + 1):
        staking.requestUnbond(PROVIDER_STAKE + 1, sender=registered_provider)

    assert snapshot_provider(registered_provider) == before


def test_request_unbond__locked_collateral__not_unbondable(
    staking, escrow, accepted_job, registered_provider, snapshot_provider, check_books
):
    collateral = escrow.job(accepted_job).collateral
    assert collateral == 5 * STAKE  # 10 USD escrow at the default 50% collateral rate
    assert staking.providerInfo(registered_provider).locked == collateral
    free = PROVIDER_STAKE - collateral
    before = snapshot_provider(registered_provider)

    with reverts(staking.InsufficientFreeStake, free=free, requested=PROVIDER_STAKE):
        staking.requestUnbond(PROVIDER_STAKE, sender=registered_provider)
    with reverts(staking.InsufficientFreeStake, free=free, requested=free + 1):
        staking.requestUnbond(free + 1, sender=registered_provider)
    assert snapshot_provider(registered_provider) == before

    staking.requestUnbond(free, sender=registered_provider)  # exactly the free part is fine
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.locked, info.free, info.unbonding) == (collateral, collateral, 0, free)
    check_books()


# ─────────────────────────────── withdrawUnbonded ───────────────────────────────


def test_withdraw_unbonded__nothing_unbonding__reverts(staking, registered_provider, attacker, snapshot_provider):
    before = snapshot_provider(registered_provider)

    with reverts(staking.NothingUnbonding, provider=registered_provider.address):
        staking.withdrawUnbonded(sender=registered_provider)
    with reverts(staking.NothingUnbonding, provider=attacker.address):
        staking.withdrawUnbonded(sender=attacker)

    assert snapshot_provider(registered_provider) == before


def test_withdraw_unbonded__one_second_early_reverts__exactly_at_end_pays(
    protocol, staking, stake_token, registered_provider, snapshot_provider, check_books
):
    end = staking.requestUnbond(3_000 * STAKE, sender=registered_provider).timestamp + UNBONDING_DELAY
    before = snapshot_provider(registered_provider)

    protocol.warp_to(end - 1)
    with reverts(staking.UnbondingNotElapsed, unbondingEnd=end, nowTime=end - 1):
        staking.withdrawUnbonded(sender=registered_provider)
    assert snapshot_provider(registered_provider) == before

    protocol.warp_to(end)
    receipt = staking.withdrawUnbonded(sender=registered_provider)

    assert receipt.timestamp == end
    assert receipt.events.filter(staking.UnbondWithdrawn) == [
        staking.UnbondWithdrawn(provider=registered_provider.address, amount=3_000 * STAKE)
    ]
    assert stake_token.balanceOf(registered_provider) == 3_000 * STAKE
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.unbonding, info.unbondingEnd) == (7_000 * STAKE, 0, 0)
    check_books()

    with reverts(staking.NothingUnbonding, provider=registered_provider.address):
        staking.withdrawUnbonded(sender=registered_provider)


def test_withdraw_unbonded__second_request__restarts_delay_for_whole_amount(
    protocol, staking, stake_token, registered_provider, check_books
):
    first_end = staking.requestUnbond(1_000 * STAKE, sender=registered_provider).timestamp + UNBONDING_DELAY
    protocol.warp(3 * 86_400)
    receipt = staking.requestUnbond(500 * STAKE, sender=registered_provider)
    second_end = receipt.timestamp + UNBONDING_DELAY
    assert receipt.events.filter(staking.UnbondRequested)[0].unbonding == 1_500 * STAKE
    assert staking.providerInfo(registered_provider).unbondingEnd == second_end > first_end

    protocol.warp_to(first_end)  # the first request's delay is over, but it was restarted
    with reverts(staking.UnbondingNotElapsed, unbondingEnd=second_end, nowTime=first_end):
        staking.withdrawUnbonded(sender=registered_provider)

    protocol.warp_to(second_end)
    staking.withdrawUnbonded(sender=registered_provider)
    assert stake_token.balanceOf(registered_provider) == 1_500 * STAKE
    check_books()


def test_request_unbond__delay_lowered__pending_end_not_shortened(protocol, staking, governance, registered_provider):
    # Regression: a 1-wei request after governance lowered the delay used to pull the end of
    # everything already unbonding forward to now + the new, shorter delay.
    first_end = staking.requestUnbond(1_000 * STAKE, sender=registered_provider).timestamp + UNBONDING_DELAY
    staking.setUnbondingDelay(2 * 86_400, sender=governance)

    receipt = staking.requestUnbond(1, sender=registered_provider)

    assert receipt.timestamp + 2 * 86_400 < first_end
    assert staking.providerInfo(registered_provider).unbondingEnd == first_end
    assert receipt.events.filter(staking.UnbondRequested) == [
        staking.UnbondRequested(
            provider=registered_provider.address, amount=1, unbonding=1_000 * STAKE + 1, unbondingEnd=first_end
        )
    ]
    protocol.warp_to(first_end - 1)
    with reverts(staking.UnbondingNotElapsed, unbondingEnd=first_end, nowTime=first_end - 1):
        staking.withdrawUnbonded(sender=registered_provider)


# ─────────────────────────────── unjail ───────────────────────────────


def test_unjail__not_jailed__reverts_provider_not_jailed(staking, registered_provider, attacker, snapshot_provider):
    before = snapshot_provider(registered_provider)

    with reverts(staking.ProviderNotJailed, provider=registered_provider.address):
        staking.unjail(sender=registered_provider)
    with reverts(staking.ProviderNotJailed, provider=attacker.address):
        staking.unjail(sender=attacker)

    assert snapshot_provider(registered_provider) == before


def test_unjail__under_min_stake__reverts_then_top_up_unjails(
    protocol, staking, registered_provider, slasher_account, snapshot_provider, check_books
):
    staking.slash(registered_provider, 9_500 * STAKE, ZERO_ADDRESS, 0, 0, sender=slasher_account)
    assert staking.stakeOf(registered_provider) == 500 * STAKE
    before = snapshot_provider(registered_provider)

    with reverts(staking.StakeBelowMinimum, minStake=MIN_STAKE, stake=500 * STAKE):
        staking.unjail(sender=registered_provider)
    assert snapshot_provider(registered_provider) == before
    assert staking.providerInfo(registered_provider).jailed

    protocol.fund_stake(registered_provider, 500 * STAKE)
    staking.addStake(500 * STAKE, sender=registered_provider)  # back to exactly minStake
    receipt = staking.unjail(sender=registered_provider)

    # jailed for downtime: the SLA applies again to epochs starting after the unjail
    assert receipt.events.filter(staking.ProviderUnjailed) == [
        staking.ProviderUnjailed(provider=registered_provider.address, slaFrom=receipt.timestamp)
    ]
    assert staking.providerInfo(registered_provider).slaFrom == receipt.timestamp
    assert not staking.providerInfo(registered_provider).jailed
    assert staking.isActive(registered_provider)
    check_books()


def test_unjail__enough_stake_left__unjails_at_once(staking, registered_provider, slasher_account):
    staking.slash(registered_provider, 100 * STAKE, ZERO_ADDRESS, 0, 0, sender=slasher_account)
    assert not staking.isActive(registered_provider)

    staking.unjail(sender=registered_provider)

    assert staking.isActive(registered_provider)


# ─────────────────────────────── claim ───────────────────────────────


def test_claim__nothing__reverts_nothing_to_claim(staking, attacker, treasury):
    with reverts(staking.NothingToClaim, account=attacker.address):
        staking.claim(sender=attacker)
    with reverts(staking.NothingToClaim, account=treasury.address):
        staking.claim(sender=treasury)


def test_claim__slash_proceeds__paid_once(
    staking, stake_token, registered_provider, slasher_account, beneficiary, treasury, check_books
):
    staking.slash(registered_provider, 1_000 * STAKE, beneficiary, 3_000, 2**256 - 1, sender=slasher_account)
    assert staking.claimable(beneficiary) == 300 * STAKE
    assert staking.claimable(treasury) == 700 * STAKE

    receipt = staking.claim(sender=beneficiary)

    assert receipt.events.filter(staking.Claimed) == [staking.Claimed(account=beneficiary.address, amount=300 * STAKE)]
    assert stake_token.balanceOf(beneficiary) == 300 * STAKE
    assert staking.claimable(beneficiary) == 0
    assert staking.totalClaimable() == 700 * STAKE
    check_books()
    with reverts(staking.NothingToClaim, account=beneficiary.address):
        staking.claim(sender=beneficiary)
    assert stake_token.balanceOf(beneficiary) == 300 * STAKE

    staking.claim(sender=treasury)
    assert stake_token.balanceOf(treasury) == 700 * STAKE
    assert staking.totalClaimable() == 0
    check_books()


# ─────────────────────────────── views ───────────────────────────────


def test_views__unregistered_account__all_zero(staking, attacker):
    info = staking.providerInfo(attacker)
    assert not info.registered and not info.jailed
    assert (info.staked, info.locked, info.free, info.unbonding, info.unbondingEnd) == (0, 0, 0, 0, 0)
    assert (info.totalSlashed, info.totalDeposited, info.metadataURI) == (0, 0, "")
    assert not staking.isRegistered(attacker)
    assert not staking.isActive(attacker)
    assert staking.stakeOf(attacker) == 0
    assert staking.slashableStake(attacker) == 0
    assert staking.claimable(attacker) == 0


def test_views__track_stake_unbonding_and_min_stake(staking, registered_provider, governance):
    staking.requestUnbond(2_500 * STAKE, sender=registered_provider)

    assert staking.stakeOf(registered_provider) == 7_500 * STAKE
    assert staking.slashableStake(registered_provider) == PROVIDER_STAKE
    assert staking.isActive(registered_provider)

    staking.setMinStake(7_500 * STAKE + 1, sender=governance)
    assert not staking.isActive(registered_provider)  # registered, not jailed, but under minStake
    assert staking.isRegistered(registered_provider)
    staking.setMinStake(7_500 * STAKE, sender=governance)
    assert staking.isActive(registered_provider)


def test_views__deployment_parameters(staking, stake_token, treasury, governance):
    assert staking.stakingToken() == stake_token.address
    assert staking.treasury() == treasury.address
    assert staking.minStake() == MIN_STAKE
    assert staking.unbondingDelay() == UNBONDING_DELAY
    assert staking.MAX_UNBONDING_DELAY() == 365 * 86_400
    assert staking.hasRole(staking.GOVERNOR_ROLE(), governance)
    assert staking.hasRole(staking.DEFAULT_ADMIN_ROLE(), governance)


# ─────────────────────────────── constructor ───────────────────────────────


@pytest.mark.parametrize("zero", ["token", "admin", "treasury"])
def test_constructor__zero_address__reverts(project, staking, stake_token, governance, treasury, zero):
    args = {"token": stake_token.address, "admin": governance.address, "treasury": treasury.address}
    args[zero] = ZERO_ADDRESS

    with reverts(project.ProviderStaking.ZeroAddress):
        project.ProviderStaking.deploy(
            args["token"], args["admin"], args["treasury"], MIN_STAKE, UNBONDING_DELAY, sender=governance
        )


def test_constructor__delay_above_max__out_of_range_from_zero(project, stake_token, governance, treasury):
    """No report window is declared yet, so the range starts at 0 (any delay up to the cap)."""
    max_delay = 365 * 86_400
    with reverts(project.ProviderStaking.UnbondingDelayOutOfRange, min=0, max=max_delay, value=max_delay + 1):
        project.ProviderStaking.deploy(
            stake_token.address, governance.address, treasury.address, MIN_STAKE, max_delay + 1, sender=governance
        )


def test_constructor__fresh_deploy__sets_parameters_and_emits(project, stake_token, governance, treasury):
    fresh = project.ProviderStaking.deploy(
        stake_token.address, governance.address, treasury.address, 5 * STAKE, 3_600, sender=governance
    )

    assert (fresh.stakingToken(), fresh.treasury(), fresh.minStake(), fresh.unbondingDelay()) == (
        stake_token.address,
        treasury.address,
        5 * STAKE,
        3_600,
    )
    receipt = fresh.creation_metadata.receipt
    assert receipt.events.filter(fresh.MinStakeSet) == [fresh.MinStakeSet(minStake=5 * STAKE)]
    assert receipt.events.filter(fresh.UnbondingDelaySet) == [fresh.UnbondingDelaySet(unbondingDelay=3_600)]
    assert receipt.events.filter(fresh.TreasurySet) == [fresh.TreasurySet(treasury=treasury.address)]


# ─────────────────────────────── leave (issue 9, item 6) ───────────────────────────────


def test_leave__registered_provider__no_new_jobs_and_recorded(
    staking, registered_provider, collateral_manager, snapshot_provider
):
    receipt = staking.leave(sender=registered_provider)

    assert receipt.events.filter(staking.ProviderLeft) == [
        staking.ProviderLeft(provider=registered_provider.address, leftAt=receipt.timestamp)
    ]
    info = staking.providerInfo(registered_provider)
    assert (info.left, info.leftAt, info.jailed) == (True, receipt.timestamp, False)
    assert not staking.isActive(registered_provider)
    before = snapshot_provider(registered_provider)
    with reverts(staking.ProviderHasLeft, provider=registered_provider.address):
        staking.lockCollateral(registered_provider, STAKE, sender=collateral_manager)
    assert snapshot_provider(registered_provider) == before


def test_leave__twice__reverts_provider_has_left(staking, registered_provider, snapshot_provider):
    staking.leave(sender=registered_provider)
    before = snapshot_provider(registered_provider)

    with reverts(staking.ProviderHasLeft, provider=registered_provider.address):
        staking.leave(sender=registered_provider)

    assert snapshot_provider(registered_provider) == before


def test_leave__not_registered__reverts_not_registered(staking, attacker, snapshot_provider):
    before = snapshot_provider(attacker)

    with reverts(staking.NotRegistered, provider=attacker.address):
        staking.leave(sender=attacker)

    assert snapshot_provider(attacker) == before


def test_leave__with_a_live_job__job_runs_to_its_end_and_stake_exits(
    protocol, staking, stake_token, registered_provider, collateral_manager, check_books
):
    staking.lockCollateral(registered_provider, 2_000 * STAKE, sender=collateral_manager)
    staking.leave(sender=registered_provider)

    staking.requestUnbond(8_000 * STAKE, sender=registered_provider)  # the free part leaves at once
    staking.releaseCollateral(registered_provider, 2_000 * STAKE, sender=collateral_manager)  # the job ends
    staking.requestUnbond(2_000 * STAKE, sender=registered_provider)
    protocol.warp(UNBONDING_DELAY)
    staking.withdrawUnbonded(sender=registered_provider)

    assert stake_token.balanceOf(registered_provider) == PROVIDER_STAKE
    check_books()


def test_unjail__after_a_work_jail__sla_start_unchanged(staking, registered_provider, collateral_manager, beneficiary):
    """Only a downtime jail suspends the SLA; unjailing from a failed job's jail must not
    excuse earlier epochs."""
    sla_from = staking.providerInfo(registered_provider).slaFrom
    staking.lockCollateral(registered_provider, 100 * STAKE, sender=collateral_manager)
    staking.slashCollateral(registered_provider, 100 * STAKE, beneficiary, 5_000, sender=collateral_manager)

    receipt = staking.unjail(sender=registered_provider)

    assert receipt.events.filter(staking.ProviderUnjailed) == [
        staking.ProviderUnjailed(provider=registered_provider.address, slaFrom=sla_from)
    ]
    assert staking.providerInfo(registered_provider).slaFrom == sla_from
