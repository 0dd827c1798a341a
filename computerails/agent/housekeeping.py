"""The agent's money and standing housekeeping: one pass every ``[housekeeping] interval``.

Each pass, in this order:

1. **alive mark** (every ``heartbeat`` seconds, between passes too): the agent records that it
   runs; a gap longer than ``heartbeat_tolerance`` between two marks is an outage (the process
   was down, or frozen). The outages within the current uptime epoch are the agent's own
   estimate of what the oracles' probes missed.
2. **standing**: reads its stake, jail, shortfall and the uptime SLA, and names every way it is
   jailed, or about to be (:class:`Risk`): ``jailed``, ``shortfall`` (an uptime slash owed),
   ``below_min_stake``, ``downtime`` (this epoch's outages have used ``downtime_warn_bps`` of
   what the SLA allows; at 100 % the SLA is missed and a report will slash and jail),
   ``job_deadline`` (a job it holds is unattested within ``job_deadline_warn`` seconds of its
   deadline). A risk is logged once when it appears (WARNING; ERROR when jailed or the SLA is
   already missed) and once when it clears, and is the gauge
   ``computerails_agent_jail_risk{reason}`` meanwhile.
3. **top-up** (optional, ``top_up_budget`` > 0): stakes what pays the shortfall and brings the
   stake back to the minimum (and free stake to ``target_free_stake``), from the wallet, never
   more than the budget has left. The budget counts every stake deposit since the agent first
   ran (the chain's ``totalDeposited`` against a baseline kept in SQLite), so a crash between
   sending and recording a top-up cannot spend it twice.
4. **unjail** (optional, ``unjail_after_downtime``): once the stake allows, it leaves a jail that
   only downtime caused. A jail for work (a failed job, a fraud attestation) is the operator's
   call and is left alone.
5. **claims** (every ``claim_interval``): withdraws each claimable balance (escrow payments of
   settled jobs; slash proceeds from staking; collected vouchers from the MeteredEscrow) that
   is worth its gas: at least
   ``claim_value_per_gas`` times the withdrawal's gas cost for a token with a price
   (``native_price``), at least the token's ``min_claim`` otherwise (any positive amount when
   none is set). Matured unbonding stake is withdrawn too.

Every action is read from the chain before it is sent, so a restart after a crash at any step
repeats nothing that landed: a mined top-up raises ``totalDeposited``, a mined claim empties the
balance, a mined unjail clears the jail.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from web3.exceptions import TransactionNotFound

from computerails.agent.config import HousekeepingSettings
from computerails.agent.jobs import by_token
from computerails.agent.metrics import AgentMetrics
from computerails.agent.store import AgentStore
from computerails.errors import ComputeRailsError
from computerails.rails import ComputeRails
from computerails.types import CLAIM_SOURCES, Payout, ProviderStatus, TokenInfo, from_raw, to_raw

log = logging.getLogger("computerails.agent.housekeeping")

BPS = 10_000
WEI_PER_NATIVE = 10**18
#: Gas of one withdrawal as ``make bench`` measures it ("claim (escrow.withdraw) after 1 settled
#: job": 57,180, the provider's first payout into an empty wallet, the dearest case); the
#: worth-it check prices a claim with it.
CLAIM_GAS = 57_180
STAKE_BASELINE = "stake_baseline"

#: A source of jail risks beside the standing (the per-job runner's deadlines): called each pass.
RiskSource = Callable[[], list["Risk"]]
#: Called after an escrow withdrawal with the token's address and the transaction's hash.
WithdrawnHook = Callable[[str, str], object]


@dataclass(frozen=True)
class Risk:
    """One way the provider is jailed or is about to be.

    Attributes:
        reason: ``jailed``, ``shortfall``, ``below_min_stake``, ``downtime`` or ``job_deadline``.
        message: what it means and what to do, for the log.
        severe: already jailed, or certain to be (logged as ERROR).
    """

    reason: str
    message: str
    severe: bool = False


@dataclass
class PassReport:
    """What one pass found and did."""

    risks: list[Risk] = field(default_factory=list)
    topped_up: Decimal = Decimal(0)
    unjailed: bool = False
    payouts: list[Payout] = field(default_factory=list)
    downtime: int = 0  # seconds of outages in the current epoch


REASONS = ("jailed", "shortfall", "below_min_stake", "downtime", "job_deadline")


class Housekeeper:
    """The housekeeping of one agent (see the module docstring).

    Args:
        rails: the provider's connection.
        store: the agent's database (alive marks, outages, the stake baseline).
        metrics: the agent's metrics.
        settings: the ``[housekeeping]`` section.
        token_per_native: raw units of a token one native coin is worth, by token address
            (the claim worth-it check; tokens not listed use ``min_claim``).
    """

    def __init__(
        self,
        rails: ComputeRails,
        store: AgentStore,
        metrics: AgentMetrics,
        settings: HousekeepingSettings,
        token_per_native: Mapping[str, int],
    ) -> None:
        self.rails = rails
        self.store = store
        self.metrics = metrics
        self.settings = settings
        self.token_per_native = {k.lower(): v for k, v in token_per_native.items()}
        self.address = rails.require_account().address
        self.risk_sources: list[RiskSource] = []
        self.on_withdrawn: list[WithdrawnHook] = []
        self._shown: dict[str, str] = {}
        self._last_claim = 0.0

    # ── 1. alive ──
    def mark_alive(self, now: float | None = None) -> None:
        """Record that the agent runs; log an outage found since the previous mark."""
        moment = int(time.time() if now is None else now)
        gap = self.store.mark_alive(moment, int(self.settings.heartbeat_tolerance))
        if gap is not None:
            log.warning(
                "the agent was not running for %s s (%s to %s): probes in that span were missed",
                gap[1] - gap[0],
                _iso(gap[0]),
                _iso(gap[1]),
            )

    # ── the pass ──
    def run_once(self) -> PassReport:
        """One pass: standing, top-up, unjail, claims (see the module docstring)."""
        report = PassReport()
        self.mark_alive()
        status = self.rails.provider.status()
        if not status.registered:
            self._show([Risk("below_min_stake", f"{self.address} is not registered: it cannot be paid", True)])
            return report
        min_stake = int(self.rails.views.params()["staking"]["min_stake"])
        report.risks, report.downtime = self._risks(status, min_stake)
        for source in self.risk_sources:
            report.risks += source()
        self._show(report.risks)
        self._stake_gauges(status)
        report.topped_up = self._top_up(status, min_stake)
        if report.topped_up:
            status = self.rails.provider.status()
        report.unjailed = self._unjail(status, min_stake)
        if time.time() - self._last_claim >= self.settings.claim_interval:
            report.payouts = self._claims(status)
            self._last_claim = time.time()
        return report

    # ── 2. standing ──
    def _risks(self, status: ProviderStatus, min_stake: int) -> tuple[list[Risk], int]:
        info = self.rails.staking_token
        risks = []
        if status.jailed:
            why = "downtime" if status.jailed_for_downtime else "a failed job or a wrong answer"
            risks.append(
                Risk("jailed", f"jailed for {why}: takes no jobs and earns no new collections until it unjails", True)
            )
        if status.shortfall:
            risks.append(
                Risk(
                    "shortfall",
                    f"owes an uptime slash of {status.shortfall} {info.symbol}: exits and new jobs are blocked "
                    "until stake pays it",
                )
            )
        if to_raw(status.staked, info.decimals) < min_stake and not status.left:
            risks.append(
                Risk(
                    "below_min_stake",
                    f"active stake {status.staked} {info.symbol} is below the minimum "
                    f"{from_raw(min_stake, info.decimals)}: cannot accept jobs or unjail",
                )
            )
        epochs = self.rails.views.epochs()
        current = epochs.current
        start, end = int(current.start.timestamp()), int(current.end.timestamp())
        # Outages are in the agent's clock, epochs in the chain's (which a devnet may warp):
        # the epoch is moved onto the agent's clock by the offset seen now.
        wall = int(time.time())
        offset = int(epochs.now.timestamp()) - wall
        downtime = self.store.downtime(start - offset, min(wall, end - offset))
        sla_bps = int(self.rails.views.uptime_params()["sla_bps"])
        allowed = (end - start) * (BPS - sla_bps) // BPS
        self.metrics.epoch_downtime.set(downtime)
        sla_applies = not status.left and not status.jailed_for_downtime
        if sla_applies and downtime and downtime * BPS >= allowed * self.settings.downtime_warn_bps:
            missed = downtime > allowed
            risks.append(
                Risk(
                    "downtime",
                    f"down {downtime} s of epoch {current.epoch} (ends {current.end.isoformat()}); the SLA of "
                    f"{sla_bps / 100:g} % allows {allowed} s"
                    + (": missed, a report will slash and jail" if missed else ": keep it running"),
                    missed,
                )
            )
        return risks, downtime

    def _show(self, risks: list[Risk]) -> None:
        current = {r.reason: r for r in risks}
        for reason in REASONS:
            self.metrics.jail_risk.labels(reason).set(1 if reason in current else 0)
        for reason, risk in current.items():
            if self._shown.get(reason) != risk.message:
                log.log(logging.ERROR if risk.severe else logging.WARNING, "jail risk (%s): %s", reason, risk.message)
                self._shown[reason] = risk.message
        for reason in [r for r in self._shown if r not in current]:
            log.info("jail risk (%s) cleared", reason)
            del self._shown[reason]

    def _stake_gauges(self, status: ProviderStatus) -> None:
        d = self.rails.staking_token.decimals
        for kind, value in (("staked", status.staked), ("locked", status.locked), ("free", status.free)):
            self.metrics.stake.labels(kind).set(to_raw(value, d))
        for kind, value in (("unbonding", status.unbonding), ("shortfall", status.shortfall)):
            self.metrics.stake.labels(kind).set(to_raw(value, d))

    # ── 3. top-up ──
    def _top_up(self, status: ProviderStatus, min_stake: int) -> Decimal:
        budget = self.settings.top_up_budget
        if budget <= 0 or status.left:
            return Decimal(0)
        info = self.rails.staking_token
        d = info.decimals
        deposited = to_raw(status.total_deposited, d)
        baseline = int(self.store.set_meta_once(STAKE_BASELINE, str(deposited)))
        left = to_raw(budget, d) - (deposited - baseline)
        shortfall, staked, free = (to_raw(v, d) for v in (status.shortfall, status.staked, status.free))
        want = shortfall + max(0, min_stake - staked)
        if self.settings.target_free_stake is not None:
            want = max(want, shortfall + to_raw(self.settings.target_free_stake, d) - free)
        if want <= 0:
            return Decimal(0)
        wallet = to_raw(self.rails.views.wallet(self.address, info.address), d)
        amount = min(want, left, wallet)
        if amount <= 0:
            log.warning(
                "stake needs %s %s more; the top-up budget has %s left and the wallet %s",
                from_raw(want, d),
                info.symbol,
                from_raw(max(left, 0), d),
                from_raw(wallet, d),
            )
            return Decimal(0)
        self.rails.provider.stake(from_raw(amount, d))
        self.metrics.topped_up.inc(amount)
        log.info(
            "topped up stake by %s %s (budget left %s)", from_raw(amount, d), info.symbol, from_raw(left - amount, d)
        )
        return from_raw(amount, d)

    # ── 4. unjail ──
    def _unjail(self, status: ProviderStatus, min_stake: int) -> bool:
        if not (self.settings.unjail_after_downtime and status.jailed and status.jailed_for_downtime):
            return False
        if status.shortfall or to_raw(status.staked, self.rails.staking_token.decimals) < min_stake:
            return False
        reasons = self.rails.provider.jail_reasons()
        if reasons != {"downtime"}:
            log.warning("jailed for %s: not unjailing by itself (run `computerails provider unjail`)", sorted(reasons))
            return False
        self.rails.provider.unjail()
        log.info("unjailed after a downtime jail: the SLA applies again from the next epoch")
        return True

    # ── 5. claims ──
    def _claims(self, status: ProviderStatus) -> list[Payout]:
        payouts = []
        gas_price = self.rails.w3.eth.gas_price
        for info, parts in self.rails.views.claimable_raw(self.address).items():
            for source in CLAIM_SOURCES:
                raw = parts.get(source, 0)
                if raw and self._worth(info, raw, gas_price):
                    payout = self.rails.provider.claim(info.address, source=source)
                    self._count(payout, "claim")
                    payouts.append(payout)
                    if source == "escrow":
                        for hook in self.on_withdrawn:
                            hook(info.address, payout.tx_hash)
        if status.unbonding and status.unbonding_end is not None and not status.shortfall:
            if self.rails.now() >= int(status.unbonding_end.timestamp()):
                payout = self.rails.provider.withdraw_unbonded()
                self._count(payout, "withdraw_unbonded")
                payouts.append(payout)
        return payouts

    def _worth(self, info: TokenInfo, raw: int, gas_price: int) -> bool:
        price = self.token_per_native.get(info.address.lower())
        if price is not None:
            cost = CLAIM_GAS * gas_price * price // WEI_PER_NATIVE
            return raw >= self.settings.claim_value_per_gas * cost
        floor = by_token(self.settings.min_claim, info.address, info.symbol)
        return floor is None or from_raw(raw, info.decimals) >= floor

    def _count(self, payout: Payout, action: str) -> None:
        try:
            receipt = self.rails.w3.eth.get_transaction_receipt(payout.tx_hash)  # type: ignore[arg-type]
            self.metrics.housekeeping_gas.labels(action).inc(
                int(receipt["gasUsed"]) * int(receipt.get("effectiveGasPrice", 0))
            )
        except (ComputeRailsError, TransactionNotFound, ValueError) as exc:  # never fails the pass
            log.debug("no receipt for %s yet: %s", payout.tx_hash, exc)
        raw = to_raw(payout.amount, payout.token.decimals)
        self.metrics.claimed.labels(payout.source, payout.token.symbol).inc(raw)
        log.info("%s: %s %s from %s in %s", action, payout.amount, payout.token.symbol, payout.source, payout.tx_hash)


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")
