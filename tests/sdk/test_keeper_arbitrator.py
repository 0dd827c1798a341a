"""The keeper (settle, settle_many), arbitrator (disputes, resolve) and discovery views (jobs by
status and stage, epochs), the relayer's reward and an uptime report's outcome."""

from datetime import timedelta
from decimal import Decimal

import pytest

from computerails import JobStage, JobStatus, UptimeReport, errors
from computerails._rpc import Codec
from computerails.deployments import load_artifact
from computerails.tx import Call
from tests.support.sdk import GOVERNANCE, finish_sla_epoch, raises_unsent, warp


@pytest.fixture
def arbitrator_rails(connect):
    return connect(GOVERNANCE)  # the devnet deploy makes governance the arbitrator


@pytest.fixture
def disputed_job(attested_job, client_rails, faucet):
    faucet(client_rails, usd=1)
    return client_rails.client.dispute(attested_job.id)


# ───────────────────────── keeper ─────────────────────────


def test_settle__challenge_window_closed__settlement_read_from_event(w3, relayer_rails, attested_job, usd):
    warp(w3, 3_600)

    settlement = relayer_rails.keeper.settle(attested_job.id)

    assert (settlement.job_id, settlement.token, settlement.provider) == (attested_job.id, usd, attested_job.provider)
    # 80 units of 0.10 = 8 gross, 2.5 % fee, 2 refunded of the 10 escrowed
    assert (settlement.gross, settlement.provider_net, settlement.fee, settlement.refund) == (
        Decimal(8),
        Decimal("7.8"),
        Decimal("0.2"),
        Decimal(2),
    )
    assert relayer_rails.views.job_status(attested_job.id) is JobStatus.SETTLED


def test_settle__challenge_window_open__too_early_nothing_sent(relayer_rails, attested_job):
    with raises_unsent(relayer_rails, errors.TooEarly, match=f"job {attested_job.id} can be settled from") as info:
        relayer_rails.keeper.settle(attested_job.id)
    assert info.value.for_cli().endswith(f"run `computerails job settle {attested_job.id}` then")


def test_settle__accepted_job__wrong_state_nothing_sent(relayer_rails, accepted_job):
    with raises_unsent(relayer_rails, errors.WrongJobState, match="is accepted; only an attested job"):
        relayer_rails.keeper.settle(accepted_job.id)


def test_settle__unknown_job__key_error(relayer_rails):
    with pytest.raises(KeyError, match="job 42 does not exist"):
        relayer_rails.keeper.settle(42)


def test_settle_many__two_attested_jobs__one_transaction(
    w3, make_job, registered_provider, relayer_rails, oracle_keys, client_rails
):
    jobs = [registered_provider.provider.accept(make_job().id) for _ in range(2)]
    for job, units in zip(jobs, (100, 50)):
        relayer_rails.oracle.attest(job.id, success=True, units=units, result_hash=b"\x02" * 32, signers=oracle_keys)
    assert [j.id for j in relayer_rails.keeper.settleable()] == []
    warp(w3, 3_600)
    assert [j.id for j in relayer_rails.keeper.settleable(provider=registered_provider.address)] == [1, 2]

    settled = relayer_rails.keeper.settle_many([2, 1])

    assert [(s.job_id, s.gross, s.refund) for s in settled] == [(2, Decimal(5), Decimal(5)), (1, Decimal(10), 0)]
    assert settled[0].tx_hash == settled[1].tx_hash
    assert client_rails.views.claimable(client_rails.address)[client_rails.token()] == Decimal(5)


def test_settle_many__one_job_not_ready__whole_batch_refused_nothing_sent(w3, attested_job, make_job, relayer_rails):
    warp(w3, 3_600)
    open_job = make_job()

    with raises_unsent(relayer_rails, errors.WrongJobState, match=f"job {open_job.id} is open"):
        relayer_rails.keeper.settle_many([attested_job.id, open_job.id])
    with raises_unsent(relayer_rails, errors.PreconditionError, match="listed more than once"):
        relayer_rails.keeper.settle_many([attested_job.id, attested_job.id])
    with raises_unsent(relayer_rails, errors.PreconditionError, match="at least one job id"):
        relayer_rails.keeper.settle_many([])
    assert relayer_rails.views.job_status(attested_job.id) is JobStatus.ATTESTED


