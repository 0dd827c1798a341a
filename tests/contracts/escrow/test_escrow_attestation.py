"""JobEscrow.recordAttestation (through the AttestationHub) and JobEscrow.reclaimExpired."""

from tests.support.escrow import (
    CHALLENGE_WINDOW,
    CLIENT_SLASH_SHARE_BPS,
    COLLATERAL,
    ESCROW,
    MAX_UNITS,
    RESULT_HASH,
    STAKE,
    Status,
    as_dict,
    assert_event,
    events,
    job_view,
    role_error,
)
from tests.support.reverts import reverts

CLIENT_SHARE = COLLATERAL * CLIENT_SLASH_SHARE_BPS // 10_000


def assert_refunded_and_slashed(escrow, staking, usd, client, provider, treasury, receipt, job_id, status):
    """The whole escrow is claimable by the client, the collateral is slashed and split, the provider jailed."""
    assert_event(
        receipt,
        escrow.JobRefunded,
        jobId=job_id,
        client=client,
        status=status,
        refund=ESCROW,
        collateralSlashed=COLLATERAL,
        clientCollateralShare=CLIENT_SHARE,
    )
    # Exactly the job's collateral, through the collateral path: never an uptime slash.
    assert_event(
        receipt,
        staking.CollateralSlashed,
        provider=provider,
        beneficiary=client,
        amount=COLLATERAL,
        beneficiaryAmount=CLIENT_SHARE,
        treasuryAmount=COLLATERAL - CLIENT_SHARE,
    )
    assert events(receipt, staking.ProviderSlashed) == []
    assert escrow.jobStatus(job_id) == status
    assert escrow.claimable(client, usd) == ESCROW
    assert escrow.claimable(provider, usd) == 0
    assert escrow.claimable(treasury, usd) == 0
    assert staking.claimable(client) == CLIENT_SHARE
    assert staking.claimable(treasury) == COLLATERAL - CLIENT_SHARE
    info = as_dict(staking.providerInfo(provider))
    assert (info["staked"], info["locked"], info["jailed"], info["totalSlashed"]) == (
        10_000 * STAKE - COLLATERAL,
        0,
        True,
        COLLATERAL,
    )


# ─────────────────────────────── access ───────────────────────────────


def test_record_attestation__direct_call__unauthorized(
    escrow, attacker, governance, registered_provider, accepted_job, state
):
    before = state(accepted_job)

    for caller in (attacker, governance, registered_provider):
        with reverts(escrow.AccessControlUnauthorizedAccount, **role_error(caller, escrow.ATTESTER_ROLE())):
            escrow.recordAttestation(accepted_job, registered_provider, True, 1, RESULT_HASH, sender=caller)

    assert state(accepted_job) == before


# ─────────────────────────────── success ───────────────────────────────


def test_attest__success__opens_challenge_window(protocol, escrow, staking, registered_provider, accepted_job):
    now = protocol.now()

    receipt = protocol.attest(accepted_job, success=True, units=60)

    assert receipt.timestamp == now
    assert_event(
        receipt,
        escrow.JobAttested,
        jobId=accepted_job,
        success=True,
        units=60,
        resultHash=RESULT_HASH,
        challengeEnds=now + CHALLENGE_WINDOW,
    )
    view = job_view(escrow, accepted_job)
    assert (view["status"], view["units"], view["challengeEnds"]) == (Status.ATTESTED, 60, now + CHALLENGE_WINDOW)
    assert staking.providerInfo(registered_provider).locked == COLLATERAL  # still locked until settlement


def test_attest__units_above_max__units_exceed_max(protocol, escrow, accepted_job, state):
    before = state(accepted_job)

    with reverts(escrow.UnitsExceedMax, maxUnits=MAX_UNITS, units=MAX_UNITS + 1):
        protocol.attest(accepted_job, success=True, units=MAX_UNITS + 1)

    assert state(accepted_job) == before
    protocol.attest(accepted_job, success=True, units=MAX_UNITS)  # exactly maxUnits is fine
    assert escrow.job(accepted_job).units == MAX_UNITS


def test_attest__other_provider_in_attestation__not_job_provider(
    protocol, escrow, registered_provider, other_provider, accepted_job, state
):
    before = state(accepted_job)

    with reverts(escrow.NotJobProvider, expected=registered_provider, caller=other_provider):
        protocol.attest(accepted_job, success=True, units=10, provider=other_provider.address)

    assert state(accepted_job) == before


def test_attest__exactly_at_deadline__recorded(protocol, escrow, accepted_job):
    deadline = escrow.job(accepted_job).deadline
    protocol.warp_to(deadline)

    receipt = protocol.attest(accepted_job, success=True, units=10)

    assert receipt.timestamp == deadline
    assert escrow.job(accepted_job).challengeEnds == deadline + CHALLENGE_WINDOW


