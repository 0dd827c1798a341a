"""The oracle node's Prometheus metrics (``GET /metrics``), in a registry of its own per app."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class NodeMetrics:
    """Counters and gauges of one oracle node."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.gossip_in = Counter(
            "computerails_oracle_gossip_received",
            "Gossip messages received, by kind and outcome (accepted, or the refusal reason)",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.gossip_out = Counter(
            "computerails_oracle_gossip_sent",
            "Gossip messages delivered to peers (accepted or already held there)",
            registry=self.registry,
        )
        self.probes = Counter(
            "computerails_oracle_probes",
            "Health probes made, by result (up, down)",
            ["result"],
            registry=self.registry,
        )
        self.observations = Counter(
            "computerails_oracle_observations",
            "Uptime observations made by this node",
            registry=self.registry,
        )
        self.signed = Counter(
            "computerails_oracle_signed",
            "Statements this node signed, by kind (job, uptime, fraud)",
            ["kind"],
            registry=self.registry,
        )
        self.ready = Counter(
            "computerails_oracle_rounds_ready",
            "Rounds that reached the quorum here, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.transmitted = Counter(
            "computerails_oracle_transmitted",
            "Statements this node transmitted, by kind and its position in the round's schedule",
            ["kind", "position"],
            registry=self.registry,
        )
        self.submissions = Counter(
            "computerails_oracle_submissions",
            "Transactions this node sent, by outcome (mined, reverted, dropped)",
            ["status"],
            registry=self.registry,
        )
        self.gas_spent = Counter(
            "computerails_oracle_gas_spent_wei",
            "Gas this node paid for its submissions (wei)",
            registry=self.registry,
        )
        self.open_rounds = Gauge(
            "computerails_oracle_open_rounds",
            "Rounds not yet done on chain",
            registry=self.registry,
        )
        self.unreachable_peers = Gauge(
            "computerails_oracle_unreachable_peers",
            "Peers the last gossip pass could not reach",
            registry=self.registry,
        )
        self.shops = Counter(
            "computerails_oracle_shops",
            "The node's own paid requests, by outcome (correct, fraud, refused, error, skipped, missed)",
            ["outcome"],
            registry=self.registry,
        )
        self.shop_spent = Counter(
            "computerails_oracle_shop_spent_value",
            "Value of the vouchers the mystery shopper signed (raw token units)",
            registry=self.registry,
        )
        self.rewards_roots = Counter(
            "computerails_oracle_rewards_roots",
            "Rewards roots this node signed, posted (transmitted) or vetoed",
            ["action"],
            registry=self.registry,
        )
        self.errors = Counter(
            "computerails_oracle_errors",
            "Errors by where they happened (loop, gossip, jobs, uptime, rewards, index, transmit, shopper)",
            ["where"],
            registry=self.registry,
        )
