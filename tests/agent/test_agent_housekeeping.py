"""The agent's housekeeping as a process (computerails/agent/housekeeping.py): it warns in the
log and in ``/metrics`` before it would be jailed (its own outages this epoch against the SLA),
tops its stake up from a budget it never overspends across a ``kill -9``, and leaves a jail that
only downtime caused. Each test runs its own provider (a dev account no other agent test uses),
so slashing and jailing it touches nobody else."""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta
from decimal import Decimal

import httpx

from computerails import UptimeReport
from computerails.devnet import dev_key
from computerails.models import digits
from computerails.pay_client import PayingAuth
from tests.agent.conftest import mint
from tests.support.agent import keystore_settings
from tests.support.sdk import FIRST_STAKE, ORACLES, RELAYER, finish_sla_epoch
from tests.support.wait import wait_until

DOWNTIME_PROVIDER = 11
SLASHED_PROVIDER = 12
WORK_JAILED_PROVIDER, WORK_CLIENT = 13, 14
METERED_PROVIDER, METERED_PAYER = 16, 15
FAST = {
    "COMPUTERAILS_AGENT_HOUSEKEEPING__INTERVAL": "0.3",
    "COMPUTERAILS_AGENT_HOUSEKEEPING__HEARTBEAT": "0.1",
    "COMPUTERAILS_AGENT_HOUSEKEEPING__HEARTBEAT_TOLERANCE": "5",
}


def own_provider(connect, index, tmp_path, stake=5_000):
    """A registered provider with its own keystore: (rails, keystore settings)."""
    rails = connect(index)
    mint(rails, stake=stake)
    rails.provider.register(f"ipfs://housekeeping-{index}", FIRST_STAKE)
    return rails, keystore_settings(index, tmp_path)


def report_uptime(connect, w3, provider_rails, uptime_bps=0):
    """What the oracle quorum does for an epoch the provider missed: returns the outcome."""
    epoch = finish_sla_epoch(w3, provider_rails)
    relayer = connect(RELAYER)
    report = UptimeReport(provider=provider_rails.address, epoch=epoch, uptime_bps=uptime_bps)
    signatures = relayer.oracle.collect_signatures(report, [dev_key(i) for i in ORACLES])
    return relayer.oracle.uptime_outcome(relayer.oracle.submit_uptime_report(report, signatures))


def test_housekeeping__down_most_of_the_sla_allowance__warns_in_log_and_metrics(make_agent, connect, w3, tmp_path):
    rails, key = own_provider(connect, DOWNTIME_PROVIDER, tmp_path)
    agent = make_agent(**key).start(**FAST)
    wait_until(lambda: agent.metric("computerails_agent_stake", 'kind="staked"') > 0, "a first pass")
    assert agent.metric("computerails_agent_jail_risk", 'reason="downtime"') == 0
    agent.kill()
    # The process stays down 120 s of the current epoch: its last alive mark moves back that far
    # (the devnet's SLA of 95 % of an hour allows 180 s; the warning starts at half of that).
    into_next = rails.slasher.functions.epochStart(rails.views.current_epoch() + 1).call() + 1_000
    w3.provider.make_request("evm_setNextBlockTimestamp", [into_next])  # 1,000 s into an epoch
    w3.provider.make_request("evm_mine", [])
    down_since = int(time.time()) - 120
    with sqlite3.connect(agent.config.parent / "data" / "agent.sqlite") as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'last_alive'", (str(down_since),))

    agent.start(**FAST)

    wait_until(lambda: agent.metric("computerails_agent_jail_risk", 'reason="downtime"') == 1, "the downtime risk")
    downtime = agent.metric("computerails_agent_epoch_downtime_seconds")
    assert 120 <= downtime < 180
    text = agent.log.read_text()
    assert "the agent was not running for" in text
    assert "jail risk (downtime): down" in text and "the SLA of 95 % allows 180 s: keep it running" in text
    assert agent.metric("computerails_agent_jail_risk", 'reason="jailed"') == 0
    assert agent.stop() == 0


