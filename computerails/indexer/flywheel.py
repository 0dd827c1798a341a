"""The flywheel series: per reward epoch, the subsidy the RewardsDistributor's roots distributed
for that epoch against what providers earned from fees in it, and the subsidy's share of the two.

* **Subsidy** of an epoch: each root that was not vetoed distributes its total less the previous
  such root's total, for the epochs it added (the previous root's ``through`` .. its own
  ``through`` − 1), split evenly between them (the integer remainder one unit each to the first
  ones, so that the epochs sum to the root's total exactly). A root still pending counts: it is
  posted and, unless vetoed, what claims will use.
* **Fee revenue** of an epoch: ``provider_net`` of the JobEscrow settlements (``JobSettled``) and of
  the MeteredEscrow collections (``VoucherCollected``) whose block time falls in the epoch, per
  payment token, in raw units.
* **Subsidy share**: subsidy / (subsidy + fee revenue), with every amount in token units when
  `decimals` are given (reward and payment tokens taken 1:1, as the protocol's parameters price
  them), else in raw units; None for an epoch with neither.

Epochs run from 0 (starting at the distributor's ``genesis``) to the last epoch that has a
subsidy or fee revenue. The series is empty for an index whose deployment has no distributor."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Connection, select

from computerails.indexer import schema as s


@dataclass(frozen=True)
class FlywheelEpoch:
    """One reward epoch of the flywheel series (amounts in raw units)."""

    epoch: int
    start: int  # unix seconds: genesis + epoch × epoch length
    subsidy: int  # reward-token units the roots distributed for this epoch
    fee_revenue: dict[str, int] = field(default_factory=dict)  # payment token -> providers' net fees
    subsidy_share: float | None = None  # subsidy / (subsidy + fee revenue); None: neither


@dataclass(frozen=True)
class RewardsClock:
    """The distributor's epochs (its immutables, recorded in ``meta``): start of epoch 0, seconds
    per epoch; and its reward token ("" where not known). The indexer's readers and the rewards
    calculator share it."""

    genesis: int
    epoch_length: int
    token: str = ""

    def start(self, epoch: int) -> int:
        return self.genesis + epoch * self.epoch_length

    def end(self, epoch: int) -> int:
        return self.start(epoch + 1)

    def of(self, timestamp: int) -> int:
        """The epoch running at `timestamp`; −1 before genesis."""
        return -1 if timestamp < self.genesis else (timestamp - self.genesis) // self.epoch_length


def rewards_clock(conn: Connection) -> RewardsClock | None:
    """The distributor's clock from ``meta``; None when the index has no distributor."""
    meta = dict(conn.execute(select(s.meta.c.key, s.meta.c.value).where(s.meta.c.key.like("rewards:%"))).all())
    if "rewards:genesis" not in meta or "rewards:epoch_length" not in meta:
        return None
    return RewardsClock(
        int(meta["rewards:genesis"]), int(meta["rewards:epoch_length"]), str(meta.get("rewards:token", ""))
    )


def subsidy_by_epoch(conn: Connection) -> dict[int, int]:
    """Epoch -> reward-token units distributed for it (see the module's docstring)."""
    r = s.rewards_roots
    roots = conn.execute(
        select(r.c.total, r.c.through).where(r.c.vetoed.is_(False)).order_by(r.c.block_number, r.c.log_index)
    ).all()
    out: dict[int, int] = defaultdict(int)
    total, through = 0, 0
    for root in roots:
        added, first, last = int(root.total) - total, through, int(root.through)
        span = last - first
        if span > 0 and added > 0:
            share, rest = divmod(added, span)
            for i, epoch in enumerate(range(first, last)):
                out[epoch] += share + (1 if i < rest else 0)
        total, through = int(root.total), max(through, last)
    return dict(out)


def fee_revenue_by_epoch(conn: Connection, clock: RewardsClock) -> dict[int, dict[str, int]]:
    """Epoch -> payment token -> providers' net from settlements and collections in it (raw)."""
    t = s.job_transitions
    settled = conn.execute(
        select(s.blocks.c.timestamp, s.jobs.c.token, s.jobs.c.provider_net)
        .select_from(t)
        .join(s.jobs, s.jobs.c.job_id == t.c.job_id)
        .join(s.blocks, s.blocks.c.number == t.c.block_number)
        .where(t.c.event == "JobSettled")
    ).all()
    c = s.collections
    collected = conn.execute(
        select(s.blocks.c.timestamp, c.c.token, c.c.provider_net).join(s.blocks, s.blocks.c.number == c.c.block_number)
    ).all()
    out: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for timestamp, token, net in [*settled, *collected]:
        if int(net):
            out[max(clock.of(int(timestamp)), 0)][str(token)] += int(net)  # before genesis: epoch 0
    return {e: dict(v) for e, v in out.items()}


def flywheel_series(conn: Connection, decimals: Mapping[str, int] | None = None) -> list[FlywheelEpoch]:
    """The flywheel series of the index on `conn`: one :class:`FlywheelEpoch` per reward epoch from
    0 to the last with a subsidy or fee revenue (empty without a distributor).

    Args:
        conn: a connection to the index (read-only is enough).
        decimals: token address -> decimals, for the subsidy share in token units (the reward
            token's and each payment token's); None: the share of raw units.
    """
    clock = rewards_clock(conn)
    if clock is None:
        return []
    subsidy = subsidy_by_epoch(conn)
    fees = fee_revenue_by_epoch(conn, clock)
    epochs = set(subsidy) | set(fees)
    if not epochs:
        return []

    def units(token: str, raw: int) -> Decimal:
        return Decimal(raw).scaleb(-(decimals or {}).get(token, 0)) if decimals else Decimal(raw)

    series = []
    for epoch in range(max(epochs) + 1):
        paid = subsidy.get(epoch, 0)
        revenue = fees.get(epoch, {})
        sub = units(clock.token, paid)
        whole = sub + sum((units(t, v) for t, v in revenue.items()), Decimal(0))
        share = float(sub / whole) if whole else None
        series.append(FlywheelEpoch(epoch, clock.start(epoch), paid, revenue, share))
    return series
