"""Issue 9, item 9: refunds depend on the slash call.

A failed job's refund is credited in the same call that slashes the provider's collateral
(`staking.slashCollateral`, which needs the escrow to hold COLLATERAL_MANAGER_ROLE on staking).
If governance takes that role away, every refund path must fail loudly, with the staking
contract's named error, and leave the job where it was: nothing credited, nothing half-done, and
the same call goes through once the role is back. Nothing is lost.
"""

from types import SimpleNamespace

import pytest

from tests.support.escrow import (
    BOND,
    CLIENT_SLASH_SHARE_BPS,
    COLLATERAL,
    ESCROW,
    STAKE,
    Status,
    as_dict,
    assert_event,
    job_view,
)
from tests.support.reverts import error_data, reverts

CLIENT_SHARE = COLLATERAL * CLIENT_SLASH_SHARE_BPS // 10_000


def test_roles__deployment__escrow_holds_collateral_manager_role_and_no_slasher_role(
    deployment, staking, escrow, slasher
):
    assert staking.hasRole(staking.COLLATERAL_MANAGER_ROLE(), escrow)
    assert not staking.hasRole(staking.SLASHER_ROLE(), escrow)  # it cannot take free or unbonding stake
    assert staking.hasRole(staking.SLASHER_ROLE(), slasher)


@pytest.fixture
def role_revoked(staking, escrow, governance):
    """Governance has taken the escrow's COLLATERAL_MANAGER_ROLE on staking;
    ``role_revoked.grant_back()`` gives it back."""
    role = staking.COLLATERAL_MANAGER_ROLE()
    staking.revokeRole(role, escrow, sender=governance)
    assert not staking.hasRole(role, escrow)
    return SimpleNamespace(grant_back=lambda: staking.grantRole(role, escrow, sender=governance))


def books(escrow, staking, usd, job_id, accounts):
    """Everything a refused refund must leave alone."""
    return {
        "job": job_view(escrow, job_id),
        "escrow_claimable": [escrow.claimable(a, usd) for a in accounts],
        "staking_claimable": [staking.claimable(a) for a in accounts],
        "usd_held": usd.balanceOf(escrow),
        "provider": as_dict(staking.providerInfo(accounts[1])),
        "totals": (staking.totalStaked(), staking.totalClaimable()),
    }


REFUND_PATHS = ["failure-attestation", "expiry", "upheld-dispute"]


@pytest.mark.parametrize("path", REFUND_PATHS)
def test_refund__escrow_lost_collateral_manager_role__reverts_with_staking_error_then_refunds_in_full_once_granted(
    protocol,
    escrow,
    staking,
    usd,
    client,
    registered_provider,
    treasury,
    arbitrator,
    attacker,
    accepted_job,
    role_revoked,
    path,
):
    job_id = accepted_job
    bond = 0
    if path == "expiry":
        protocol.warp_to(escrow.job(job_id).deadline + 1)
    if path == "upheld-dispute":
        protocol.attest(job_id, success=True, units=60)
        usd.mint(client, BOND, sender=client)
        escrow.dispute(job_id, sender=client)
        bond = BOND
    waiting = Status.DISPUTED if path == "upheld-dispute" else Status.ACCEPTED

    def refund():
        if path == "failure-attestation":
            return protocol.attest(job_id, success=False, units=0, sender=attacker)
        if path == "expiry":
            return escrow.reclaimExpired(job_id, sender=attacker)
        return escrow.resolveDispute(job_id, True, sender=arbitrator)

    accounts = [client, registered_provider, treasury, attacker]
    before = books(escrow, staking, usd, job_id, accounts)

    with reverts(
        staking.AccessControlUnauthorizedAccount, account=escrow, neededRole=staking.COLLATERAL_MANAGER_ROLE()
    ):
        refund()

    assert books(escrow, staking, usd, job_id, accounts) == before
    assert escrow.jobStatus(job_id) == waiting
    assert escrow.claimable(client, usd) == 0
    assert staking.claimable(client) == 0
    info = staking.providerInfo(registered_provider)
    assert (info.locked, info.jailed, info.totalSlashed) == (COLLATERAL, False, 0)

    role_revoked.grant_back()
    receipt = refund()

    status = Status.EXPIRED if path == "expiry" else Status.FAILED
    assert_event(
        receipt,
        escrow.JobRefunded,
        jobId=job_id,
        client=client,
        status=status,
        refund=ESCROW + bond,
        collateralSlashed=COLLATERAL,
        clientCollateralShare=CLIENT_SHARE,
    )
    assert escrow.claimable(client, usd) == ESCROW + bond
    assert staking.claimable(client) == CLIENT_SHARE
    assert staking.claimable(treasury) == COLLATERAL - CLIENT_SHARE
    # The client takes it all out: nothing was lost on the way.
    balance = usd.balanceOf(client)
    escrow.withdraw(usd, sender=client)
    staking.claim(sender=client)
    assert usd.balanceOf(client) == balance + ESCROW + bond
    assert protocol.stake_token.balanceOf(client) == CLIENT_SHARE


