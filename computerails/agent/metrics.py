"""The agent's Prometheus metrics (``GET /metrics``), in a registry of its own per app, so two
apps in one process (tests) never share counters. Token amounts are raw units of the payment
token (its decimals are in the 402 terms); gas is in wei."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class AgentMetrics:
    """Counters and gauges of one agent."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "computerails_agent_requests",
            "Inference requests by outcome (served, payment_required, refused, not_covered, invalid, too_large, error)",
            ["outcome"],
            registry=self.registry,
        )
        self.paid_value = Counter(
            "computerails_agent_paid_value",
            "Value of the vouchers accepted for served requests (raw token units)",
            registry=self.registry,
        )
        self.outstanding = Gauge(
            "computerails_agent_outstanding",
            "Value the kept vouchers promise beyond what the escrow has paid (raw token units)",
            registry=self.registry,
        )
        self.cover_reads = Counter(
            "computerails_agent_cover_reads",
            "Escrow views a paid request was admitted against, by source (chain, cache)",
            ["source"],
            registry=self.registry,
        )
        self.collections = Counter(
            "computerails_agent_collections",
            "Collection transactions by outcome (mined, reverted, dropped)",
            ["status"],
            registry=self.registry,
        )
        self.collected_value = Counter(
            "computerails_agent_collected_value",
            "Gross value the agent's collections were paid (raw token units)",
            registry=self.registry,
        )
        self.gas_spent = Counter(
            "computerails_agent_gas_spent_wei",
            "Gas the agent paid for collections (wei)",
            registry=self.registry,
        )
        self.errors = Counter(
            "computerails_agent_errors",
            "Errors by where they happened (collect, request, jobs, results)",
            ["where"],
            registry=self.registry,
        )
        # ── housekeeping (computerails.agent.housekeeping) ──
        self.jail_risk = Gauge(
            "computerails_agent_jail_risk",
            "1 while the provider is jailed or about to be, by reason "
            "(jailed, shortfall, below_min_stake, downtime, job_deadline)",
            ["reason"],
            registry=self.registry,
        )
        self.epoch_downtime = Gauge(
            "computerails_agent_epoch_downtime_seconds",
            "Seconds the agent was not running in the current uptime epoch (its own alive marks)",
            registry=self.registry,
        )
        self.stake = Gauge(
            "computerails_agent_stake",
            "The provider's stake by kind (staked, locked, free, unbonding, shortfall), raw staking-token units",
            ["kind"],
            registry=self.registry,
        )
        self.topped_up = Counter(
            "computerails_agent_topped_up",
            "Stake the agent added from its top-up budget (raw staking-token units)",
            registry=self.registry,
        )
        self.claimed = Counter(
            "computerails_agent_claimed",
            "Value withdrawn by the housekeeping, by source (escrow, staking) and token symbol (raw units)",
            ["source", "token"],
            registry=self.registry,
        )
        self.housekeeping_gas = Counter(
            "computerails_agent_housekeeping_gas_wei",
            "Gas the housekeeping paid, by action (claim, withdraw_unbonded) (wei)",
            ["action"],
            registry=self.registry,
        )
