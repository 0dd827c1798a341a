"""The RewardsDistributor's emission schedule, integer for integer (contracts/RewardsDistributor.sol):

    E(t) = e0 · 2^(−t/H) · max(0, 1 − avg(t) / F*)

2^(−t/H) is exact at each halving and interpolated linearly between sixteenths of a halving
(:data:`TWO_TO_MINUS_SIXTEENTHS`, floors of 2^(−k/16) scaled by 1e18); ``avg`` is the exponential
moving average of each epoch's protocol fees over ``fee_window`` epochs, from 0, the epoch's own
fees included; products are floored as OpenZeppelin's ``Math.mulDiv`` floors them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SCALE = 10**18
MAX_FEE_TARGET = 10**28
#: floor(2^(−k/16) · 1e18) for k = 0 .. 16: the contract's table.
TWO_TO_MINUS_SIXTEENTHS = (
    1000000000000000000,
    957603280698573646,
    917004043204671231,
    878126080186649741,
    840896415253714543,
    805245165974627154,
    771105412703970411,
    738413072969749655,
    707106781186547524,
    677127773468446364,
    648419777325504832,
    620928906036742024,
    594603557501360533,
    569394317378345826,
    545253866332628829,
    522136891213706920,
    500000000000000000,
)


def decay(epoch: int, halving_epochs: int) -> int:
    """2^(−epoch/H) scaled by 1e18, as ``RewardsDistributor.decay``."""
    halvings, within = divmod(epoch, halving_epochs)
    if halvings >= 64:
        return 0
    k, rest = divmod(within * 16, halving_epochs)
    hi, lo = TWO_TO_MINUS_SIXTEENTHS[k], TWO_TO_MINUS_SIXTEENTHS[k + 1]
    return (hi - (hi - lo) * rest // halving_epochs) >> halvings


@dataclass(frozen=True)
class Schedule:
    """The schedule's parameters (``RewardsDistributor.params()``), raw units."""

    e0: int  # reward token units released in epoch 0 with no fees
    halving_epochs: int  # H
    fee_target: int  # F*, fee token units per epoch
    fee_window: int  # W, epochs
    activation_delay: int = 0  # seconds (not part of the release)

    def decay(self, epoch: int) -> int:
        return decay(epoch, self.halving_epochs)

    def emission(self, epoch: int, fee_average: int) -> int:
        """E(t) at `fee_average`, as ``RewardsDistributor.emission``."""
        if fee_average >= self.fee_target:
            return 0
        return self.e0 * self.decay(epoch) // SCALE * (self.fee_target - fee_average) // self.fee_target

    def average(self, average: int, fees: int) -> int:
        """The fee average after an epoch with `fees`."""
        f = min(fees, MAX_FEE_TARGET)
        if f >= average:
            return average + (f - average) // self.fee_window
        return average - (average - f) // self.fee_window

    def release(self, start: int, fees: Iterable[int], released: int = 0, average: int = 0) -> tuple[int, int]:
        """Runs the schedule over epochs `start`, `start` + 1, ... with each epoch's `fees`, from
        `released` and `average` (the previous root's): returns the new (released, average)."""
        for i, f in enumerate(fees):
            average = self.average(average, f)
            released += self.emission(start + i, average)
        return released, average
