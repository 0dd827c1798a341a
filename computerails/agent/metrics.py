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