def test_attest__one_second_after_deadline__job_deadline_passed(protocol, escrow, accepted_job, state):
    deadline = escrow.job(accepted_job).deadline
    protocol.warp_to(deadline + 1)
    before = state(accepted_job)

    with reverts(escrow.JobDeadlinePassed, deadline=deadline, nowTime=deadline + 1):
        protocol.attest(accepted_job, success=True, units=10)

    assert state(accepted_job) == before


def test_attest__second_attestation__unexpected_status(protocol, escrow, attested_job, state):
    before = state(attested_job)

    for success in (True, False):
        with reverts(escrow.UnexpectedJobStatus, jobId=attested_job, expected=Status.ACCEPTED, actual=Status.ATTESTED):
            protocol.attest(attested_job, success=success, units=10)

    assert state(attested_job) == before


def test_attest__open_job__unexpected_status(protocol, escrow, open_job, state):
    before = state(open_job)

    with reverts(escrow.UnexpectedJobStatus, jobId=open_job, expected=Status.ACCEPTED, actual=Status.OPEN):
        protocol.attest(open_job, success=True, units=10, provider=escrow.job(open_job).provider)

    assert state(open_job) == before


# ─────────────────────────────── failure ───────────────────────────────


def test_attest__failure__refunds_escrow_and_slashes_collateral(
    protocol, escrow, staking, usd, client, registered_provider, treasury, accepted_job
):
    balance = usd.balanceOf(escrow)

    receipt = protocol.attest(accepted_job, success=False, units=0)

    assert_event(
        receipt, escrow.JobAttested, jobId=accepted_job, success=False, units=0, resultHash=RESULT_HASH, challengeEnds=0
    )
    assert_refunded_and_slashed(
        escrow, staking, usd, client, registered_provider, treasury, receipt, accepted_job, Status.FAILED
    )
    assert events(receipt, staking.ProviderJailed) == [{"provider": registered_provider.address, "forDowntime": False}]
    assert usd.balanceOf(escrow) == balance  # credited, not sent


def test_attest__failure_with_full_client_share__all_collateral_to_client(
    protocol, escrow, staking, governance, client, treasury, registered_provider
):
    escrow.setClientSlashShare(10_000, sender=governance)
    job_id = protocol.accepted_job(client, registered_provider)  # created under the new terms

    protocol.attest(job_id, success=False, units=0)

    assert staking.claimable(client) == COLLATERAL
    assert staking.claimable(treasury) == 0


# ─────────────────────────────── reclaimExpired ───────────────────────────────


def test_reclaim_expired__exactly_at_deadline__not_passed(
    protocol, escrow, staking, registered_provider, accepted_job, attacker, state
):
    deadline = escrow.job(accepted_job).deadline
    protocol.warp_to(deadline)
    before = state(accepted_job)

    with reverts(escrow.JobDeadlineNotPassed, deadline=deadline, nowTime=deadline):
        escrow.reclaimExpired(accepted_job, sender=attacker)

    assert state(accepted_job) == before
    assert staking.providerInfo(registered_provider).locked == COLLATERAL


def test_reclaim_expired__after_deadline_by_anyone__refund_and_slash(
    protocol, escrow, staking, usd, client, registered_provider, treasury, attacker, accepted_job
):
    protocol.warp_to(escrow.job(accepted_job).deadline + 1)

    receipt = escrow.reclaimExpired(accepted_job, sender=attacker)

    assert_refunded_and_slashed(
        escrow, staking, usd, client, registered_provider, treasury, receipt, accepted_job, Status.EXPIRED
    )
    assert escrow.claimable(attacker, usd) == 0
    assert staking.claimable(attacker) == 0


def test_reclaim_expired__attested_job__unexpected_status(protocol, escrow, attested_job, attacker, state):
    protocol.warp_to(escrow.job(attested_job).deadline + 1)
    before = state(attested_job)

    with reverts(escrow.UnexpectedJobStatus, jobId=attested_job, expected=Status.ACCEPTED, actual=Status.ATTESTED):
        escrow.reclaimExpired(attested_job, sender=attacker)

    assert state(attested_job) == before


def test_reclaim_expired__open_job__unexpected_status(protocol, escrow, open_job, client):
    protocol.warp_to(escrow.job(open_job).deadline + 1)

    with reverts(escrow.UnexpectedJobStatus, jobId=open_job, expected=Status.ACCEPTED, actual=Status.OPEN):
        escrow.reclaimExpired(open_job, sender=client)

    escrow.cancel(open_job, sender=client)  # the client's way out of a job nobody accepted
    assert escrow.jobStatus(open_job) == Status.CANCELLED