def test_settle__dispute_lapsed__settled_bond_back_to_client(w3, relayer_rails, disputed_job, client_rails, usd):
    with raises_unsent(relayer_rails, errors.TooEarly):
        relayer_rails.keeper.settle(disputed_job.id)
    warp(w3, 3 * 86_400 + 1)

    settlement = relayer_rails.keeper.settle(disputed_job.id)

    assert settlement.refund == Decimal(2)
    assert client_rails.views.claimable(client_rails.address)[usd] == Decimal(3)  # refund + the 1 mUSD bond


# ───────────────────────── arbitrator ─────────────────────────


def test_disputes__one_disputed_job__listed_with_bond_and_end(readonly, disputed_job, attested_job):
    (dispute,) = readonly.arbitrator.disputes()

    assert (dispute.job_id, dispute.bond, dispute.escrow, dispute.units) == (
        attested_job.id,
        Decimal(1),
        Decimal(10),
        80,
    )
    assert dispute.dispute_ends == disputed_job.dispute_ends and not dispute.lapsed


def test_disputes__lapsed__flagged_and_left_out_on_request(w3, readonly, disputed_job):
    warp(w3, 3 * 86_400 + 1)

    assert [d.lapsed for d in readonly.arbitrator.disputes()] == [True]
    assert readonly.arbitrator.disputes(include_lapsed=False) == []


@pytest.mark.parametrize("upheld, status", [(True, JobStatus.FAILED), (False, JobStatus.SETTLED)])
def test_resolve__arbitrator__job_ends_as_ruled(arbitrator_rails, disputed_job, upheld, status):
    assert arbitrator_rails.arbitrator.is_arbitrator()

    job = arbitrator_rails.arbitrator.resolve(disputed_job.id, upheld)

    assert job.status is status
    assert arbitrator_rails.arbitrator.disputes() == []


def test_resolve__not_the_arbitrator__not_allowed_nothing_sent(relayer_rails, disputed_job):
    assert not relayer_rails.arbitrator.is_arbitrator()
    with raises_unsent(relayer_rails, errors.NotAllowed, match="does not hold ARBITRATOR_ROLE"):
        relayer_rails.arbitrator.resolve(disputed_job.id, True)


def test_resolve__attested_job__wrong_state_nothing_sent(arbitrator_rails, attested_job):
    with raises_unsent(arbitrator_rails, errors.WrongJobState, match="is attested; only a disputed job"):
        arbitrator_rails.arbitrator.resolve(attested_job.id, True)


def test_resolve__dispute_lapsed__wrong_state_with_settle_advice(w3, arbitrator_rails, disputed_job):
    warp(w3, 3 * 86_400 + 1)

    with raises_unsent(arbitrator_rails, errors.WrongJobState, match="lapsed") as info:
        arbitrator_rails.arbitrator.resolve(disputed_job.id, False)

    assert str(info.value).endswith(f"rails.keeper.settle({disputed_job.id})")
    assert info.value.for_cli().endswith(f"run `computerails job settle {disputed_job.id}`")


# ───────────────────────── discovery views ─────────────────────────


def test_jobs__status_filter__only_matching(readonly, accepted_job, make_job):
    opened = make_job()

    assert [j.id for j in readonly.views.jobs(status=JobStatus.OPEN)] == [opened.id]
    assert [j.id for j in readonly.views.jobs(status=(JobStatus.OPEN, JobStatus.ACCEPTED))] == [
        accepted_job.id,
        opened.id,
    ]
    assert all(j.spec_hash for j in readonly.views.jobs())


def test_jobs_by_stage__every_stage__grouped_at_chain_time(
    w3, readonly, registered_provider, make_job, relayer_rails, oracle_keys
):
    a, b, c = (make_job() for _ in range(3))
    registered_provider.provider.accept(b.id)
    registered_provider.provider.accept(c.id)
    relayer_rails.oracle.attest(c.id, success=True, units=1, result_hash=b"\x02" * 32, signers=oracle_keys)

    groups = readonly.views.jobs_by_stage(provider=registered_provider.address)
    assert {stage: [j.id for j in jobs] for stage, jobs in groups.items()} == {
        JobStage.TO_ACCEPT: [a.id],
        JobStage.AWAITING_ATTESTATION: [b.id],
        JobStage.IN_CHALLENGE: [c.id],
    }
    warp(w3, 7_201)
    groups = readonly.views.jobs_by_stage(provider=registered_provider.address)
    assert [stage for stage in groups] == [JobStage.NOT_ACCEPTED, JobStage.EXPIRED, JobStage.SETTLEABLE]


