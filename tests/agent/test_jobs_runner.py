"""The provider agent's job runner (computerails.agent.jobs) on a real anvil: JobCreated →
accept by policy → result by CID → attestation by the devnet oracles → settle and claim by the
runner; policy refusals that send nothing; kill -9 at three points and a restart that finishes
the job with exactly one accept on chain."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

import computerails
from computerails import workloads
from computerails.agent.jobs import (
    AcceptPolicy,
    DirectorySpecSource,
    JobJournal,
    JobRunner,
    NoResult,
    RunStage,
)
from computerails.agent.jobs import main as jobs_main
from computerails.agent.results import ResultStore
from computerails.content import cid_for, digest_of
from computerails.devnet import dev_key
from computerails.errors import AgentStateMismatch
from computerails.models import digits
from computerails.types import JobStatus
from tests.support.anvil import devnet_fixtures
from tests.support.sdk import CLIENT, FIRST_STAKE, ORACLES, PROVIDER, RELAYER, warp

ROOT = Path(__file__).resolve().parents[2]
KEY_VAR = "CR_JOBS_PROVIDER_KEY"
PRICE = Decimal("0.10")


# A node of this module's own, named apart from the conftest's fixtures (see devnet_fixtures).
jobs_anvil, jobs_deployment_file, jobs_w3 = devnet_fixtures(scope="module", prefix="jobs_")


@pytest.fixture
def jobs_chain(jobs_w3, jobs_deployment_file):
    """Each test on a snapshot of the deployed chain, reverted after. (Named apart from Ape's own
    `chain` fixture: overriding it here made test_agent_crash.py's crash test fail whenever xdist
    ran this module first in the same worker.)"""
    snapshot = jobs_w3.provider.make_request("evm_snapshot", [])["result"]
    yield jobs_w3
    jobs_w3.provider.make_request("evm_revert", [snapshot])


@pytest.fixture
def jobs_connect(jobs_anvil, jobs_deployment_file, jobs_chain):
    return lambda index: computerails.connect(jobs_anvil.url, deployment=jobs_deployment_file, account=dev_key(index))


@pytest.fixture
def provider(jobs_connect):
    rails = jobs_connect(PROVIDER)
    stake = rails.erc20(rails.deployment.staking_token)
    rails.send(stake.functions.mint(rails.address, int(FIRST_STAKE * 3 * 10**18)), "mint")
    rails.provider.register("ipfs://jobs-runner", FIRST_STAKE * 3)
    return rails


@pytest.fixture
def client(jobs_connect):
    rails = jobs_connect(CLIENT)
    usd = rails.erc20(rails.deployment.payment_tokens[0])
    rails.send(usd.functions.mint(rails.address, 1_000 * 10**6), "mint")
    return rails


@pytest.fixture
def specs(tmp_path):
    return DirectorySpecSource(tmp_path / "specs")


@pytest.fixture
def results(tmp_path):
    return ResultStore(tmp_path / "results")


@pytest.fixture
def policy():
    return AcceptPolicy(
        min_unit_price={"mUSD": PRICE},
        max_duration=timedelta(hours=3),
        capacity=4,
        claim_interval=timedelta(0),
    )


@pytest.fixture
def make_runner(provider, results, specs, policy, tmp_path):
    made = []

    def _make(policy=policy, **kwargs):
        runner = JobRunner(provider, tmp_path / "state.sqlite", results, policy, specs, **kwargs)
        made.append(runner)
        return runner

    yield _make
    for runner in made:
        runner.close()


@pytest.fixture
def create(client, provider, specs):
    """create(spec, price=PRICE, deadline=2h, units=None) -> job id, its spec published."""

    def _create(spec, price=PRICE, deadline=timedelta(hours=2), units=None, raw=None):
        spec_hash, _ = specs.publish_raw(raw) if raw is not None else specs.publish(spec)
        units = units if units is not None else workloads.units_of(spec) + 5
        return client.client.create_job(provider.address, Decimal(price), units, deadline, spec_hash).id

    return _create


def digits_spec(n=4):
    return workloads.digits_spec([pixels for pixels, _ in digits.samples()[:n]])


def accept_events(rails, job_id):
    return rails.escrow.events.JobAccepted().get_logs(
        from_block=rails.deployment.deploy_block, argument_filters={"jobId": job_id}
    )


def attest_as_oracles(jobs_connect, runner, job_id, spec):
    """What the devnet oracles do: fetch the result by CID, recompute it from the spec, attest
    success with the CID's digest as the result hash."""
    published = runner.published(job_id)
    result = runner.results.get(published.result_cid)
    assert result == workloads.compute(spec)
    assert published.result_hash == digest_of(cid_for(result))
    relayer = jobs_connect(RELAYER)
    relayer.oracle.attest(
        job_id,
        success=True,
        units=published.units,
        result_hash=published.result_hash,
        signers=[dev_key(i) for i in ORACLES],
    )


