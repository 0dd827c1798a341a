"""How one epoch's emission is split between providers: the calculator's arithmetic, apart from
where its facts come from (:mod:`computerails.rewards.calculator` reads them from the index).

Per epoch t, the schedule's emission E(t) splits into two pools by ``availability_bps``:

- **availability**: each eligible provider's share follows its stake-backed capacity (the
  smaller of its active stake when the epoch started and when it ended: stake must back the whole
  epoch) times its uptime that epoch (the quorum's reported figure, 10,000 bps without a report);
- **usage**: each eligible provider's share follows the protocol fees its traffic paid in the
  epoch (job settlements and voucher collections in the fee token), **capped** at
  ``wash_cap_bps`` / 10,000 of those fees valued in reward tokens (``reward_per_fee``).

A provider jailed or slashed in the epoch is not eligible: it earns nothing for it, and its
share is not handed to others. Amounts are floored; what the pools do not hand out (rounding,
capped usage, ineligible providers, empty pools) is not allocated: it stays in the reserve.

Why washing loses money (docs/REWARDS.md has the full argument): the pools do not grow with a
provider's fees (more fees only lower E(t) through the fee average), and with the usage pool U
fixed, adding w of fees to a provider with f of S raises ``min(U·f/S, c·f)`` by at most ``c·w``
(c the cap in reward units per fee unit), while the w of fees cost w·rate > c·w.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BPS = 10_000
WAD = 10**18


@dataclass(frozen=True)
class CalculatorParams:
    """The RewardsDistributor's ``calculatorParams()`` (set by governance)."""

    fee_token: str
    availability_bps: int
    wash_cap_bps: int
    settle_delay: int
    reward_per_fee: int  # reward-token units per fee-token unit, scaled by 1e18

    def __post_init__(self) -> None:
        if not 0 <= self.availability_bps <= BPS:
            raise ValueError(f"availability_bps {self.availability_bps} is outside 0..10,000")
        if not 0 < self.wash_cap_bps < BPS:
            raise ValueError(f"wash_cap_bps {self.wash_cap_bps} must be in 1..9,999")
        if self.reward_per_fee <= 0:
            raise ValueError("reward_per_fee must be positive")
        if self.settle_delay < 0:
            raise ValueError("settle_delay must not be negative")

    def usage_cap(self, fees: int) -> int:
        """The most usage reward `fees` of a provider's traffic can earn (reward-token units)."""
        return fees * self.reward_per_fee * self.wash_cap_bps // (BPS * WAD)

    def fee_value(self, fees: int) -> int:
        """`fees` valued in reward-token units (what washing them costs)."""
        return fees * self.reward_per_fee // WAD


@dataclass(frozen=True)
class ProviderEpoch:
    """What the calculator knows of one provider in one epoch."""

    provider: str  # lowercase address
    capacity: int  # stake backing the whole epoch (staking-token units)
    uptime_bps: int  # 0 .. 10,000
    fees: int  # protocol fees its traffic paid (fee-token units)
    excluded: str = ""  # why it earns nothing this epoch ("jailed", "slashed", "left"); "" if eligible


@dataclass(frozen=True)
class EpochShare:
    provider: str
    availability: int
    usage: int
    capped: bool  # its usage share was cut to the wash cap

    @property
    def total(self) -> int:
        return self.availability + self.usage


@dataclass(frozen=True)
class EpochAllocation:
    epoch: int
    emission: int
    fees: int  # the epoch's protocol fees in the fee token (what the root post carries)
    shares: tuple[EpochShare, ...]  # eligible providers with a positive share, by address

    @property
    def allocated(self) -> int:
        return sum(s.total for s in self.shares)

    @property
    def unallocated(self) -> int:
        return self.emission - self.allocated


def allocate(
    epoch: int, emission: int, fees: int, providers: Sequence[ProviderEpoch], params: CalculatorParams
) -> EpochAllocation:
    """Split `emission` between `providers` (see the module's rules). Deterministic: integers
    only, independent of the order of `providers`."""
    eligible = sorted((p for p in providers if not p.excluded), key=lambda p: p.provider)
    availability_pool = emission * params.availability_bps // BPS
    usage_pool = emission - availability_pool

    weights = {p.provider: p.capacity * min(max(p.uptime_bps, 0), BPS) for p in eligible}
    weight_sum = sum(weights.values())
    usage_sum = sum(p.fees for p in eligible)
    shares = []
    for p in eligible:
        a = availability_pool * weights[p.provider] // weight_sum if weight_sum else 0
        u, capped = 0, False
        if usage_sum and p.fees:
            u = usage_pool * p.fees // usage_sum
            cap = params.usage_cap(p.fees)
            if u > cap:
                u, capped = cap, True
        if a or u:
            shares.append(EpochShare(p.provider, a, u, capped))
    return EpochAllocation(epoch, emission, fees, tuple(shares))
