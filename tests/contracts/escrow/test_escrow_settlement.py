"""JobEscrow.settle, JobEscrow.settleMany, JobEscrow.withdraw and the accounting invariant."""

import pytest

from tests.support.escrow import (
    BOND,
    COLLATERAL,
    ESCROW,
    FEE_BPS,
    MAX_UNITS,
    SPEC_HASH,
    STAKE,
    UNIT_PRICE,
    Status,
    as_dict,
    assert_event,
    events,
    fee_of,
    job_view,
)
from tests.support.reverts import reverts

GROSS = 60 * UNIT_PRICE  # attested_job: 60 of 100 units
FEE = fee_of(GROSS)
REFUND = ESCROW - GROSS


def settled_job(protocol, escrow, client, provider, *, unit_price=UNIT_PRICE, max_units=MAX_UNITS, units=60):
    job_id = protocol.accepted_job(client, provider, unit_price=unit_price, max_units=max_units)
    protocol.attest(job_id, success=True, units=units)
    protocol.warp_to(escrow.job(job_id).challengeEnds)
    escrow.settle(job_id, sender=client)
    return job_id


# ─────────────────────────────── settle ───────────────────────────────


def test_settle__one_second_before_challenge_end__window_open(protocol, escrow, attacker, attested_job, state):
    ends = escrow.job(attested_job).challengeEnds
    protocol.warp_to(ends - 1)
    before = state(attested_job)

    with reverts(escrow.ChallengeWindowOpen, challengeEnds=ends, nowTime=ends - 1):
        escrow.settle(attested_job, sender=attacker)

    assert state(attested_job) == before


def test_settle__exactly_at_challenge_end__pays_breakdown(
    protocol, escrow, staking, usd, client, registered_provider, treasury, attacker, attested_job
):
    ends = escrow.job(attested_job).challengeEnds
    protocol.warp_to(ends)
    balance = usd.balanceOf(escrow)

    receipt = escrow.settle(attested_job, sender=attacker)

    assert receipt.timestamp == ends
    assert_event(
        receipt,
        escrow.JobSettled,
        jobId=attested_job,
        provider=registered_provider,
        client=client,
        gross=GROSS,
        providerNet=GROSS - FEE,
        fee=FEE,
        refund=REFUND,
    )
    assert (GROSS - FEE, REFUND, FEE) == (5_850_000, 4_000_000, 150_000)
    assert escrow.claimable(registered_provider, usd) == GROSS - FEE
    assert escrow.claimable(client, usd) == REFUND
    assert escrow.claimable(treasury, usd) == FEE
    assert escrow.claimable(attacker, usd) == 0
    assert usd.balanceOf(escrow) == balance  # credited, not sent
    assert escrow.jobStatus(attested_job) == Status.SETTLED
    assert_event(receipt, staking.CollateralReleased, provider=registered_provider, amount=COLLATERAL, locked=0)
    info = as_dict(staking.providerInfo(registered_provider))
    assert (info["staked"], info["locked"], info["jailed"]) == (10_000 * STAKE, 0, False)


def test_settle__twice__unexpected_status(protocol, escrow, usd, registered_provider, attested_job, state):
    protocol.warp_to(escrow.job(attested_job).challengeEnds)
    escrow.settle(attested_job, sender=registered_provider)
    before = state(attested_job)

    with reverts(escrow.UnexpectedJobStatus, jobId=attested_job, expected=Status.ATTESTED, actual=Status.SETTLED):
        escrow.settle(attested_job, sender=registered_provider)

    assert state(attested_job) == before
    assert escrow.claimable(registered_provider, usd) == GROSS - FEE


