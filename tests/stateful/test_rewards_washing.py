"""Wash trading never pays (issue 16), as a state machine over the calculator's arithmetic.

Two worlds run side by side from the same random history: honest providers' traffic, stake
changes, jailings, epochs ending, and the schedule's fee average. In the washing world a washer
who controls two provider identities also pays itself through them (its own payer addresses):
every washed unit of gross pays the protocol fee. The other world is the counterfactual without
the washing. After every epoch:

* in an epoch it washed, what the washer's identities gained over the counterfactual is less than
  the protocol fees the washing paid, valued in reward tokens (the pools do not grow with fees;
  the usage share is capped below the fees paid);
* in an epoch it did not wash, it gains nothing over the counterfactual (washing lifts the fee
  average, which only lowers later emissions);
* so its cumulative net from washing is negative once it washed at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from computerails.rewards import Schedule
from computerails.rewards.allocation import CalculatorParams, ProviderEpoch, allocate

STAKE = 10**18
USD = 10**6
FEE_BPS = 250
HONEST = ["0x" + f"{i:040x}" for i in range(1, 4)]
WASHERS = ["0x" + f"{i:040x}" for i in range(0xF1, 0xF3)]


@dataclass
class World:
    schedule: Schedule
    average: int = 0
    rewards: dict[str, int] = field(default_factory=dict)

    def end_epoch(
        self, epoch: int, fees: dict[str, int], providers: list[ProviderEpoch], params: CalculatorParams
    ) -> dict[str, int]:
        total = sum(fees.values())
        self.average = self.schedule.average(self.average, total)
        out = allocate(epoch, self.schedule.emission(epoch, self.average), total, providers, params)
        got = {s.provider: s.total for s in out.shares}
        for a, v in got.items():
            self.rewards[a] = self.rewards.get(a, 0) + v
        return got


class Washing(RuleBasedStateMachine):
    @initialize(
        e0=st.integers(1, 10_000).map(lambda x: x * STAKE),
        halving=st.integers(1, 50),
        fee_target=st.integers(1, 100_000).map(lambda x: x * USD),
        window=st.integers(1, 30),
        availability=st.integers(0, 10_000),
        cap=st.integers(1, 9_999),
        rate=st.integers(1, 10**6).map(lambda x: x * 10**24),  # 1e-6 .. 1 reward token per payment token
        stakes=st.lists(st.integers(1, 10_000), min_size=5, max_size=5),
    )
    def setup(self, e0, halving, fee_target, window, availability, cap, rate, stakes):
        schedule = Schedule(
            e0=e0, halving_epochs=halving, fee_target=fee_target, fee_window=window, activation_delay=60
        )
        self.params = CalculatorParams("0x" + "ab" * 20, availability, cap, 0, rate)
        self.washing, self.honest_world = World(schedule), World(schedule)
        self.epoch = 0
        self.stake = {a: s * STAKE for a, s in zip(HONEST + WASHERS, stakes)}
        self.uptime = dict.fromkeys(HONEST + WASHERS, 10_000)
        self.jailed: set[str] = set()
        self.fees: dict[str, int] = {}  # this epoch's honest fees per provider
        self.wash: dict[str, int] = {}  # this epoch's washed fees per washer identity
        self.net = 0  # the washer's cumulative gain over the counterfactual minus the fees washing paid
        self.washed_ever = False

    @rule(provider=st.sampled_from(HONEST + WASHERS), gross=st.integers(1, 10**12))
    def honest_traffic(self, provider, gross):
        self.fees[provider] = self.fees.get(provider, 0) + gross * FEE_BPS // 10_000

    @rule(identity=st.sampled_from(WASHERS), gross=st.integers(40, 10**12))
    def wash_trade(self, identity, gross):
        self.wash[identity] = self.wash.get(identity, 0) + gross * FEE_BPS // 10_000

    @rule(provider=st.sampled_from(HONEST + WASHERS), stake=st.integers(0, 10_000))
    def restake(self, provider, stake):
        self.stake[provider] = stake * STAKE

    @rule(provider=st.sampled_from(HONEST + WASHERS), uptime=st.integers(0, 10_000))
    def uptime_reported(self, provider, uptime):
        self.uptime[provider] = uptime

    @rule(provider=st.sampled_from(HONEST + WASHERS))
    def jail_or_release(self, provider):
        self.jailed ^= {provider}

    @precondition(lambda self: self.epoch < 60)
    @rule()
    def end_epoch(self):
        washed = sum(self.wash.values())
        with_wash = {a: self.fees.get(a, 0) + self.wash.get(a, 0) for a in HONEST + WASHERS}
        without = {a: self.fees.get(a, 0) for a in HONEST + WASHERS}
        got = self.washing.end_epoch(self.epoch, with_wash, self._providers(with_wash), self.params)
        base = self.honest_world.end_epoch(self.epoch, without, self._providers(without), self.params)
        gain = sum(got.get(a, 0) - base.get(a, 0) for a in WASHERS)
        cost = self.params.fee_value(washed)
        if washed:
            assert gain < cost, f"epoch {self.epoch}: washing {washed} fee units gained {gain} >= their cost {cost}"
        else:
            assert gain <= 0, f"epoch {self.epoch}: no washing yet a gain of {gain} over the counterfactual"
        self.net += gain - cost
        self.washed_ever |= washed > 0
        self.epoch += 1
        self.fees, self.wash = {}, {}

    def _providers(self, fees: dict[str, int]) -> list[ProviderEpoch]:
        return [
            ProviderEpoch(a, self.stake[a], self.uptime[a], fees[a], "jailed" if a in self.jailed else "")
            for a in HONEST + WASHERS
        ]

    @invariant()
    def washing_never_pays(self):
        if getattr(self, "washed_ever", False):
            assert self.net < 0


Washing.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_washing_never_pays = Washing.TestCase
