"""Gas budgets, asserted (gas is deterministic). Measured on whichever provider runs the suite;
`make test` runs this file on the in-process chain and on anvil (it is marked `anvil`)."""

import pytest

from tests.support.protocol import STAKE, USD

pytestmark = pytest.mark.anvil

BUDGETS = {
    "createJob": 120_000,
    "accept": 60_000,
    "attest_k3": 75_000,
    "settle_per_job_at_100": 20_000,
    "claim": 60_000,
    # 110,000 before issue 9: the report now names its relayer and oracle configuration (two more
    # signed words), and the slasher checks the epoch's deadline in seconds and the provider's SLA
    # window (README "Gas budgets" has the figures).
    "uptime_k3_slash": 112_000,
}


@pytest.fixture
def k3(hub, governance):
    hub.setThreshold(3, sender=governance)


def test_gas__create_job__within_budget(protocol, escrow, usd, client, registered_provider):
    protocol.create_job(client, registered_provider)  # warm the escrow's token balance, as in steady state
    protocol.fund_usd(client, 10 * USD)
    receipt = escrow.createJob(registered_provider, usd, USD // 10, 100, protocol.now() + 86_400, b"\x07" * 32, sender=client)
    print("createJob", receipt.gas_used)
    assert receipt.gas_used <= BUDGETS["createJob"]


def test_gas__accept__within_budget(protocol, escrow, open_job, registered_provider):
    receipt = escrow.accept(open_job, sender=registered_provider)
    print("accept", receipt.gas_used)
    assert receipt.gas_used <= BUDGETS["accept"]


def test_gas__attest_k3__within_budget(protocol, accepted_job, oracles, k3):
    receipt = protocol.attest(accepted_job, units=100, signers=oracles)
    print("attest k=3", receipt.gas_used)
    assert receipt.gas_used <= BUDGETS["attest_k3"]


def test_gas__settle_100__amortized_within_budget(protocol, escrow, client, registered_provider):
    ids = []
    for _ in range(100):
        job = protocol.accepted_job(client, registered_provider)
        protocol.attest(job, units=100)
        ids.append(job)
    protocol.warp(3_601)
    receipt = escrow.settleMany(ids, sender=client)
    print("settle x100 per job", receipt.gas_used / 100)
    assert receipt.gas_used / 100 <= BUDGETS["settle_per_job_at_100"]


def test_gas__claim__within_budget(protocol, escrow, usd, attested_job, registered_provider):
    protocol.warp(3_601)
    escrow.settle(attested_job, sender=registered_provider)
    receipt = escrow.withdraw(usd, sender=registered_provider)
    print("claim", receipt.gas_used)
    assert receipt.gas_used <= BUDGETS["claim"]


def test_gas__uptime_k3_slash__steady_state_within_budget(
    protocol, oracles, registered_provider, other_provider, relayer, k3
):
    # Steady state: the provider is reported every epoch (its once-only bitmap word exists),
    # and the relayer and the treasury already hold slash proceeds. A first-ever report pays
    # up to three fresh storage slots more (bitmap word, relayer and treasury balances).
    protocol.register(other_provider)
    protocol.warp_past_sla_start(other_provider)  # the SLA applies from the first epoch after registration
    first = protocol.finish_epoch()
    protocol.report_uptime(other_provider, first, 5_000, signers=oracles, sender=relayer)
    protocol.report_uptime(registered_provider, first, 10_000, signers=oracles, sender=relayer)
    second = protocol.finish_epoch()
    receipt = protocol.report_uptime(registered_provider, second, 5_000, signers=oracles, sender=relayer)
    assert receipt.events.filter(protocol.staking.ProviderSlashed)  # the slash is included
    print("uptime k=3 slash", receipt.gas_used)
    assert receipt.gas_used <= BUDGETS["uptime_k3_slash"]