# ───────────────────────── end to end ─────────────────────────


def test_jobs_runner__created_accepted_published_attested_settled_claimed(
    jobs_connect, provider, create, make_runner, jobs_w3
):
    spec = digits_spec()
    seen = []
    runner = make_runner(on_published=seen.append)
    job_id = create(spec)

    report = runner.poll_once()

    assert report.seen == [job_id] and report.accepted == [job_id] and report.published == [job_id]
    assert len(accept_events(provider, job_id)) == 1
    cid = runner.result_for(job_id)
    assert cid == cid_for(workloads.compute(spec))
    assert seen == [runner.published(job_id)]
    assert runner.journal.job(job_id).stage is RunStage.PUBLISHED

    attest_as_oracles(jobs_connect, runner, job_id, spec)
    assert runner.poll_once().settled == []  # challenge window still open
    warp(jobs_w3, provider.escrow.functions.challengeWindow().call() + 1)
    wallet_before = provider.views.wallet(provider.address)

    report = runner.poll_once()

    assert report.settled == [job_id]
    job = provider.views.job(job_id)
    assert job.status is JobStatus.SETTLED and job.units == workloads.units_of(spec)
    [payout] = report.payouts
    gross = PRICE * workloads.units_of(spec)
    assert payout.amount == gross * (10_000 - job.fee_bps) / 10_000
    assert provider.views.wallet(provider.address) == wallet_before + payout.amount
    assert runner.journal.job(job_id).stage is RunStage.CLAIMED
    assert runner.counts()[RunStage.CLAIMED] == 1 and sum(runner.counts().values()) == 1
    assert [stage for stage, _ in runner.journal.transitions(job_id)] == [
        "seen",
        "seen",  # spec fetched
        "accepting",
        "accepting",  # accept signed
        "accepted",
        "computed",
        "published",
        "settled",
        "claimed",
    ]


def test_jobs_runner__restart__resumes_from_its_cursor(create, make_runner):
    runner = make_runner()
    job_id = create({"kind": "hashchain", "iterations": 100, "seed": 1})
    runner.poll_once()
    cursor = runner.last_block
    runner.close()

    again = make_runner()
    report = again.poll_once()

    assert report.seen == [] and report.accepted == [] and report.from_block == cursor + 1
    assert again.result_for(job_id) == cid_for(workloads.compute({"kind": "hashchain", "iterations": 100, "seed": 1}))


def test_jobs_runner_result_for__unknown_or_unpublished__no_result(make_runner, create):
    runner = make_runner(policy=AcceptPolicy(min_unit_price={"mUSD": 1}, max_duration=timedelta(hours=3), capacity=1))
    with pytest.raises(NoResult) as info:
        runner.result_for(12345)
    assert info.value.stage is None
    job_id = create(MATMUL)  # below this policy's price: refused, never computed
    runner.poll_once()
    with pytest.raises(NoResult, match="at stage refused") as info:
        runner.result_for(job_id)
    assert (info.value.job_id, info.value.stage) == (job_id, "refused")


# ───────────────────────── policy refusals ─────────────────────────

MATMUL = {"kind": "matmul", "size": 8, "seed": 3, "modulus": 65_521}


@pytest.mark.parametrize(
    ("job", "reason"),
    [
        ({"price": "0.09"}, "price"),
        ({"deadline": timedelta(hours=5)}, "duration"),
        ({"units": 2}, "units"),
        ({"raw": b'{"kind":"sorting","n":10}'}, "kind"),
        ({"raw": b'{"kind": "matmul"}'}, "spec"),
    ],
)
def test_jobs_runner_policy__refused__job_untouched(provider, create, make_runner, job, reason):
    runner = make_runner()
    job_id = create(MATMUL, **job)
    nonce = provider.w3.eth.get_transaction_count(provider.address)

    report = runner.poll_once()

    assert report.refused == [job_id] and report.accepted == []
    assert provider.w3.eth.get_transaction_count(provider.address) == nonce
    assert provider.views.job(job_id).status is JobStatus.OPEN
    tracked = runner.journal.job(job_id)
    assert tracked.stage is RunStage.REFUSED and tracked.reason == reason


