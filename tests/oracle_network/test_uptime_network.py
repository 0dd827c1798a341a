"""Uptime measured by the oracle network, real processes: two oracle nodes probe two registered
providers on their secret schedules (one provider's agent serves, the other's address answers
nothing), exchange their observations, and report the lower median. The third oracle of the
hub is played by this test: silent at first (the median of the two observations is already
right), then it lies in both directions; the median does not move: the provider that served is
not reported, the one that was down is slashed and jailed, once."""

from __future__ import annotations

import sqlite3
import time

import pytest
from eth_account import Account

import computerails
from computerails import _http
from computerails.devnet import dev_key, free_port
from computerails.oracle_node import gossip
from computerails.oracle_node.probes import ProbeLog
from tests.support.agent import mint, provider_agent
from tests.support.anvil import devnet_fixtures
from tests.support.oracle import oracle_network
from tests.support.sdk import FIRST_STAKE, ORACLES
from tests.support.wait import wait_until

UP, DOWN = 16, 11  # dev accounts no other test of this suite uses
SETTINGS = {
    "probes_per_epoch": 4,
    "min_probes": 3,
    "max_lateness": 1_900,  # the test moves the chain's clock in half-epoch jumps: late probes still count
    "observe_grace": 2_000,  # ends inside the next epoch: its reports cannot race this one's
    "transmit_delay": 1,
    "probe_tick": 0.2,
}


def set_time(w3, timestamp: int) -> None:
    w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    w3.provider.make_request("evm_mine", [])


# A devnet of its own: these nodes probe (and may report) every provider registered on it, and
# the test moves its clock by hours; the suite's other tests keep theirs.
up_anvil, up_deployment_file, up_w3 = devnet_fixtures(scope="module", prefix="up_")


@pytest.fixture(scope="module")
def up_connect(up_anvil, up_deployment_file):
    def _connect(index: int | None = None):
        return computerails.connect(
            up_anvil.url, deployment=up_deployment_file, account=dev_key(index) if index is not None else None
        )

    return _connect


@pytest.fixture
def make_up_network(up_anvil, up_deployment_file, tmp_path):
    """make(**settings) -> two oracle nodes (the hub's first two oracles), killed afterwards."""
    made = []

    def make(**settings):
        nodes, _ = oracle_network(
            tmp_path / "net", up_anvil.url, up_deployment_file, ORACLES[:2], **{**SETTINGS, **settings}
        )
        made.extend(nodes)
        return nodes

    yield make
    for node in made:
        if node.running():
            node.kill()


@pytest.fixture
def up_network(make_up_network):
    return make_up_network()


@pytest.fixture
def make_providers(up_connect, up_anvil, up_deployment_file, up_w3, tmp_path):
    """make(up, down) -> (the provider whose agent serves, the provider whose URL answers
    nothing), from those dev accounts (each registers once on this module's devnet)."""
    agents = []

    def make(up_index, down_index):
        folder = tmp_path / f"up-{up_index}"
        folder.mkdir()
        agent = provider_agent(up_index, folder, up_anvil.url, up_deployment_file)
        up, down = up_connect(up_index), up_connect(down_index)
        # Register just after an epoch began: the SLA is in force from the next one only (an
        # epoch that began before the registration is never reported), whatever the clock.
        set_time(up_w3, up.slasher.functions.epochStart(up.views.current_epoch() + 1).call() + 1)
        for rails, url in ((up, agent.url), (down, f"http://127.0.0.1:{free_port()}")):
            mint(rails, stake=5_000)
            rails.provider.register(url, FIRST_STAKE)
        agent.start()
        agents.append(agent)
        return up, down

    yield make
    for agent in agents:
        if agent.running():
            assert agent.stop() == 0


@pytest.fixture
def providers(make_providers):
    return make_providers(UP, DOWN)


def run_epoch(nodes, up, down, w3) -> int:
    """Start the nodes, let them probe both providers through the epoch after the registrations
    and exchange their observations; returns that epoch (the chain's clock just past its end)."""
    for node in nodes:
        node.start()
    epoch = up.views.current_epoch() + 1  # begins after both registrations: the SLA applies
    slasher = up.slasher.functions
    start, end = slasher.epochStart(epoch).call(), slasher.epochEnd(epoch).call()
    set_time(w3, start + 1)
    for node in nodes:
        log = ProbeLog(node.config.parent / "data" / "probes.sqlite")
        # (an earlier test's providers, still registered on this module's devnet, are planned too)
        wait_until(lambda log=log: {up.address, down.address} <= set(log.counts(epoch)), "both providers planned")
        counts = log.counts(epoch)
        assert (counts[up.address].planned, counts[down.address].planned) == (4, 4)
        log.close()
    middle = start + (end - start) // 2
    set_time(w3, middle)  # the first half's slots are due: probed now
    for node in nodes:
        wait_until(lambda n=node: not unprobed(n, middle), "the first half's probes")
    set_time(w3, end + 1)  # and the second half's
    for node in nodes:  # its own observation of each provider and its peer's
        wait_until(lambda n=node: held(n, epoch, up.address) == held(n, epoch, down.address) == 2, "observations")
    return epoch


def unprobed(node, until: int) -> list:
    """The node's slots scheduled up to `until` that it has not probed yet."""
    log = ProbeLog(node.config.parent / "data" / "probes.sqlite")
    try:
        return log.due(until, 10**9)  # a lateness no slot reaches: nothing is marked missed here
    finally:
        log.close()


def held(node, epoch: int, provider: str) -> int:
    """How many nodes' observations of `provider` in `epoch` the node holds."""
    with sqlite3.connect(node.config.parent / "data" / "oracle.sqlite") as db:
        query = "SELECT COUNT(*) FROM observations WHERE epoch = ? AND provider = ?"
        return int(db.execute(query, (epoch, provider)).fetchone()[0])