@pytest.mark.parametrize("status", ["open", "accepted", "unknown"])
def test_settle__not_attested__unexpected_status(protocol, escrow, client, registered_provider, status):
    if status == "unknown":
        job_id, actual = 9, Status.NONE
    else:
        job_id = protocol.create_job(client, registered_provider)
        actual = Status.OPEN
        if status == "accepted":
            escrow.accept(job_id, sender=registered_provider)
            actual = Status.ACCEPTED

    with reverts(escrow.UnexpectedJobStatus, jobId=job_id, expected=Status.ATTESTED, actual=actual):
        escrow.settle(job_id, sender=client)


@pytest.mark.parametrize(
    "unit_price, max_units, units, fee",
    [
        (39, 1, 1, 0),  # 0.975 rounds down to nothing
        (40, 1, 1, 1),  # exactly 1
        (79, 1, 1, 1),  # 1.975 rounds down
        (79, 3, 2, 3),  # 158 * 2.5% = 3.95
        (UNIT_PRICE, MAX_UNITS, MAX_UNITS, 250_000),  # every unit used: no refund
        (UNIT_PRICE, MAX_UNITS, 0, 0),  # nothing used: everything back
    ],
)
def test_settle__fee_rounds_down(
    protocol, escrow, usd, client, registered_provider, treasury, unit_price, max_units, units, fee
):
    job_id = settled_job(
        protocol, escrow, client, registered_provider, unit_price=unit_price, max_units=max_units, units=units
    )

    gross = unit_price * units
    assert fee == gross * FEE_BPS // 10_000
    assert escrow.claimable(registered_provider, usd) == gross - fee
    assert escrow.claimable(client, usd) == unit_price * (max_units - units)
    assert escrow.claimable(treasury, usd) == fee
    assert escrow.jobStatus(job_id) == Status.SETTLED


def test_settle__while_paused__works(protocol, escrow, usd, governance, registered_provider, attested_job):
    escrow.pause(sender=governance)
    protocol.warp_to(escrow.job(attested_job).challengeEnds)

    escrow.settle(attested_job, sender=registered_provider)

    assert escrow.claimable(registered_provider, usd) == GROSS - FEE


# ─────────────────────────────── settleMany ───────────────────────────────


def test_settle_many__mixed__settles_ready_and_skips_others(
    protocol, escrow, usd, client, registered_provider, attacker
):
    ready_a = protocol.accepted_job(client, registered_provider)
    ready_b = protocol.accepted_job(client, registered_provider)
    accepted = protocol.accepted_job(client, registered_provider)
    late = protocol.accepted_job(client, registered_provider)
    disputed = protocol.accepted_job(client, registered_provider)
    for job_id in (ready_a, ready_b, disputed):
        protocol.attest(job_id, success=True, units=60)
    usd.mint(client, BOND, sender=client)
    escrow.dispute(disputed, sender=client)
    protocol.warp_to(escrow.job(ready_b).challengeEnds)
    protocol.attest(late, success=True, units=60)  # its challenge window is still open
    ids = [ready_a, accepted, late, disputed, 999, ready_a, ready_b]

    assert escrow.settleMany.call(ids, sender=attacker) == 2
    receipt = escrow.settleMany(ids, sender=attacker)

    assert [e["jobId"] for e in events(receipt, escrow.JobSettled)] == [ready_a, ready_b]
    assert events(receipt, escrow.JobSettleSkipped) == [
        {"jobId": accepted, "status": Status.ACCEPTED},
        {"jobId": late, "status": Status.ATTESTED},
        {"jobId": disputed, "status": Status.DISPUTED},
        {"jobId": 999, "status": Status.NONE},
        {"jobId": ready_a, "status": Status.SETTLED},  # listed twice: paid once
    ]
    assert escrow.claimable(registered_provider, usd) == 2 * (GROSS - FEE)
    assert [escrow.jobStatus(i) for i in (accepted, late, disputed)] == [
        Status.ACCEPTED,
        Status.ATTESTED,
        Status.DISPUTED,
    ]


