"""JobEscrow.dispute, JobEscrow.resolveDispute and the settlement of a lapsed dispute.

`attested_job` is 100 units at 0.10 USD (10 USD escrow) attested for 60 units: gross 6 USD,
fee 2.5% = 0.15 USD, unused refund 4 USD. The bond is 10% of the escrow: 1 USD.
"""

from tests.support.escrow import (
    BOND,
    CLIENT_SLASH_SHARE_BPS,
    COLLATERAL,
    DISPUTE_TIMEOUT,
    ESCROW,
    STAKE,
    UNIT_PRICE,
    Status,
    as_dict,
    assert_event,
    ceil_div,
    events,
    fee_of,
    job_view,
    role_error,
)
from tests.support.reverts import reverts

GROSS = 60 * UNIT_PRICE
FEE = fee_of(GROSS)
REFUND = ESCROW - GROSS


def assert_collateral_released(staking, provider):
    info = as_dict(staking.providerInfo(provider))
    assert (info["staked"], info["locked"], info["jailed"]) == (10_000 * STAKE, 0, False)


# ─────────────────────────────── dispute ───────────────────────────────


def test_dispute__client_in_window__pulls_bond_and_emits(protocol, escrow, usd, client, attested_job):
    usd.mint(client, BOND, sender=client)
    balance = usd.balanceOf(escrow)
    assert escrow.disputeBondFor(attested_job) == BOND
    now = protocol.now()

    receipt = escrow.dispute(attested_job, sender=client)

    assert_event(
        receipt, escrow.JobDisputed, jobId=attested_job, client=client, bond=BOND, disputeEnds=now + DISPUTE_TIMEOUT
    )
    assert events(receipt, usd.Transfer) == [{"from": client.address, "to": escrow.address, "value": BOND}]
    assert usd.balanceOf(escrow) == balance + BOND
    assert usd.balanceOf(client) == 0
    view = job_view(escrow, attested_job)
    assert (view["status"], view["disputeEnds"], view["disputeBond"], view["challengeEnds"]) == (
        Status.DISPUTED,
        now + DISPUTE_TIMEOUT,
        BOND,
        0,
    )


def test_dispute__bond_rounds_up(protocol, escrow, usd, client, registered_provider):
    job_id = protocol.accepted_job(client, registered_provider, unit_price=3, max_units=7)  # escrow 21
    protocol.attest(job_id, success=True, units=7)
    bond = ceil_div(21 * 1_000, 10_000)
    assert bond == 3
    assert escrow.disputeBondFor(job_id) == bond
    usd.mint(client, bond, sender=client)

    receipt = escrow.dispute(job_id, sender=client)

    assert events(receipt, escrow.JobDisputed)[0]["bond"] == bond
    assert usd.balanceOf(client) == 0
    assert escrow.job(job_id).disputeBond == bond


def test_dispute__zero_bond_bps__no_transfer(protocol, escrow, usd, governance, client, registered_provider):
    escrow.setDisputeBond(0, sender=governance)
    job_id = protocol.accepted_job(client, registered_provider)  # created under the zero-bond terms
    protocol.attest(job_id, success=True, units=60)

    receipt = escrow.dispute(job_id, sender=client)

    assert events(receipt, usd.Transfer) == []
    assert escrow.jobStatus(job_id) == Status.DISPUTED
    assert escrow.job(job_id).disputeBond == 0


def test_dispute__not_client__not_job_client(escrow, usd, client, attacker, registered_provider, attested_job, state):
    usd.mint(attacker, BOND, sender=attacker)
    usd.approve(escrow, BOND, sender=attacker)
    before = state(attested_job)

    for caller in (attacker, registered_provider):
        with reverts(escrow.NotJobClient, expected=client, caller=caller):
            escrow.dispute(attested_job, sender=caller)

    assert state(attested_job) == before


def test_dispute__accepted_job__unexpected_status(escrow, usd, client, accepted_job, state):
    usd.mint(client, BOND, sender=client)
    before = state(accepted_job)

    with reverts(escrow.UnexpectedJobStatus, jobId=accepted_job, expected=Status.ATTESTED, actual=Status.ACCEPTED):
        escrow.dispute(accepted_job, sender=client)

    assert state(accepted_job) == before


def test_dispute__exactly_at_challenge_end__window_closed(protocol, escrow, usd, client, attested_job, state):
    usd.mint(client, BOND, sender=client)
    ends = escrow.job(attested_job).challengeEnds
    protocol.warp_to(ends)
    before = state(attested_job)

    with reverts(escrow.ChallengeWindowClosed, challengeEnds=ends, nowTime=ends):
        escrow.dispute(attested_job, sender=client)

    assert state(attested_job) == before


def test_dispute__one_second_before_challenge_end__accepted(protocol, escrow, usd, client, attested_job):
    usd.mint(client, BOND, sender=client)
    ends = escrow.job(attested_job).challengeEnds
    protocol.warp_to(ends - 1)

    receipt = escrow.dispute(attested_job, sender=client)

    assert receipt.timestamp == ends - 1
    assert escrow.job(attested_job).disputeEnds == ends - 1 + DISPUTE_TIMEOUT


def test_dispute__while_paused__works(escrow, usd, client, governance, attested_job):
    usd.mint(client, BOND, sender=client)
    escrow.pause(sender=governance)

    escrow.dispute(attested_job, sender=client)

    assert escrow.jobStatus(attested_job) == Status.DISPUTED


# ─────────────────────────────── resolveDispute ───────────────────────────────


def test_resolve__not_arbitrator__unauthorized(escrow, attacker, governance, client, disputed_job, state):
    before = state(disputed_job)

    for caller in (attacker, governance, client):
        with reverts(escrow.AccessControlUnauthorizedAccount, **role_error(caller, escrow.ARBITRATOR_ROLE())):
            escrow.resolveDispute(disputed_job, True, sender=caller)

    assert state(disputed_job) == before


