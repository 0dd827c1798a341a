from datetime import timedelta
from decimal import Decimal

from computerails import JobStatus
from tests.support.sdk import warp


def test_full_job__through_sdk__provider_claims(w3, client_rails, provider_rails, faucet, oracle_keys):
    faucet(client_rails, usd=100)
    faucet(provider_rails, stake=5_000)
    provider_rails.provider.register("ipfs://meta", Decimal(2_000))
    job = client_rails.client.create_job(provider_rails.address, Decimal("0.10"), 100, timedelta(hours=2), b"\x01" * 32)
    assert job.status is JobStatus.OPEN and job.escrow == Decimal("10")
    provider_rails.provider.accept(job.id)
    provider_rails.oracle.attest(job.id, success=True, units=100, result_hash=b"\x02" * 32, signers=oracle_keys)
    warp(w3, 3_601)
    client_rails.send(client_rails.escrow.functions.settle(job.id), "settle")
    payouts = provider_rails.provider.claim_rewards()
    assert [(p.token.symbol, p.amount) for p in payouts] == [("mUSD", Decimal("9.75"))]
    assert provider_rails.provider.claim_rewards() == []
