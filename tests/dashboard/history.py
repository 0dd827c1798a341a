"""A chain with a varied history for the dashboard's tests: the marketplace simulation (jobs
settled, failed, disputed and expired; uptime slashes and unjails over three reported epochs;
collateral slashes; metered requests paid by vouchers, a wrong answer caught and slashed for
fraud; claims and withdrawals), then a little live state on top so that every figure has something to show: an
open job and an accepted one (escrow and locked collateral), a provider unbonding, and rewards (the reserve funded,
roots posted by the oracle quorum over the epochs the market ran in, one vetoed, claims, and a last root pending)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from computerails.devnet import Anvil
from computerails.sim.demo import deploy_fresh
from computerails.sim.marketplace import Actor, Config, Marketplace
from computerails.workloads import make_spec, spec_hash, units_of
from tests.support.rewards_history import RewardsRun, run_rewards

CONFIG = Config(providers=3, clients=3, jobs=9, metered_payers=2, metered_requests=20, seed=5, senders=4)


@dataclass
class History:
    url: str
    deployment: Path
    market: Marketplace
    open_job: int
    accepted_job: int
    unbonding_provider: Actor
    rewards: RewardsRun

    @property
    def honest(self) -> Actor:
        """A provider with settled jobs and metered earnings (neither dishonest nor offline)."""
        return self.market.providers[0]

    @property
    def client(self) -> Actor:
        """A client with jobs and metered escrow accounts."""
        return self.market.clients[0]


def build_history(node: Anvil, folder: Path) -> History:
    rpc, deployment, governance = deploy_fresh(node, CONFIG, folder)
    market = Marketplace(rpc, deployment, CONFIG, governance)
    report = market.run()
    assert report.passed, report.to_json()
    for _ in range(2):  # two more epochs of uptime reports: the offline provider misses its SLA again
        market.report_uptime()
    client, provider = market.clients[0], market.providers[0]
    specs = [make_spec(market.rng) for _ in range(2)]
    usd = client.rails.deployment.payment_tokens[0]
    market.mint(client, usd, 10**9)
    jobs = [
        client.rails.client.create_job(
            provider.address, provider.price, units_of(spec) + 5, timedelta(hours=6), spec_hash(spec)
        )
        for spec in specs
    ]
    provider.rails.provider.accept(jobs[1].id)
    unbonding = market.providers[1]
    unbonding.rails.provider.request_unbond(Decimal(100))
    rewards = run_rewards(rpc, deployment, [o.key for o in market.oracles], pending=True)
    return History(rpc, Path(deployment), market, jobs[0].id, jobs[1].id, unbonding, rewards)