def test_resolve__upheld__client_gets_escrow_and_bond_and_collateral_slashed(
    escrow, staking, usd, client, registered_provider, treasury, arbitrator, disputed_job
):
    balance = usd.balanceOf(escrow)

    receipt = escrow.resolveDispute(disputed_job, True, sender=arbitrator)

    assert_event(receipt, escrow.DisputeResolved, jobId=disputed_job, arbitrator=arbitrator, upheld=True)
    client_share = COLLATERAL * CLIENT_SLASH_SHARE_BPS // 10_000
    assert_event(
        receipt,
        escrow.JobRefunded,
        jobId=disputed_job,
        client=client,
        status=Status.FAILED,
        refund=ESCROW + BOND,
        collateralSlashed=COLLATERAL,
        clientCollateralShare=client_share,
    )
    assert escrow.jobStatus(disputed_job) == Status.FAILED
    assert escrow.claimable(client, usd) == ESCROW + BOND
    assert escrow.claimable(registered_provider, usd) == 0
    assert escrow.claimable(treasury, usd) == 0
    assert usd.balanceOf(escrow) == balance
    assert staking.claimable(client) == client_share
    assert staking.claimable(treasury) == COLLATERAL - client_share
    info = as_dict(staking.providerInfo(registered_provider))
    assert (info["staked"], info["locked"], info["jailed"]) == (10_000 * STAKE - COLLATERAL, 0, True)
    assert job_view(escrow, disputed_job)["disputeBond"] == 0


def test_resolve__rejected__provider_paid_with_bond(
    escrow, staking, usd, client, registered_provider, treasury, arbitrator, disputed_job
):
    receipt = escrow.resolveDispute(disputed_job, False, sender=arbitrator)

    assert_event(receipt, escrow.DisputeResolved, jobId=disputed_job, arbitrator=arbitrator, upheld=False)
    assert_event(
        receipt,
        escrow.JobSettled,
        jobId=disputed_job,
        provider=registered_provider,
        client=client,
        gross=GROSS,
        providerNet=GROSS - FEE,
        fee=FEE,
        refund=REFUND,
    )
    assert escrow.jobStatus(disputed_job) == Status.SETTLED
    assert escrow.claimable(registered_provider, usd) == GROSS - FEE + BOND
    assert escrow.claimable(client, usd) == REFUND
    assert escrow.claimable(treasury, usd) == FEE
    assert_collateral_released(staking, registered_provider)


def test_resolve__exactly_at_dispute_end__allowed(protocol, escrow, arbitrator, disputed_job):
    ends = escrow.job(disputed_job).disputeEnds
    protocol.warp_to(ends)

    receipt = escrow.resolveDispute(disputed_job, False, sender=arbitrator)

    assert receipt.timestamp == ends
    assert escrow.jobStatus(disputed_job) == Status.SETTLED


def test_resolve__after_dispute_end__resolution_closed(protocol, escrow, arbitrator, disputed_job, state):
    ends = escrow.job(disputed_job).disputeEnds
    protocol.warp_to(ends + 1)
    before = state(disputed_job)

    with reverts(escrow.DisputeResolutionClosed, disputeEnds=ends, nowTime=ends + 1):
        escrow.resolveDispute(disputed_job, True, sender=arbitrator)

    assert state(disputed_job) == before


def test_resolve__not_disputed__unexpected_status(escrow, arbitrator, attested_job, state):
    before = state(attested_job)

    with reverts(escrow.UnexpectedJobStatus, jobId=attested_job, expected=Status.DISPUTED, actual=Status.ATTESTED):
        escrow.resolveDispute(attested_job, True, sender=arbitrator)

    assert state(attested_job) == before


# ─────────────────────────────── lapsed dispute ───────────────────────────────


def test_settle_disputed__exactly_at_dispute_end__not_lapsed(protocol, escrow, attacker, disputed_job, state):
    ends = escrow.job(disputed_job).disputeEnds
    protocol.warp_to(ends)
    before = state(disputed_job)

    with reverts(escrow.DisputeNotLapsed, disputeEnds=ends, nowTime=ends):
        escrow.settle(disputed_job, sender=attacker)

    assert state(disputed_job) == before


def test_settle_disputed__lapsed__provider_paid_and_bond_back_to_client(
    protocol, escrow, staking, usd, client, registered_provider, treasury, attacker, disputed_job
):
    protocol.warp_to(escrow.job(disputed_job).disputeEnds + 1)

    receipt = escrow.settle(disputed_job, sender=attacker)

    assert_event(
        receipt,
        escrow.JobSettled,
        jobId=disputed_job,
        provider=registered_provider,
        client=client,
        gross=GROSS,
        providerNet=GROSS - FEE,
        fee=FEE,
        refund=REFUND,
    )
    assert escrow.jobStatus(disputed_job) == Status.SETTLED
    assert escrow.claimable(registered_provider, usd) == GROSS - FEE
    assert escrow.claimable(client, usd) == REFUND + BOND
    assert escrow.claimable(treasury, usd) == FEE
    assert job_view(escrow, disputed_job)["disputeBond"] == 0
    assert_collateral_released(staking, registered_provider)


def test_resolve__after_lapsed_settlement__unexpected_status(protocol, escrow, arbitrator, attacker, disputed_job):
    protocol.warp_to(escrow.job(disputed_job).disputeEnds + 1)
    escrow.settle(disputed_job, sender=attacker)

    with reverts(escrow.UnexpectedJobStatus, jobId=disputed_job, expected=Status.DISPUTED, actual=Status.SETTLED):
        escrow.resolveDispute(disputed_job, True, sender=arbitrator)