def test_epochs__fresh_deployment__current_and_reportable_windows(w3, readonly):
    finish_sla_epoch(w3, readonly)

    epochs = readonly.views.epochs()

    assert epochs.current.epoch == readonly.views.current_epoch()
    assert epochs.current.start <= epochs.now < epochs.current.end
    assert epochs.current.end - epochs.current.start == timedelta(hours=1)
    assert epochs.reportable and [e.epoch for e in epochs.reportable] == list(
        range(epochs.reportable[0].epoch, epochs.current.epoch)
    )
    assert all(e.end <= epochs.now < e.report_deadline for e in epochs.reportable)
    assert len(epochs.reportable) <= 25


def test_epochs__windows_read_once_per_schedule_list__a_new_schedule_read_again(w3, readonly, connect, monkeypatch):
    finish_sla_epoch(w3, readonly)
    batches: list[int] = []
    rpc = readonly._session.rpc
    run = rpc.run

    def counted(requests, *args, **kwargs):
        batches.append(len(requests))
        return run(requests, *args, **kwargs)

    monkeypatch.setattr(rpc, "run", counted)

    first = readonly.views.epochs()
    again = readonly.views.epochs()
    assert again == first
    assert batches[2:] == [3]  # the clock and the schedules only: every window was read the first time

    # Governance halves the epoch length: a second schedule, from the next epoch boundary on.
    governor = connect(GOVERNANCE)  # a direct governor on the test devnet
    slasher = governor.slasher
    params = list(slasher.functions.params().call())
    params[0] //= 2
    codec = Codec(load_artifact("UptimeSlasher")["abi"])
    governor.send(Call(slasher.address, codec["setParams"].encode(tuple(params)), "setParams"), "setParams")
    assert len(slasher.functions.schedules().call()) == 2
    for seconds in (0, 3_600, 3 * 3_600):  # pending, then in force for one epoch, then for several
        warp(w3, seconds)
        seen = readonly.views.epochs()
        assert seen == connect().views.epochs()  # a fresh connection, which has read nothing yet
    assert seen.current.end - seen.current.start == timedelta(minutes=30)
    assert {w.end - w.start for w in seen.reportable} == {timedelta(hours=1), timedelta(minutes=30)}


# ───────────────────────── relayer reward, uptime outcome ─────────────────────────


def test_claim_reward__after_a_slashing_report__paid_then_nothing(
    w3, relayer_rails, registered_provider, oracle_keys, stk
):
    epoch = finish_sla_epoch(w3, relayer_rails)
    report = UptimeReport(
        provider=registered_provider.address, epoch=epoch, uptime_bps=0, relayer=relayer_rails.address
    )
    sent = relayer_rails.oracle.submit_uptime_report(
        report, relayer_rails.oracle.collect_signatures(report, oracle_keys)
    )

    outcome = relayer_rails.oracle.uptime_outcome(sent)
    assert (outcome.slashed, outcome.relayer_reward, outcome.jailed, outcome.shortfall) == (
        Decimal(100),
        Decimal(10),
        True,
        0,
    )
    assert relayer_rails.oracle.reward() == Decimal(10)

    payout = relayer_rails.oracle.claim_reward()

    assert (payout.amount, payout.token, payout.source) == (Decimal(10), stk, "staking")
    with raises_unsent(relayer_rails, errors.NothingClaimable, match="no relayer reward"):
        relayer_rails.oracle.claim_reward()


# ───────────────────────── checks alone ─────────────────────────


def test_check_unbond__more_than_free__refused_with_the_limit(registered_provider):
    with raises_unsent(registered_provider, errors.InsufficientStake, match="can unbond up to 2000 mCRS of free"):
        registered_provider.provider.check_unbond(99_999)
    assert registered_provider.provider.check_unbond(100) == 100 * 10**18


def test_check_dispute__attested_job__bond_in_token_units(client_rails, attested_job, faucet):
    faucet(client_rails, usd=1)
    job, bond = client_rails.client.check_dispute(attested_job.id)
    assert (job.id, bond) == (attested_job.id, Decimal(1))