def test_refund__batch_attestation_without_collateral_manager_role__item_skipped_with_staking_error(
    protocol, hub, escrow, staking, usd, client, registered_provider, treasury, attacker, accepted_job, role_revoked
):
    failure = protocol.attestation(accepted_job, success=False, units=0)
    signatures = protocol.sign(protocol.attestation_digest(failure))
    accounts = [client, registered_provider, treasury, attacker]
    before = books(escrow, staking, usd, accepted_job, accounts)

    assert hub.submitAttestations.call([failure], [signatures], sender=attacker) == 0
    receipt = hub.submitAttestations([failure], [signatures], sender=attacker)

    assert receipt.events == [
        hub.AttestationSkipped(
            jobId=accepted_job,
            reason=error_data(
                staking.AccessControlUnauthorizedAccount, account=escrow, neededRole=staking.COLLATERAL_MANAGER_ROLE()
            ),
        )
    ]
    assert books(escrow, staking, usd, accepted_job, accounts) == before
    assert escrow.jobStatus(accepted_job) == Status.ACCEPTED

    role_revoked.grant_back()
    receipt = hub.submitAttestations([failure], [signatures], sender=attacker)

    assert receipt.events.filter(hub.AttestationSkipped) == []
    assert escrow.jobStatus(accepted_job) == Status.FAILED
    assert escrow.claimable(client, usd) == ESCROW
    assert staking.claimable(client) == CLIENT_SHARE


def test_settle__escrow_lost_collateral_manager_role__reverts_with_staking_error_then_pays_once_granted(
    protocol, escrow, staking, usd, client, registered_provider, treasury, attacker, attested_job, role_revoked
):
    # A payout releases the collateral in the same call: it fails just as loudly.
    protocol.warp_to(escrow.job(attested_job).challengeEnds)
    accounts = [client, registered_provider, treasury, attacker]
    before = books(escrow, staking, usd, attested_job, accounts)

    for settle in (
        lambda: escrow.settle(attested_job, sender=attacker),
        lambda: escrow.settleMany([attested_job], sender=attacker),
    ):
        with reverts(
            staking.AccessControlUnauthorizedAccount, account=escrow, neededRole=staking.COLLATERAL_MANAGER_ROLE()
        ):
            settle()
        assert books(escrow, staking, usd, attested_job, accounts) == before

    role_revoked.grant_back()
    escrow.settle(attested_job, sender=attacker)

    assert escrow.jobStatus(attested_job) == Status.SETTLED
    assert (
        escrow.claimable(client, usd) + escrow.claimable(registered_provider, usd) + escrow.claimable(treasury, usd)
        == ESCROW
    )
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.locked) == (10_000 * STAKE, 0)
