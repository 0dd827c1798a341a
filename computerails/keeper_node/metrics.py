"""The keeper's Prometheus metrics (``GET /metrics``), in a registry of its own per app, so two
apps in one process (tests) never share counters. Gas is in wei; rewards in raw staking-token
units."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: What the keeper does, as the ``action`` label says it.
ACTIONS = ("settle", "reclaim", "cancel", "relay", "claim")


class KeeperMetrics:
    """Counters and gauges of one keeper."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.passes = Counter(
            "computerails_keeper_passes", "Passes run (a failed pass included)", registry=self.registry
        )
        self.pass_seconds = Histogram(
            "computerails_keeper_pass_seconds",
            "Wall time of one pass",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.jobs_settled = Counter(
            "computerails_keeper_jobs_settled", "Jobs the keeper's settleMany paid out", registry=self.registry
        )
        self.jobs_reclaimed = Counter(
            "computerails_keeper_jobs_reclaimed",
            "Jobs the keeper ended: expired ones reclaimed, its own unaccepted ones cancelled",
            ["how"],
            registry=self.registry,
        )
        self.reports_relayed = Counter(
            "computerails_keeper_reports_relayed", "Uptime reports the keeper relayed (mined)", registry=self.registry
        )
        self.reports_ignored = Counter(
            "computerails_keeper_reports_ignored",
            "Reports from oracle nodes not relayed, by reason (other_relayer, reported, journalled, invalid, refused)",
            ["reason"],
            registry=self.registry,
        )
        self.rewards_claimed = Counter(
            "computerails_keeper_rewards_claimed",
            "Relayer rewards claimed from the staking contract (raw staking-token units)",
            registry=self.registry,
        )
        self.gas_spent = Counter(
            "computerails_keeper_gas_spent_wei",
            "Gas the keeper paid, by action (settle, reclaim, cancel, relay, claim)",
            ["action"],
            registry=self.registry,
        )
        self.skipped = Counter(
            "computerails_keeper_skipped_not_worth_gas",
            "Decisions not to act because the gas was not worth it, by action (once per job or report)",
            ["action"],
            registry=self.registry,
        )
        self.errors = Counter(
            "computerails_keeper_errors",
            "Errors by where they happened (pass, settle, reclaim, relay, claim, oracle, journal)",
            ["where"],
            registry=self.registry,
        )
        self.pending = Gauge(
            "computerails_keeper_pending_transactions",
            "Journalled transactions whose outcome is not known yet",
            registry=self.registry,
        )
        self.last_block = Gauge(
            "computerails_keeper_last_block",
            "Last block whose escrow events were processed",
            registry=self.registry,
        )
        for action in ACTIONS:
            self.gas_spent.labels(action)
            self.skipped.labels(action)
