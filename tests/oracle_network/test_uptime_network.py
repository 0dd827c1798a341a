"""Uptime measured by the oracle network, real processes: two oracle nodes probe two registered
providers on their secret schedules (one provider's agent serves, the other's address answers
nothing), exchange their observations, and report the lower median. The third oracle of the
hub is played by this test and lies in both directions; the median does not move: the provider
that served is not reported, the one that was down is slashed and jailed, once."""

from __future__ import annotations

import time

import httpx
import pytest
from eth_account import Account

from computerails.devnet import dev_key, free_port
from computerails.oracle_node import gossip
from computerails.oracle_node.probes import ProbeLog
from tests.support.agent import AgentProcess, keystore_settings, mint, write_config
from tests.support.sdk import FIRST_STAKE, ORACLES

UP, DOWN = 16, 11  # dev accounts no other test of this suite uses
WAIT = 90.0
SETTINGS = {
    "probes_per_epoch": 4,
    "min_probes": 3,
    "max_lateness": 7_200,  # the test moves the chain's clock in jumps: late probes still count
    "observe_grace": 7_300,
    "transmit_delay": 1,
    "probe_tick": 0.2,
}


def wait_until(check, what: str):
    deadline = time.monotonic() + WAIT
    while not (seen := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"not seen in {WAIT} s: {what}")
        time.sleep(0.1)  # readiness polling
    return seen


def set_time(w3, timestamp: int) -> None:
    w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    w3.provider.make_request("evm_mine", [])


@pytest.fixture
def providers(net_connect, net_anvil, net_deployment_file, net_w3, tmp_path):
    """(the provider whose agent serves, the provider whose URL answers nothing)."""
    folder = tmp_path / "up"
    folder.mkdir()
    config = write_config(
        folder / "agent.toml",
        rpc_url=net_anvil.url,
        deployment=str(net_deployment_file),
        data_dir=str(folder / "data"),
        price="0.01",
        collect_interval=0,
        **keystore_settings(UP, folder),
    )
    agent = AgentProcess(config, folder)
    up, down = net_connect(UP), net_connect(DOWN)
    for rails, url in ((up, agent.url), (down, f"http://127.0.0.1:{free_port()}")):
        mint(rails, stake=5_000)
        rails.provider.register(url, FIRST_STAKE)
    agent.start()
    yield up, down
    if agent.running():
        assert agent.stop() == 0


def open_rounds(node, epoch: int) -> list[str]:
    rounds = httpx.get(f"{node.url}/v1/rounds").json()
    return [r["round"] for r in rounds if r["round"].endswith(f":{epoch}")]


def lie(node, chain_id: int, hub: str, epoch: int, provider: str, uptime_bps: int) -> int:
    """The third oracle's observation, signed with its real key, sent to `node`."""
    body = {"epoch": epoch, "provider": provider, "uptime_bps": uptime_bps, "probes": 4}
    envelope = gossip.seal(
        "observation", body, Account.from_key(dev_key(ORACLES[2])), chain_id=chain_id, hub=hub, now=int(time.time())
    )
    return httpx.post(
        f"{node.url}/v1/gossip", content=envelope.model_dump_json(), headers={"content-type": "application/json"}
    ).status_code


def test_uptime__two_nodes_and_a_lying_member__median_reports_only_the_provider_that_was_down(
    make_network, providers, net_w3
):
    up, down = providers
    nodes = make_network(indices=ORACLES[:2], **SETTINGS)
    for node in nodes:
        node.start()
    epoch = up.views.current_epoch() + 1  # begins after both registrations: the SLA applies
    slasher = up.slasher.functions
    start, end = slasher.epochStart(epoch).call(), slasher.epochEnd(epoch).call()

    set_time(net_w3, start + 1)
    for node in nodes:
        log = ProbeLog(node.config.parent / "data" / "probes.sqlite")
        wait_until(lambda log=log: len(log.counts(epoch)) == 2, "both providers planned")
        assert {p: c.planned for p, c in log.counts(epoch).items()} == {up.address: 4, down.address: 4}
        log.close()
    set_time(net_w3, end + 1)  # every slot is due: probed now
    for node in nodes:
        wait_until(lambda n=node: n.metric("computerails_oracle_observations_total") == 2, "the observations")
    assert nodes[0].metric("computerails_oracle_probes_total", 'result="up"') == 4
    assert nodes[0].metric("computerails_oracle_probes_total", 'result="down"') == 4
    for node in nodes:
        assert lie(node, up.chain_id, up.hub.address, epoch, up.address, 0) == 200
        assert lie(node, up.chain_id, up.hub.address, epoch, down.address, 10_000) == 200
    jailed_before = down.provider.status().jailed

    set_time(net_w3, end + SETTINGS["observe_grace"] + 1)

    wait_until(lambda: down.provider.status().jailed, "the down provider jailed")
    assert not jailed_before
    assert up.views.is_reported(down.address, epoch)
    assert not up.views.is_reported(up.address, epoch)  # median 10,000 bps: nothing to report
    assert not up.provider.status().jailed
    events = down.slasher.events.UptimeReported().get_logs(from_block=down.deployment.deploy_block)
    mine = [e for e in events if e["args"]["provider"] == down.address and e["args"]["epoch"] == epoch]
    assert [e["args"]["uptimeBps"] for e in mine] == [0]  # the median of 0, 0 and the lie, once
    for node in nodes:  # later epochs' rounds wait for their probes; this epoch's are all done
        wait_until(lambda n=node: not open_rounds(n, epoch), "this epoch's rounds closed")
        assert node.stop() == 0