def test_housekeeping__uptime_slash__tops_up_within_budget_unjails_and_restart_does_not_spend_it_again(
    make_agent, connect, w3, tmp_path
):
    rails, key = own_provider(connect, SLASHED_PROVIDER, tmp_path)
    unit = 10**18
    agent = make_agent(
        **key,
        housekeeping={"top_up_budget": "150", "target_free_stake": str(FIRST_STAKE), "unjail_after_downtime": True},
    ).start(**FAST)
    wait_until(lambda: agent.metric("computerails_agent_stake", 'kind="staked"') > 0, "a first pass")
    deposited = rails.provider.status().total_deposited

    first = report_uptime(connect, w3, rails)

    assert first.jailed and first.slashed == 100  # 5 % of 2,000
    wait_until(lambda: not rails.provider.status().jailed, "unjailed after the top-up")
    status = rails.provider.status()
    assert status.staked == FIRST_STAKE and status.total_deposited == deposited + 100
    assert agent.metric("computerails_agent_topped_up_total") == 100 * unit
    assert "topped up stake by 100 mCRS (budget left 50)" in agent.log.read_text()
    assert "jail risk (jailed): jailed for downtime" in agent.log.read_text()

    agent.kill()  # kill -9: the budget's baseline is on disk, not in memory
    agent.start(**FAST)
    second = report_uptime(connect, w3, rails)

    assert second.jailed and second.slashed == 100
    wait_until(lambda: not rails.provider.status().jailed, "unjailed with what the budget had left")
    status = rails.provider.status()
    assert status.total_deposited == deposited + 150  # the budget, no more
    assert status.staked == FIRST_STAKE - 50
    wait_until(lambda: "the top-up budget has 0 left" in agent.log.read_text(), "the budget warning")
    assert agent.metric("computerails_agent_topped_up_total") == 50 * unit  # this process's share
    assert agent.metric("computerails_agent_jail_risk", 'reason="jailed"') == 0
    assert agent.stop() == 0


def test_housekeeping__jailed_for_work_and_downtime__not_unjailed_by_itself(make_agent, connect, tmp_path, w3):
    rails, key = own_provider(connect, WORK_JAILED_PROVIDER, tmp_path)
    client = connect(WORK_CLIENT)
    mint(client, usd=10)
    job = client.client.create_job(rails.address, Decimal("0.10"), 10, timedelta(hours=2), b"\x01" * 32)
    rails.provider.accept(int(job.id))
    connect(RELAYER).oracle.attest(
        int(job.id), success=False, units=0, result_hash=b"\x00" * 32, signers=[dev_key(i) for i in ORACLES]
    )
    assert rails.provider.jail_reasons() == {"work"}
    assert report_uptime(connect, w3, rails).slashed > 0
    assert rails.provider.jail_reasons() == {"work", "downtime"}
    agent = make_agent(**key, housekeeping={"top_up_budget": "1000", "unjail_after_downtime": True}).start(**FAST)

    wait_until(lambda: "not unjailing by itself" in agent.log.read_text(), "the refusal to unjail")

    assert rails.provider.status().jailed
    assert agent.metric("computerails_agent_jail_risk", 'reason="jailed"') == 1
    assert "jail risk (jailed): jailed for downtime" in agent.log.read_text()
    assert agent.stop() == 0


def test_housekeeping__collected_vouchers__claimed_from_the_metered_escrow_when_worth_the_gas(
    make_agent, connect, tmp_path
):
    rails, key = own_provider(connect, METERED_PROVIDER, tmp_path)
    payer = connect(METERED_PAYER)
    mint(payer, usd=10)
    payer.payer.deposit(rails.address, 5)
    agent = make_agent(**key, collect_interval=0.3, min_value_per_gas="0.000001").start(
        **FAST, COMPUTERAILS_AGENT_HOUSEKEEPING__CLAIM_INTERVAL="0"
    )
    paying = PayingAuth(
        dev_key(METERED_PAYER),
        chain_id=payer.chain_id,
        escrow=payer.collector.domain.escrow,
        tokens=payer.deployment.payment_tokens,
        budget=10**6,
        wallet=tmp_path / "wallet.sqlite",
    )
    try:
        with httpx.Client(auth=paying) as client:
            for i in range(3):
                pixels, _ = digits.samples()[i]
                assert client.post(f"{agent.url}/v1/infer", json={"pixels": list(pixels)}).status_code == 200
    finally:
        paying.close()

    token = rails.views.payment_tokens()[0]
    fee_bps = rails.read("MeteredEscrow", rails.collector.domain.escrow, "feeBps")
    net = 3 * 10_000 * (10_000 - fee_bps) // 10_000  # 3 requests at 0.01 mUSD, less the fee

    def claimed() -> float:
        return agent.metric("computerails_agent_claimed_total", 'source="metered",token="mUSD"')

    # A collection round may take the first requests before the last one is paid, and the
    # claim that follows it only what was collected: later passes claim the rest.
    wait_until(lambda: claimed() >= net, "the three requests' net claimed")
    assert claimed() == net
    assert rails.views.wallet(rails.address, token.address) == Decimal(net) / 10**6
    assert rails.collector.claimable(token.address) == 0
    assert agent.stop() == 0