def open_rounds(node, epoch: int) -> list[str]:
    rounds = _http.get(f"{node.url}/v1/rounds").json()
    return [r["round"] for r in rounds if r["round"].endswith(f":{epoch}")]


def lie(node, chain_id: int, hub: str, epoch: int, provider: str, uptime_bps: int) -> int:
    """The third oracle's observation, signed with its real key, sent to `node`."""
    body = {"epoch": epoch, "provider": provider, "uptime_bps": uptime_bps, "probes": 4}
    envelope = gossip.seal(
        "observation", body, Account.from_key(dev_key(ORACLES[2])), chain_id=chain_id, hub=hub, now=int(time.time())
    )
    return _http.post(
        f"{node.url}/v1/gossip", content=envelope.model_dump_json(), headers={"content-type": "application/json"}
    ).status_code


def test_uptime__two_nodes_and_a_lying_member__median_reports_only_the_provider_that_was_down(
    up_network, providers, up_w3
):
    up, down = providers
    nodes = up_network
    epoch = run_epoch(nodes, up, down, up_w3)
    end = up.slasher.functions.epochEnd(epoch).call()
    for node in nodes:  # this epoch's probes, from each node's own log
        log = ProbeLog(node.config.parent / "data" / "probes.sqlite")
        counts = log.counts(epoch)
        log.close()
        assert (counts[up.address].up, counts[up.address].down) == (4, 0)
        assert (counts[down.address].up, counts[down.address].down) == (0, 4)
    for node in nodes:  # the third oracle silent so far: the median of the two that observed
        seen = _http.get(f"{node.url}/v1/uptime/{epoch}").json()["providers"]
        assert (seen[up.address]["median_bps"], seen[down.address]["median_bps"]) == (10_000, 0)
        assert len(seen[down.address]["observations"]) == 2
    for node in nodes:
        assert lie(node, up.chain_id, up.hub.address, epoch, up.address, 0) == 200
        assert lie(node, up.chain_id, up.hub.address, epoch, down.address, 10_000) == 200
    assert not down.slasher.events.UptimeReported().get_logs(from_block=down.deployment.deploy_block)  # none yet

    set_time(up_w3, end + SETTINGS["observe_grace"] + 1)

    wait_until(lambda: down.provider.status().jailed, "the down provider jailed")
    assert up.views.is_reported(down.address, epoch)
    assert not up.views.is_reported(up.address, epoch)  # median 10,000 bps: nothing to report
    assert not up.provider.status().jailed
    events = down.slasher.events.UptimeReported().get_logs(from_block=down.deployment.deploy_block)
    mine = [e for e in events if e["args"]["provider"] == down.address and e["args"]["epoch"] == epoch]
    assert [e["args"]["uptimeBps"] for e in mine] == [0]  # the median of 0, 0 and the lie, once
    for node in nodes:  # later epochs' rounds wait for their probes; this epoch's are all done
        wait_until(lambda n=node: not open_rounds(n, epoch), "this epoch's rounds closed")
        seen = _http.get(f"{node.url}/v1/uptime/{epoch}").json()["providers"]
        assert (seen[up.address]["up"], seen[up.address]["uptime_bps"]) == (4, 10_000)
        assert (seen[down.address]["down"], seen[down.address]["uptime_bps"]) == (4, 0)
        assert sorted(seen[down.address]["observations"].values()) == [0, 0, 10_000]  # both nodes and the liar
        assert (seen[down.address]["median_bps"], seen[up.address]["median_bps"]) == (0, 10_000)
        assert _http.get(f"{node.url}/v1/uptime/-1").status_code == 422
        assert node.stop() == 0


def test_uptime__rewards_duty_on__the_median_above_the_sla_reported_too_without_a_slash(
    make_up_network, make_providers, up_w3
):
    """With the rewards duty (which the availability pool needs), every provider's median is
    reported, not only those below the SLA: the one that served gets its 10,000 bps on chain with
    nothing slashed and no relayer named; the one that was down is slashed and jailed as before."""
    up, down = make_providers(14, 15)
    nodes = make_up_network(rewards={"enabled": True, "report_uptime": True, "index_interval": 0.5})
    epoch = run_epoch(nodes, up, down, up_w3)
    end = up.slasher.functions.epochEnd(epoch).call()

    set_time(up_w3, end + SETTINGS["observe_grace"] + 1)

    wait_until(lambda: up.views.is_reported(up.address, epoch) and down.views.is_reported(down.address, epoch), "both")
    events = up.slasher.events.UptimeReported().get_logs(from_block=up.deployment.deploy_block)
    mine = {e["args"]["provider"]: e["args"] for e in events if e["args"]["epoch"] == epoch}
    assert (mine[up.address]["uptimeBps"], mine[up.address]["slashRequested"]) == (10_000, 0)
    assert mine[up.address]["relayer"] == "0x0000000000000000000000000000000000000000"
    (report,) = [e for e in events if e["args"]["epoch"] == epoch and e["args"]["provider"] == up.address]
    gas = up.w3.eth.get_transaction_receipt(report["transactionHash"])["gasUsed"]
    assert gas < 90_000  # the cost of weighing one provider's availability, per epoch (82,715 measured, k = 2)
    assert mine[down.address]["uptimeBps"] == 0 and mine[down.address]["slashRequested"] > 0
    assert [e["args"]["provider"] for e in events if e["args"]["epoch"] == epoch].count(up.address) == 1
    assert not up.provider.status().jailed
    wait_until(lambda: down.provider.status().jailed, "the down provider jailed")
    for node in nodes:
        wait_until(lambda n=node: not open_rounds(n, epoch), "this epoch's rounds closed")
        assert node.stop() == 0