def test_settle_many__nothing_ready__returns_zero(escrow, attacker, accepted_job):
    assert escrow.settleMany.call([accepted_job], sender=attacker) == 0

    receipt = escrow.settleMany([accepted_job], sender=attacker)

    assert events(receipt, escrow.JobSettleSkipped) == [{"jobId": accepted_job, "status": Status.ACCEPTED}]
    assert events(receipt, escrow.JobSettled) == []


def test_settle_many__empty__empty_batch(escrow, attacker):
    with reverts(escrow.EmptyBatch):
        escrow.settleMany([], sender=attacker)


def test_settle_many__lapsed_dispute__settled_with_bond_back(protocol, escrow, usd, client, attacker, disputed_job):
    ends = escrow.job(disputed_job).disputeEnds
    protocol.warp_to(ends)
    receipt = escrow.settleMany([disputed_job], sender=attacker)
    assert events(receipt, escrow.JobSettleSkipped) == [{"jobId": disputed_job, "status": Status.DISPUTED}]

    protocol.warp_to(ends + 1)
    receipt = escrow.settleMany([disputed_job], sender=attacker)

    assert len(events(receipt, escrow.JobSettled)) == 1
    assert escrow.claimable(client, usd) == REFUND + BOND


def test_settle_many__ten_jobs__all_settled_in_one_call(
    protocol, escrow, staking, usd, client, registered_provider, treasury, attacker
):
    n = 10
    protocol.fund_usd(client, n * ESCROW)
    deadline = protocol.now() + 86_400
    request = (registered_provider.address, usd.address, UNIT_PRICE, MAX_UNITS, deadline, SPEC_HASH)
    escrow.createJobs([request] * n, sender=client)
    ids = list(range(1, n + 1))
    for job_id in ids:
        escrow.accept(job_id, sender=registered_provider)
    for job_id in ids:
        protocol.attest(job_id, success=True, units=60)
    assert staking.providerInfo(registered_provider).locked == n * COLLATERAL
    protocol.warp_to(escrow.job(ids[-1]).challengeEnds)
    protocol.chain.mine()  # eth_call runs on the latest block: mine one at the new time first

    assert escrow.settleMany.call(ids, sender=attacker) == n
    receipt = escrow.settleMany(ids, sender=attacker)

    assert [e["jobId"] for e in events(receipt, escrow.JobSettled)] == ids
    assert events(receipt, escrow.JobSettleSkipped) == []
    assert escrow.claimable(registered_provider, usd) == n * (GROSS - FEE)
    assert escrow.claimable(client, usd) == n * REFUND
    assert escrow.claimable(treasury, usd) == n * FEE
    assert staking.providerInfo(registered_provider).locked == 0


# ─────────────────────────────── withdraw ───────────────────────────────


def test_withdraw__nothing__nothing_to_withdraw(escrow, usd, attacker, state):
    before = state()

    with reverts(escrow.NothingToWithdraw, account=attacker, token=usd):
        escrow.withdraw(usd, sender=attacker)

    assert state() == before


def test_withdraw__several_jobs__one_transfer_of_everything(
    protocol, escrow, usd, client, registered_provider, treasury
):
    cancelled_a = protocol.create_job(client, registered_provider)
    cancelled_b = protocol.create_job(client, registered_provider, unit_price=7, max_units=3)
    escrow.cancel(cancelled_a, sender=client)
    escrow.cancel(cancelled_b, sender=client)
    settled_job(protocol, escrow, client, registered_provider)
    total = ESCROW + 21 + REFUND
    assert escrow.claimable(client, usd) == total
    wallet = usd.balanceOf(client)
    balance = usd.balanceOf(escrow)
    assert escrow.withdraw.call(usd, sender=client) == total

    receipt = escrow.withdraw(usd, sender=client)

    assert_event(receipt, escrow.Withdrawn, account=client, token=usd, amount=total)
    assert events(receipt, usd.Transfer) == [{"from": escrow.address, "to": client.address, "value": total}]
    assert usd.balanceOf(client) == wallet + total
    assert usd.balanceOf(escrow) == balance - total
    assert escrow.claimable(client, usd) == 0
    # The others' balances are untouched.
    assert escrow.claimable(registered_provider, usd) == GROSS - FEE
    assert escrow.claimable(treasury, usd) == FEE