def test_jobs_runner_policy__type_not_allowed__refused(provider, create, make_runner, policy):
    runner = make_runner(policy.model_copy(update={"kinds": frozenset({"digits"})}))
    job_id = create(MATMUL)

    assert runner.poll_once().refused == [job_id]
    assert runner.journal.job(job_id).reason == "kind"
    assert provider.views.job(job_id).status is JobStatus.OPEN


def test_jobs_runner_policy__more_units_than_run_here__refused(provider, create, make_runner, policy):
    runner = make_runner(policy.model_copy(update={"max_units": workloads.units_of(MATMUL) - 1}))
    job_id = create(MATMUL)

    assert runner.poll_once().refused == [job_id]
    assert runner.journal.job(job_id).reason == "size"
    assert provider.views.job(job_id).status is JobStatus.OPEN


def test_jobs_runner_policy__at_capacity__waits_then_takes_it(provider, create, make_runner, policy, jobs_w3):
    runner = make_runner(policy.model_copy(update={"capacity": 1}))
    first = create(MATMUL, deadline=timedelta(minutes=10))
    second = create({**MATMUL, "seed": 4})

    report = runner.poll_once()

    assert report.accepted == [first] and report.refused == []
    assert runner.journal.job(second).stage is RunStage.SEEN
    assert provider.views.job(second).status is JobStatus.OPEN and accept_events(provider, second) == []

    # Nobody attests the first before its deadline: it ends, which frees the capacity while
    # the second's accept window is still open.
    warp(jobs_w3, 11 * 60)
    assert runner.poll_once().ended == [first]
    assert runner.journal.job(first).stage is RunStage.EXPIRED
    assert runner.poll_once().accepted == [second]


def test_jobs_runner_spec_not_published__waits_until_window_closes(provider, client, make_runner, jobs_w3):
    runner = make_runner()
    spec_hash = workloads.spec_hash(MATMUL)  # never published
    job_id = client.client.create_job(provider.address, PRICE, 20, timedelta(hours=2), spec_hash).id

    runner.poll_once()
    assert runner.journal.job(job_id).stage is RunStage.SEEN
    warp(jobs_w3, provider.escrow.functions.acceptWindow().call() + 1)
    runner.poll_once()

    assert runner.journal.job(job_id).stage is RunStage.EXPIRED
    assert provider.views.job(job_id).status is JobStatus.OPEN


def test_jobs_journal__other_provider__refused(tmp_path):
    JobJournal(tmp_path / "s.sqlite", {"provider": "0xA", "chain_id": "31337"}).close()
    with pytest.raises(AgentStateMismatch) as info:
        JobJournal(tmp_path / "s.sqlite", {"provider": "0xB", "chain_id": "31337"})
    assert (info.value.field, info.value.expected, info.value.actual) == ("provider", "0xA", "0xB")


# ───────────────────────── crash recovery ─────────────────────────


def agent_options(jobs_anvil, jobs_deployment_file, tmp_path, rpc=None):
    return [
        "--rpc",
        rpc or jobs_anvil.url,
        "--deployment",
        str(jobs_deployment_file),
        "--key-env",
        KEY_VAR,
        "--state",
        str(tmp_path / "state.sqlite"),
        "--results",
        str(tmp_path / "results"),
        "--specs",
        str(tmp_path / "specs"),
        "--min-price",
        f"mUSD={PRICE}",
        "--max-duration",
        "10800",
    ]


def run_agent(jobs_anvil, jobs_deployment_file, tmp_path, crash_at=None):
    """One pass of the runner in its own process (tests/support/jobs_agent.py), optionally
    SIGKILLing itself at `crash_at`."""
    command = [sys.executable, "-m", "tests.support.jobs_agent"]
    if crash_at:
        command += ["--crash-at", crash_at]
    command += [*agent_options(jobs_anvil, jobs_deployment_file, tmp_path), "--once"]
    env = {**os.environ, KEY_VAR: dev_key(PROVIDER)}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("crash_at", ["signed", "sent", "compute"])
