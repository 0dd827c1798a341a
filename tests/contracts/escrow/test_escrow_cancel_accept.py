"""JobEscrow.cancel and JobEscrow.accept: who may call, when, and the collateral lock."""

from tests.support.escrow import (
    COLLATERAL,
    COLLATERAL_RATE,
    ESCROW,
    STAKE,
    UNIT_PRICE,
    Status,
    as_dict,
    assert_event,
    job_view,
)
from tests.support.reverts import reverts

# ─────────────────────────────── cancel ───────────────────────────────


def test_cancel__open_job__refund_claimable_and_event(escrow, usd, client, open_job, state):
    before = state()

    receipt = escrow.cancel(open_job, sender=client)

    assert_event(receipt, escrow.JobCancelled, jobId=open_job, client=client, refund=ESCROW)
    assert escrow.jobStatus(open_job) == Status.CANCELLED
    assert escrow.claimable(client, usd) == ESCROW
    after = state()
    assert after["balances"] == before["balances"]  # credited, not sent
    assert job_view(escrow, open_job)["acceptBy"] == 0


def test_cancel__not_client__not_job_client(escrow, client, attacker, registered_provider, open_job, state):
    before = state(open_job)

    for caller in (attacker, registered_provider):
        with reverts(escrow.NotJobClient, expected=client, caller=caller):
            escrow.cancel(open_job, sender=caller)

    assert state(open_job) == before


def test_cancel__accepted_job__unexpected_status(escrow, client, accepted_job, state):
    before = state(accepted_job)

    with reverts(escrow.UnexpectedJobStatus, jobId=accepted_job, expected=Status.OPEN, actual=Status.ACCEPTED):
        escrow.cancel(accepted_job, sender=client)

    assert state(accepted_job) == before


def test_cancel__twice__unexpected_status(escrow, usd, client, open_job, state):
    escrow.cancel(open_job, sender=client)
    before = state(open_job)

    with reverts(escrow.UnexpectedJobStatus, jobId=open_job, expected=Status.OPEN, actual=Status.CANCELLED):
        escrow.cancel(open_job, sender=client)

    assert state(open_job) == before
    assert escrow.claimable(client, usd) == ESCROW


def test_cancel__unknown_job__unexpected_status(escrow, client):
    with reverts(escrow.UnexpectedJobStatus, jobId=77, expected=Status.OPEN, actual=Status.NONE):
        escrow.cancel(77, sender=client)


# ─────────────────────────────── accept ───────────────────────────────


def test_accept__provider__locks_collateral_and_emits(escrow, staking, registered_provider, open_job):
    before = as_dict(staking.providerInfo(registered_provider))
    assert escrow.collateralFor(escrow.job(open_job).token, ESCROW) == COLLATERAL

    receipt = escrow.accept(open_job, sender=registered_provider)

    assert_event(receipt, escrow.JobAccepted, jobId=open_job, provider=registered_provider, collateral=COLLATERAL)
    assert_event(receipt, staking.CollateralLocked, provider=registered_provider, amount=COLLATERAL, locked=COLLATERAL)
    info = as_dict(staking.providerInfo(registered_provider))
    assert info["locked"] == before["locked"] + COLLATERAL == 5 * STAKE
    assert info["free"] == before["free"] - COLLATERAL
    assert info["staked"] == before["staked"]
    view = job_view(escrow, open_job)
    assert (view["status"], view["collateral"], view["acceptBy"]) == (Status.ACCEPTED, COLLATERAL, 0)


def test_accept__collateral_rate_changed_before_accept__uses_current_rate(
    escrow, usd, staking, governance, registered_provider, open_job
):
    escrow.setPaymentToken(usd, True, COLLATERAL_RATE * 2, sender=governance)

    escrow.accept(open_job, sender=registered_provider)

    assert escrow.job(open_job).collateral == 2 * COLLATERAL
    assert staking.providerInfo(registered_provider).locked == 2 * COLLATERAL