def test_withdraw__twice__nothing_to_withdraw(escrow, usd, client, open_job, state):
    escrow.cancel(open_job, sender=client)
    escrow.withdraw(usd, sender=client)
    before = state()

    with reverts(escrow.NothingToWithdraw, account=client, token=usd):
        escrow.withdraw(usd, sender=client)

    assert state() == before


def test_withdraw__while_paused__works(escrow, usd, client, governance, open_job):
    escrow.cancel(open_job, sender=client)
    escrow.pause(sender=governance)

    escrow.withdraw(usd, sender=client)

    assert usd.balanceOf(client) == ESCROW


def test_withdraw__provider_and_treasury__get_their_shares(
    protocol, escrow, usd, registered_provider, treasury, attested_job
):
    protocol.warp_to(escrow.job(attested_job).challengeEnds)
    escrow.settle(attested_job, sender=treasury)

    escrow.withdraw(usd, sender=registered_provider)
    escrow.withdraw(usd, sender=treasury)

    assert usd.balanceOf(registered_provider) == GROSS - FEE
    assert usd.balanceOf(treasury) == FEE


# ─────────────────────────────── accounting ───────────────────────────────

LIVE = (Status.OPEN, Status.ACCEPTED, Status.ATTESTED, Status.DISPUTED)


def test_accounting__mixed_sequence__balance_equals_obligations(
    protocol,
    escrow,
    usd,
    client,
    other_client,
    registered_provider,
    registered_other_provider,
    treasury,
    arbitrator,
    parties,
):
    p1, p2 = registered_provider, registered_other_provider
    settled = protocol.accepted_job(client, p1)
    disputed = protocol.accepted_job(other_client, p1, unit_price=3, max_units=7)  # bond rounds up to 3
    cancelled = protocol.create_job(client, p2)
    attested = protocol.accepted_job(other_client, p2, unit_price=13, max_units=11)
    protocol.create_job(client, p1, unit_price=5)
    protocol.accepted_job(client, p2)
    failed = protocol.accepted_job(other_client, p1, unit_price=99, max_units=9)
    upheld = protocol.accepted_job(client, p2, unit_price=17, max_units=5)

    escrow.cancel(cancelled, sender=client)
    for job_id, units in ((settled, 60), (disputed, 4), (attested, 11), (upheld, 2)):
        protocol.attest(job_id, success=True, units=units)
    protocol.attest(failed, success=False, units=0)
    usd.mint(other_client, escrow.disputeBondFor(disputed), sender=other_client)
    escrow.dispute(disputed, sender=other_client)
    usd.mint(client, escrow.disputeBondFor(upheld), sender=client)
    escrow.dispute(upheld, sender=client)
    escrow.resolveDispute(upheld, True, sender=arbitrator)
    protocol.warp_to(escrow.job(settled).challengeEnds)
    escrow.settle(settled, sender=client)
    escrow.withdraw(usd, sender=p1)
    escrow.withdraw(usd, sender=client)

    views = [job_view(escrow, i) for i in range(1, escrow.jobCount() + 1)]
    assert [v["status"] for v in views] == [
        Status.SETTLED,
        Status.DISPUTED,
        Status.CANCELLED,
        Status.ATTESTED,
        Status.OPEN,
        Status.ACCEPTED,
        Status.FAILED,
        Status.FAILED,
    ]
    live_escrow = sum(v["escrow"] for v in views if v["status"] in LIVE)
    bonds = sum(v["disputeBond"] for v in views)
    claimables = sum(escrow.claimable(a, usd) for a in parties)
    assert bonds == 3
    assert usd.balanceOf(escrow) == live_escrow + bonds + claimables
    assert claimables > 0 and live_escrow > 0
