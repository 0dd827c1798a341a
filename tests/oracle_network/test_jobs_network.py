"""Per-job work verified by the oracle network, all real processes: a provider agent accepts a
job and publishes its result by CID; three oracle nodes fetch it, recompute it, agree, and one
of them transmits the attestation. The round's transmitter schedule decides who; a dead first
transmitter is replaced by the next one after ``transmit_delay``; a transmitter killed with -9
after journalling its transaction sends nothing more after its restart."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from decimal import Decimal

import pytest

from computerails import _http, workloads
from computerails.agent.jobs import DirectorySpecSource
from computerails.content import cid_for, digest_of
from computerails.models import digits
from computerails.oracle_node.node import transmit_order
from computerails.types import Attestation, JobStatus
from tests.support.agent import mint, provider_agent
from tests.support.sdk import FIRST_STAKE, ORACLES
from tests.support.wait import wait_until

PROVIDER, CLIENT = 12, 13  # dev accounts no other test of this suite uses
UNIT_PRICE = Decimal("0.10")


@pytest.fixture(scope="module")
def net_spec_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("specs")


@pytest.fixture(scope="module")
def net_provider(net_connect, net_anvil, net_deployment_file, net_w3, net_spec_dir, tmp_path_factory):
    """A provider agent with per-job work on, registered with its URL as metadata."""
    folder = tmp_path_factory.mktemp("provider")
    agent = provider_agent(
        PROVIDER,
        folder,
        net_anvil.url,
        net_deployment_file,
        jobs={
            "enabled": True,
            "spec_dir": str(net_spec_dir),
            "min_unit_price": {"mUSD": str(UNIT_PRICE)},
            "capacity": 16,  # the module's jobs stay attested (unsettled) for the challenge window
        },
    )
    rails = net_connect(PROVIDER)
    mint(rails, stake=5_000)
    rails.provider.register(agent.url, FIRST_STAKE)
    agent.start(COMPUTERAILS_AGENT_JOBS__POLL_INTERVAL="0.2")
    yield rails, agent
    if agent.running():
        assert agent.stop() == 0


@pytest.fixture(scope="module")
def net_client(net_connect, net_provider):
    rails = net_connect(CLIENT)
    mint(rails, usd=100)
    return rails


def create_job(client, provider_rails, spec_dir, n_images=3):
    spec = workloads.digits_spec([pixels for pixels, _ in digits.samples()[:n_images]])
    spec_hash, _ = DirectorySpecSource(spec_dir).publish(spec)
    job = client.client.create_job(provider_rails.address, UNIT_PRICE, 50, timedelta(hours=2), spec_hash)
    return int(job.id), spec


def expected_attestation(rails, job_id, spec) -> Attestation:
    job = rails.views.job(job_id)
    return Attestation(
        job_id=job_id,
        provider=job.provider,
        success=True,
        units=workloads.units_of(spec),
        result_hash=digest_of(cid_for(workloads.compute(spec))),
        deadline=int(job.deadline.timestamp()),
        config_version=rails.oracle.config_version(),
    )


def schedule(rails, job_id, spec) -> list[str]:
    digest = "0x" + rails.oracle.digest(expected_attestation(rails, job_id, spec)).hex()
    return transmit_order(digest, rails.oracle.oracles())


def attested_events(rails, job_id):
    return rails.escrow.events.JobAttested().get_logs(
        from_block=rails.deployment.deploy_block, argument_filters={"jobId": job_id}
    )


def published(agent, job_id) -> bool:
    return _http.get(f"{agent.url}/v1/jobs/{job_id}/result").status_code == 200


def sender_of(rails, event) -> str:
    return rails.w3.eth.get_transaction(event["transactionHash"])["from"]


def test_network__job_published__recomputed_agreed_and_attested_once_by_the_first_transmitter(
    make_network, net_provider, net_client, net_spec_dir
):
    provider_rails, agent = net_provider
    nodes = make_network()
    by_address = {n.address: n for n in nodes}
    for node in nodes:
        node.start()
    job_id, spec = create_job(net_client, provider_rails, net_spec_dir)
    order = schedule(provider_rails, job_id, spec)

    wait_until(lambda: provider_rails.views.job(job_id).status is JobStatus.ATTESTED, "the attestation")

    (event,) = attested_events(provider_rails, job_id)
    expected = expected_attestation(provider_rails, job_id, spec)
    assert (event["args"]["success"], event["args"]["units"]) == (True, expected.units)
    assert "0x" + bytes(event["args"]["resultHash"]).hex() == expected.result_hash
    assert sender_of(provider_rails, event) == order[0]
    first = by_address[order[0]]
    wait_until(  # counted once its transaction is mined, a moment after the chain shows it
        lambda: first.metric("computerails_oracle_transmitted_total", 'kind="job",position="0"') == 1,
        "the transmission counted",
    )
    signed = []
    for node in nodes:
        wait_until(lambda n=node: n.metric("computerails_oracle_open_rounds") == 0, "every node closing the round")
        signed.append(node.metric("computerails_oracle_signed_total", 'kind="job"'))
        assert node.stop() == 0
    # Each node signs at most once; a node that finds the job attested before it recomputed it
    # has nothing left to sign.
    assert set(signed) <= {0.0, 1.0} and sum(signed) >= 2


def test_network__first_transmitter_dead__the_next_in_the_schedule_transmits(
    make_network, net_provider, net_client, net_spec_dir
):
    provider_rails, agent = net_provider
    job_id, spec = create_job(net_client, provider_rails, net_spec_dir, n_images=4)
    order = schedule(provider_rails, job_id, spec)
    # order[1]'s turn comes one delay after the round's, order[2]'s two: a delay of a few seconds
    # keeps a loaded machine's slow start of order[1] from handing its turn to order[2]
    nodes = {n.address: n for n in make_network(transmit_delay=4)}
    for address in order[1:]:  # order[0] never comes up
        nodes[address].start()

    wait_until(lambda: provider_rails.views.job(job_id).status is JobStatus.ATTESTED, "the attestation")

    (event,) = attested_events(provider_rails, job_id)
    assert sender_of(provider_rails, event) == order[1]
    wait_until(  # counted once its transaction is mined, a moment after the chain shows it
        lambda: nodes[order[1]].metric("computerails_oracle_transmitted_total", 'kind="job",position="1"') == 1,
        "the transmission counted",
    )
    assert nodes[order[2]].metric("computerails_oracle_transmitted_total", 'kind="job",position="2"') == 0
    for address in order[1:]:
        assert nodes[address].stop() == 0


def test_network__transmitter_killed_after_journalling__restart_sends_nothing_twice(
    make_network, net_provider, net_client, net_spec_dir, net_w3
):
    provider_rails, agent = net_provider
    job_id, spec = create_job(net_client, provider_rails, net_spec_dir, n_images=5)
    wait_until(lambda: published(agent, job_id), "the provider's result")
    order = schedule(provider_rails, job_id, spec)
    nodes = {n.address: n for n in make_network(transmit_delay=120)}  # the others wait their turn
    first = nodes[order[0]]
    nonce = net_w3.eth.get_transaction_count(order[0])
    net_w3.provider.make_request("evm_setAutomine", [False])
    try:
        for address in order[:2]:
            nodes[address].start()
        database = first.config.parent / "data" / "oracle.sqlite"

        def journalled():
            if not database.exists():
                return None
            with sqlite3.connect(database) as db:
                return db.execute("SELECT tx_hash FROM submissions WHERE status = 'pending'").fetchall()

        [(tx_hash,)] = wait_until(journalled, "the journalled attestation")
        first.kill()
        first.start()
        net_w3.provider.make_request("evm_mine", [])
        wait_until(lambda: first.metric("computerails_oracle_submissions_total", 'status="mined"') == 1, "the outcome")
    finally:
        net_w3.provider.make_request("evm_setAutomine", [True])

    (event,) = attested_events(provider_rails, job_id)
    assert "0x" + bytes(event["transactionHash"]).hex() == tx_hash
    assert net_w3.eth.get_transaction_count(order[0]) == nonce + 1  # one transaction, ever
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT status FROM submissions").fetchall() == [("mined",)]
    wait_until(lambda: first.metric("computerails_oracle_open_rounds") == 0, "the round closed")
    for address in order[:2]:
        assert nodes[address].stop() == 0


def test_network__one_node_cut_off__the_rest_go_on__it_catches_up_when_reconnected(
    make_network, net_provider, net_client, net_spec_dir
):
    provider_rails, agent = net_provider
    nodes, link = make_network(cuttable=ORACLES[2], transmit_delay=1)
    a, b, c = nodes
    for node in nodes:
        node.start()
    link.cut()
    first, _ = create_job(net_client, provider_rails, net_spec_dir, n_images=6)

    wait_until(lambda: provider_rails.views.job(first).status is JobStatus.ATTESTED, "the attestation without c")
    b.kill()  # now neither a nor c can reach a quorum alone
    second, _ = create_job(net_client, provider_rails, net_spec_dir, n_images=7)
    wait_until(lambda: a.metric("computerails_oracle_signed_total", 'kind="job"') == 2, "a signing the second job")
    wait_until(lambda: c.metric("computerails_oracle_signed_total", 'kind="job"') == 2, "c signing it, cut off")
    assert provider_rails.views.job(second).status is JobStatus.ACCEPTED  # one signature each: no quorum
    # c re-sends its signature every gossip interval: it finds a (cut) and b (dead) unreachable.
    wait_until(lambda: c.metric("computerails_oracle_unreachable_peers") == 2, "c finding no peer")

    link.restore()

    wait_until(
        lambda: provider_rails.views.job(second).status is JobStatus.ATTESTED, "the attestation after c rejoined"
    )
    wait_until(lambda: c.metric("computerails_oracle_unreachable_peers") <= 1, "c reaching a again")
    assert "reachable again" in c.log.read_text()
    for node in (a, c):
        wait_until(lambda n=node: n.metric("computerails_oracle_open_rounds") == 0, "every round closed")
        assert node.stop() == 0


def transmitted(node) -> float:
    """The node's transmissions, all kinds and schedule positions."""
    return sum(v for k, v in node.samples().items() if k.startswith("computerails_oracle_transmitted_total{"))


def test_network__jobs_published_together__each_attested_once_and_counted_once(
    make_network, net_provider, net_client, net_spec_dir
):
    """Several jobs at once, a short transmitter delay: the schedule's first transmitter sends
    before its backups' turns come (a pass transmits before it checks new jobs), and a job the
    hub skipped in a node's batch (done meanwhile) is not counted as that node's transmission."""
    provider_rails, agent = net_provider
    created = [create_job(net_client, provider_rails, net_spec_dir, n_images=1)[0] for _ in range(5)]
    nodes = make_network(transmit_delay=1)
    for node in nodes:
        node.start()
    for job_id in created:
        wait_until(lambda j=job_id: provider_rails.views.job(j).status is JobStatus.ATTESTED, f"job {job_id} attested")
    for node in nodes:
        wait_until(lambda n=node: n.metric("computerails_oracle_open_rounds") == 0, "every node closing its rounds")
    assert all(len(attested_events(provider_rails, j)) == 1 for j in created)
    assert sum(transmitted(n) for n in nodes) == len(created)  # each counted by exactly one node
    for node in nodes:
        assert node.stop() == 0