def test_accept__not_provider__not_job_provider(
    escrow, registered_provider, registered_other_provider, client, open_job, staking, state
):
    before = state(open_job)

    for caller in (registered_other_provider, client):
        with reverts(escrow.NotJobProvider, expected=registered_provider, caller=caller):
            escrow.accept(open_job, sender=caller)

    assert state(open_job) == before
    assert staking.providerInfo(registered_provider).locked == 0


def test_accept__exactly_at_accept_by__accepted(protocol, escrow, registered_provider, open_job):
    accept_by = escrow.job(open_job).acceptBy
    protocol.warp_to(accept_by)

    receipt = escrow.accept(open_job, sender=registered_provider)

    assert receipt.timestamp == accept_by
    assert escrow.jobStatus(open_job) == Status.ACCEPTED


def test_accept__one_second_after_accept_by__window_closed(
    protocol, escrow, staking, registered_provider, open_job, state
):
    accept_by = escrow.job(open_job).acceptBy
    protocol.warp_to(accept_by + 1)
    before = state(open_job)

    with reverts(escrow.AcceptWindowClosed, acceptBy=accept_by, nowTime=accept_by + 1):
        escrow.accept(open_job, sender=registered_provider)

    assert state(open_job) == before
    assert staking.providerInfo(registered_provider).locked == 0


def test_accept__paused__enforced_pause(escrow, staking, governance, registered_provider, open_job, state):
    escrow.pause(sender=governance)
    before = state(open_job)

    with reverts(escrow.EnforcedPause):
        escrow.accept(open_job, sender=registered_provider)

    assert state(open_job) == before
    assert staking.providerInfo(registered_provider).locked == 0


def test_accept__twice__unexpected_status(escrow, staking, registered_provider, accepted_job):
    with reverts(escrow.UnexpectedJobStatus, jobId=accepted_job, expected=Status.OPEN, actual=Status.ACCEPTED):
        escrow.accept(accepted_job, sender=registered_provider)

    assert staking.providerInfo(registered_provider).locked == COLLATERAL


def test_accept__provider_never_registered__staking_not_registered(protocol, escrow, staking, client, attacker, state):
    job_id = protocol.create_job(client, attacker)
    before = state(job_id)

    with reverts(staking.NotRegistered, provider=attacker):
        escrow.accept(job_id, sender=attacker)

    assert state(job_id) == before


def test_accept__jailed_provider__staking_provider_is_jailed(
    protocol, escrow, staking, client, registered_provider, state
):
    waiting = protocol.create_job(client, registered_provider)
    failing = protocol.accepted_job(client, registered_provider)
    protocol.attest(failing, success=False, units=0)  # slashes and jails
    assert staking.providerInfo(registered_provider).jailed
    before = state(waiting)

    with reverts(staking.ProviderIsJailed, provider=registered_provider):
        escrow.accept(waiting, sender=registered_provider)

    assert state(waiting) == before


def test_accept__collateral_above_free_stake__staking_insufficient_free_stake(
    protocol, escrow, staking, client, provider, state
):
    protocol.register(provider, 1_000 * STAKE)  # the minimum stake
    # 2,000 USD + 0.10 USD of escrow needs 1,000.05 stake tokens of collateral.
    job_id = protocol.create_job(client, provider, unit_price=UNIT_PRICE, max_units=20_001)
    collateral = 20_001 * UNIT_PRICE * COLLATERAL_RATE // 10**18
    assert collateral == 1_000 * STAKE + STAKE // 20
    before = state(job_id)

    with reverts(staking.InsufficientFreeStake, free=1_000 * STAKE, requested=collateral):
        escrow.accept(job_id, sender=provider)

    assert state(job_id) == before
    assert staking.providerInfo(provider).locked == 0


def test_accept__several_jobs__collateral_adds_up(protocol, escrow, staking, client, registered_provider):
    jobs = 3
    ids = [protocol.accepted_job(client, registered_provider) for _ in range(jobs)]

    assert staking.providerInfo(registered_provider).locked == jobs * COLLATERAL
    assert [escrow.job(i).collateral for i in ids] == [COLLATERAL] * jobs