def test_jobs_runner_kill9__restart__completes_with_one_accept(
    jobs_anvil, jobs_deployment_file, tmp_path, provider, create, crash_at
):
    spec = digits_spec(3)
    job_id = create(spec)

    crashed = run_agent(jobs_anvil, jobs_deployment_file, tmp_path, crash_at)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    journal = JobJournal(tmp_path / "state.sqlite", {})
    before = journal.job(job_id)
    journal.close()
    expected = {"signed": RunStage.ACCEPTING, "sent": RunStage.ACCEPTING, "compute": RunStage.ACCEPTED}[crash_at]
    assert before.stage is expected
    assert (before.accept_tx is not None) is True
    assert len(accept_events(provider, job_id)) == (0 if crash_at == "signed" else 1)

    restarted = run_agent(jobs_anvil, jobs_deployment_file, tmp_path)
    assert restarted.returncode == 0, restarted.stderr

    assert len(accept_events(provider, job_id)) == 1
    assert provider.views.job(job_id).status is JobStatus.ACCEPTED
    journal = JobJournal(tmp_path / "state.sqlite", {})
    after = journal.job(job_id)
    journal.close()
    assert after.stage is RunStage.PUBLISHED
    assert after.result_cid == cid_for(workloads.compute(spec))
    assert ResultStore(tmp_path / "results").get(after.result_cid) == workloads.compute(spec)


@pytest.fixture
def restore_mining(jobs_chain):
    """For a test that turns auto-mining off: on again after, with nothing left in the pool."""
    yield jobs_chain
    jobs_chain.provider.make_request("anvil_dropAllTransactions", [])
    jobs_chain.provider.make_request("evm_setAutomine", [True])


def test_jobs_runner_accept_in_flight__waits_for_it__never_sends_another(
    provider, client, specs, make_runner, restore_mining
):
    """The journal says `accepting` with a hash the node still holds unmined (a restart while
    the accept was in the pool): the runner waits for it, and takes the job once it is mined."""
    jobs_w3 = restore_mining
    spec_hash, _ = specs.publish(MATMUL)
    runner = make_runner()
    job_id = client.client.create_job(provider.address, PRICE, 20, timedelta(hours=2), spec_hash).id
    jobs_w3.provider.make_request("evm_setAutomine", [False])  # the accept below stays in the pool
    nonce = jobs_w3.eth.get_transaction_count(provider.address, "pending")
    signed = provider.account.sign_transaction(
        {
            "type": 2,
            "chainId": provider.chain_id,
            "nonce": nonce,
            "to": provider.escrow.address,
            "data": provider.abi["JobEscrow"]["accept"].encode(job_id),
            "gas": 500_000,
            "maxFeePerGas": 10**11,
            "maxPriorityFeePerGas": 10**9,
        }
    )
    tx_hash = jobs_w3.eth.send_raw_transaction(signed.raw_transaction).to_0x_hex()
    with runner.journal.transaction() as db:
        JobJournal.insert_seen(db, job_id, "0x" + spec_hash.hex(), provider.deployment.payment_tokens[0], 0)
    runner.journal.move(job_id, RunStage.ACCEPTING, "accept signed", accept_tx=tx_hash, accept_nonce=nonce)

    runner.poll_once()

    assert jobs_w3.eth.get_transaction_count(provider.address, "pending") == nonce + 1  # nothing more sent
    assert runner.journal.job(job_id).stage is RunStage.ACCEPTING
    jobs_w3.provider.make_request("evm_mine", [])
    jobs_w3.provider.make_request("evm_setAutomine", [True])

    report = runner.poll_once()

    assert report.published == [job_id]
    assert len(accept_events(provider, job_id)) == 1
    assert runner.result_for(job_id) == cid_for(workloads.compute(MATMUL))


# ───────────────────────── the loop and the command ─────────────────────────


def test_jobs_runner_run__loops_until_stopped(create, make_runner):
    stop = threading.Event()
    runner = make_runner(on_published=lambda published: stop.set())  # stop once the job is done
    job_id = create(MATMUL)
    thread = threading.Thread(target=runner.run, args=(stop, 0.05))
    thread.start()
    thread.join(timeout=120)

    assert not thread.is_alive()
    assert runner.journal.job(job_id).stage is RunStage.PUBLISHED


def test_jobs_agent_command__serves_until_sigterm(jobs_anvil, jobs_deployment_file, tmp_path, provider, specs, client):
    """`python -m computerails.agent.jobs` as an operator runs it: it takes the job, and a
    SIGTERM ends it cleanly (exit 0) after the pass in progress."""
    spec_hash, _ = DirectorySpecSource(tmp_path / "specs").publish(MATMUL)
    job_id = client.client.create_job(provider.address, PRICE, 20, timedelta(hours=2), spec_hash).id
    command = [
        sys.executable,
        "-m",
        "computerails.agent.jobs",
        *agent_options(jobs_anvil, jobs_deployment_file, tmp_path),
    ]
    command += ["--interval", "0.1"]
    agent = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, KEY_VAR: dev_key(PROVIDER)}, stderr=subprocess.PIPE, text=True
    )
    try:
        state = tmp_path / "state.sqlite"
        stage = None
        for _ in range(600):  # until the agent has published the result (or gave up)
            if agent.poll() is not None:
                break
            if state.exists():
                journal = JobJournal(state, {})
                tracked = journal.job(job_id)
                journal.close()
                stage = tracked.stage if tracked else None
                if stage is RunStage.PUBLISHED:
                    break
            threading.Event().wait(0.1)
        assert stage is RunStage.PUBLISHED
        agent.send_signal(signal.SIGTERM)
        _, stderr = agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            os.kill(agent.pid, signal.SIGKILL)
            agent.wait()
    assert agent.returncode == 0, stderr
    assert len(accept_events(provider, job_id)) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--min-price": "mUSD"}, "is not TOKEN=AMOUNT"),
        ({"--min-price": "mUSD=ten"}, "is not TOKEN=AMOUNT"),
        ({"--kinds": "matmul,sorting"}, "unknown job types"),
        ({"--capacity": "0"}, "capacity"),
    ],
)
def test_jobs_agent_command__mistakes__usage_error(tmp_path, capsys, change, message):
    deployment = tmp_path / "deployment.json"
    deployment.write_text("{}")
    options = dict(zip(*[iter(agent_options(None, deployment, tmp_path, rpc="http://127.0.0.1:1"))] * 2))
    options.pop("--once", None)
    options.update(change)
    args = [x for pair in options.items() for x in pair]
    os.environ[KEY_VAR] = dev_key(PROVIDER)
    try:
        code = jobs_main(args)
    finally:
        del os.environ[KEY_VAR]
    assert code == 2
    assert message in capsys.readouterr().err


def test_jobs_runner_accepted_without_spec_on_file__fetches_it_and_computes(provider, create, make_runner):
    """A job accepted outside the runner (by hand, or a state file from before the spec was
    kept): the runner fetches its spec by hash, computes and publishes, keeping its stage."""
    runner = make_runner()
    job_id = create(MATMUL)
    provider.provider.accept(job_id)
    with runner.journal.transaction() as db:
        JobJournal.insert_seen(db, job_id, "0x" + workloads.spec_hash(MATMUL).hex(), provider.token().address, 0)
    runner.journal.move(job_id, RunStage.ACCEPTED, "accepted by hand")

    assert runner.poll_once().published == [job_id]
    assert [stage for stage, _ in runner.journal.transitions(job_id)][-4:] == [
        "accepted",
        "accepted",  # spec fetched
        "computed",
        "published",
    ]
    assert len(accept_events(provider, job_id)) == 1


def test_jobs_runner_waiting_job__reason_logged_once_not_every_pass(provider, client, make_runner, caplog):
    """A job whose spec never appears waits; its reason is logged once, not on every poll."""
    spec = digits_spec(2)  # never published
    job = client.client.create_job(
        provider.address, Decimal(PRICE), workloads.units_of(spec) + 5, timedelta(hours=2), workloads.spec_hash(spec)
    )
    runner = make_runner()
    with caplog.at_level(logging.INFO, logger="computerails.agent"):
        for _ in range(3):
            runner.poll_once()
    waits = [r.getMessage() for r in caplog.records if f"job {job.id} waits" in r.getMessage()]
    assert len(waits) == 1 and "not published yet" in waits[0]
