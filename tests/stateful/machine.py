"""The protocol state machine (hypothesis RuleBasedStateMachine), run by
tests/stateful/test_protocol_machine.py (`make test`) and tests/stateful/audit.py (`make audit`).

Actors: two clients, two providers, three oracles (two spare oracle keys governance can add),
governance, the arbitrator, a relayer and an attacker. Every rule predicts its outcome from the
plain-Python model in `model.py` (the exact named error, or success and its effects), sends the
transaction, and updates the model; the invariants below compare chain and model after every
step. The chain is snapshotted in __init__ and restored in teardown, after invariant 10 (every
actor can exit) has run.

The machine drives anvil over raw JSON-RPC (tests/support/rpc_chain.py): a predicted revert is
simulated at its exact time and compared byte for byte, never sent; a predicted success is
signed locally and sent in one round trip; the invariants read the chain in one batch per step.
Rules are drawn by weight (`step`), so no rule takes more than its share of a run.
docs/AUDITING.md maps each invariant to the code that checks it.
"""

from __future__ import annotations

import functools
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from computerails import eip712
from tests.stateful.harness import World
from tests.stateful.model import (
    ACCEPTED,
    ATTESTED,
    BPS,
    DISPUTED,
    ENDED,
    EXPIRED,
    FAILED,
    LIVE,
    OPEN,
    RATE_SCALE,
    UINT48_MAX,
    UINT96_MAX,
    UINT128_MAX,
    ZERO,
    JobM,
    Model,
    Params,
    Schedule,
)
from tests.support.signatures import high_s_twin, predicted_rejection

USD = 10**6
STAKE = 10**18

# Time steps that land on and around every window: minutes, the 1 h windows and epochs, days.
WARPS = st.sampled_from([1, 59, 60, 61, 1_799, 3_599, 3_600, 3_601, 7_200, 86_399, 86_400, 259_200, 604_800, 604_801])
# Mostly valid values (so runs go deep), with every boundary and out-of-range value in reach.
PRICES = st.sampled_from([1, 39, 1_000, 100_000, 100_000, 1_000_000, 0, UINT96_MAX, UINT96_MAX + 1])
UNITS = st.sampled_from([1, 7, 100, 100, 1_000, 0, UINT48_MAX + 1])
DURATIONS = st.sampled_from([3_600, 7_200, 86_400, 86_400, 30 * 86_400, 0, 1, 30 * 86_400 + 1])
STAKES = st.sampled_from([0, 1, 999 * STAKE, 1_000 * STAKE, 1_500 * STAKE, 4_000 * STAKE])
SIGNER_SETS = st.sampled_from(
    ["valid", "valid", "valid", "too_few", "outsider", "duplicate", "reversed", "extra", "stale", "malleable", "cut"]
)


@dataclass(frozen=True)
class StepSpec:
    """A rule of the machine: drawn by the weighted dispatcher (`ProtocolMachine.next_step`)."""

    name: str
    weight: int  # relative: no rule may take more than 15 % of a run's calls
    needs_jobs: bool
    strategies: dict[str, Any]


STEPS: dict[str, StepSpec] = {}


def step(
    weight: int, needs_jobs: bool = False, **strategies: Any
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a rule with its weight and argument strategies (instead of hypothesis' @rule,
    whose uniform choice let one cheap rule take half of a run)."""

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        STEPS[fn.__name__] = StepSpec(fn.__name__, weight, needs_jobs, strategies)
        return fn

    return register


class BudgetSpent(KeyboardInterrupt):
    """The run's time budget has passed: the dispatcher ends the run. Not a failure: like
    Ctrl-C, a KeyboardInterrupt passes through Hypothesis untouched (no shrinking, no flakiness
    check). Raised between steps, so the example's teardown still checks invariant 10 and
    restores the snapshot."""


def _key(contract: Any, fn: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A view's cache key: the contract, the function and the arguments (actors by address)."""
    return (contract.name, fn, tuple(getattr(a, "address", a) for a in args))


def _marks_failure(method: Callable[..., None]) -> Callable[..., None]:
    """Any exception out of `method` marks the run failed: from then on the budget no longer
    ends it, so Hypothesis shrinks the failure and the replay script gets written."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            method(*args, **kwargs)
        except Exception:
            ProtocolMachine.failed = True
            raise

    return wrapper


class ProtocolMachine(RuleBasedStateMachine):
    """Configured by `run()` below with the session's deployment and accounts."""

    world: World  # set by the test below: the chain, contracts, actors and the model's start
    examples = 0
    outcomes: Counter = Counter()  # "rule: ok" / "rule: ErrorName" -> count, over the whole run
    rule_calls: Counter = Counter()  # rule -> times the dispatcher drew it
    invariant_checks: Counter = Counter()  # invariant -> times checked
    last_trace: list = []  # the steps of the example that ran last (the minimal one after a failure)
    stop_at: float | None = None  # time.monotonic() after which the dispatcher raises BudgetSpent
    failed = False  # a step, invariant or teardown raised: the budget no longer ends the run
    idle_steps = 0  # steps that drew the idle choice (no call)

    def __init__(self) -> None:
        super().__init__()
        w = self.world
        self.chain = w.chain
        self.snap = self.chain.snapshot()
        self.escrow, self.staking, self.hub, self.slasher = w.escrow, w.staking, w.hub, w.slasher
        self.usd, self.stake = w.usd, w.stake
        a = w.actors
        self.gov, self.arbitrator, self.relayer, self.attacker = (
            a["governance"],
            a["arbitrator"],
            a["relayer"],
            a["attacker"],
        )
        self.treasury = a["treasury"]
        self.clients, self.providers = [a["client"], a["other_client"]], [a["provider"], a["other_provider"]]
        self.oracle_pool = w.oracle_pool  # current oracles first, then spare keys
        init = w.model_init
        self.model = Model(**{k: v for k, v in init.items()})
        self.model.schedules = [Schedule(**vars(s)) for s in init["schedules"]]
        self.model.wallet_usd = w.wallet_usd0.copy()
        self.model.wallet_stake = w.wallet_stake0.copy()
        self.model.params = Params(**vars(init["params"]))
        self.model.oracles = list(init["oracles"])
        self.withdrawn: set[tuple[str, str]] = set()  # (account, ledger) that withdrew in this step
        # What the last step touched: the per-step invariants read these in one batch; teardown
        # checks everything.
        self.touched_accounts: set[str] = set()
        self.touched_jobs: set[int] = set()
        self.params_touched = False
        self._cache: dict[tuple[Any, ...], Any] = {}  # views read in this step's batch
        self.idle = False  # the last step drew the idle choice
        self.last_claims = self._claims_on_chain(self._accounts())
        self._cache = {}
        self.trace: list[tuple[str, dict[str, Any]]] = []
        ProtocolMachine.last_trace = self.trace
        ProtocolMachine.examples += 1

    # ───────────────────────────── helpers ─────────────────────────────

    def now(self) -> int:
        return self.chain.pending_timestamp

    def _job(self, index: int) -> JobM | None:
        if not self.model.jobs:
            return None
        ids = sorted(self.model.jobs)
        return self.model.jobs[ids[index % len(ids)]]

    def _claim_reads(self, accounts) -> list[tuple[Any, str, tuple[Any, ...]]]:
        reads = []
        for a in accounts:
            reads += [(self.escrow, "claimable", (a, self.usd)), (self.staking, "claimable", (a,))]
        return reads

    def _claims_on_chain(self, accounts) -> dict[tuple[str, str], int]:
        """What each account may claim, in USD and in stake: from the step's prefetched batch
        (`_prefetch` reads the touched accounts'), the rest in one more round trip."""
        missing = [r for r in self._claim_reads(accounts) if _key(*r) not in self._cache]
        self._store(missing, self.chain.read_many(missing) if missing else [])
        out = {}
        for a in accounts:
            out[(a.address, "usd")] = self.v(self.escrow, "claimable", a, self.usd)
            out[(a.address, "stake")] = self.v(self.staking, "claimable", a)
        return out

    def _send(self, error, send):
        """`send()`, expecting `error` (the named error and its arguments, as the model predicts
        them) or, for None, success: the receipt, or None after the expected revert."""
        if error is None:
            return send()
        ProtocolMachine.outcomes[f"{sys._getframe(1).f_code.co_name}: {error[0].abi.name}"] += 1
        with self.chain.expect_revert(error[0], **error[1]):
            send()
        return None

    def _reverts(self, error, **args):
        """The strict revert check (the transaction is simulated at its exact time, never sent,
        and its revert data compared byte for byte), counting which rule hit which error."""
        ProtocolMachine.outcomes[f"{sys._getframe(1).f_code.co_name}: {error.abi.name}"] += 1
        return self.chain.expect_revert(error, **args)

    @staticmethod
    def _ok(depth: int = 1) -> None:
        """Count a success for the rule `depth` frames up."""
        ProtocolMachine.outcomes[f"{sys._getframe(depth).f_code.co_name}: ok"] += 1

    def _touch(self, job: JobM | None = None, *addresses: str) -> None:
        self._ok(2)
        if job is not None:
            self.touched_jobs.add(job.id)
            addresses = (*addresses, job.client, job.provider)
        # A slash can credit the treasury and the relayer; fees credit the treasury.
        self.touched_accounts.update(addresses, {self.treasury.address, self.relayer.address})

    def _accounts(self) -> list:
        return [*self.clients, *self.providers, self.gov, self.arbitrator, self.relayer, self.attacker, self.treasury]

    def _signatures(self, digest: bytes, kind: str) -> bytes:
        m = self.model
        members = [a for a in self.oracle_pool if a.address in m.oracles]
        members.sort(key=lambda a: int(a.address, 16))
        k = m.threshold
        if kind == "valid":
            chosen = members[:k]
        elif kind == "extra":
            chosen = members
        elif kind == "too_few":
            chosen = members[: k - 1]
        elif kind == "outsider":
            chosen = sorted(members[: k - 1] + [self.attacker], key=lambda a: int(a.address, 16))
        elif kind == "duplicate":
            chosen = [members[0], members[0]] + members[1:k]
        elif kind == "reversed":
            chosen = list(reversed(members[:k]))
        else:  # "stale", "malleable", "cut": a valid quorum, then spoiled below
            chosen = members[:k]
        packed = b"".join(eip712.sign_digest(digest, a.private_key) for a in chosen)
        if kind == "malleable":  # the first signature's high-s twin: only the low-s rule refuses it
            packed = high_s_twin(packed[:65]) + packed[65:]
        elif kind == "cut":  # the last byte lost in transit
            packed = packed[:-1]
        # "stale": the statement names an earlier oracle configuration (see _version_for)
        return packed

    def _version_for(self, kind: str) -> int:
        """The config version a statement is signed under: the current one, or an earlier one."""
        return self.model.config_version - 1 if kind == "stale" else self.model.config_version

    def _record_refund(self, receipt, job: JobM) -> None:
        """What the chain says a failed job's collateral gave: checked by invariant 11."""
        event = receipt.events.filter(self.escrow.JobRefunded)[-1]
        job.chain_refund = (event.collateralSlashed, event.clientCollateralShare)

    def _quorum_error(self, digest: bytes, signatures: bytes):
        predicted = predicted_rejection(digest, signatures, self.model.oracles, self.model.threshold)
        if predicted is None:
            return None
        name, args = predicted
        return getattr(self.hub, name), args

    @initialize(
        first=st.sampled_from([0, 1_000 * STAKE, 4_000 * STAKE, 4_000 * STAKE]),
        second=st.sampled_from([0, 4_000 * STAKE, 4_000 * STAKE]),
        jobs=st.integers(0, 3),
    )
    @_marks_failure
    def market_opens(self, first, second, jobs):
        """Most runs start with registered providers and a few accepted jobs, so that the
        interesting states (attested, disputed, settled) are a few steps away."""
        self.trace.append(("market_opens", {"first": first, "second": second, "jobs": jobs}))
        for p, amount in enumerate((first, second)):
            if amount:
                self.register(p, amount)
        # Start at an epoch boundary, so that the next ended epoch is one the providers were
        # under the SLA for (registration starts it from the next epoch).
        start, length, _ = self.model.locate(self.model.epoch_at(self.now()))
        self.chain.pending_timestamp = start + length
        for i in range(jobs):
            self.create_job(i % 2, i % 2, 100_000, 100, 86_400)
            self.accept(len(self.model.jobs) - 1, True)

    @rule(data=st.data())
    @_marks_failure
    def next_step(self, data):
        """Draw a rule by weight among those that apply, then its arguments, and run it."""
        stop_at = ProtocolMachine.stop_at
        if stop_at is not None and not ProtocolMachine.failed and time.monotonic() >= stop_at:
            raise BudgetSpent
        enabled = [spec for spec in STEPS.values() if not spec.needs_jobs or self.model.jobs]
        weighted = [spec.name for spec in enabled for _ in range(spec.weight)]
        # 0, the simplest choice, idles: no call, nothing recorded. Hypothesis extends its first
        # examples with simplest choices (which would otherwise run the first rule fifty times
        # over) and shrinks towards them, so a shrunk failure keeps only the steps it needs.
        pick = data.draw(st.integers(0, len(weighted)), label="rule")
        self.idle = pick == 0
        if self.idle:
            ProtocolMachine.idle_steps += 1
            return
        name = weighted[pick - 1]
        spec = STEPS[name]
        kwargs = {arg: data.draw(strategy, label=arg) for arg, strategy in spec.strategies.items()}
        self.trace.append((name, kwargs))
        ProtocolMachine.rule_calls[name] += 1
        getattr(self, name)(**kwargs)

    # ───────────────────────────── clients ─────────────────────────────

    @step(6, c=st.integers(0, 1), p=st.integers(0, 2), price=PRICES, units=UNITS, duration=DURATIONS)
    def create_job(self, c, p, price, units, duration):
        m, client = self.model, self.clients[c]
        provider = self.providers[p].address if p < 2 else ZERO
        now = self.now()
        deadline = now + duration
        amount = price * units
        latest = now + m.params.max_job_duration
        if m.paused:
            error = (self.escrow.EnforcedPause, {})
        elif provider == ZERO:
            error = (self.escrow.ZeroAddress, {})
        elif price == 0 or price > UINT96_MAX:
            error = (self.escrow.UnitPriceOutOfRange, {"min": 1, "max": UINT96_MAX, "value": price})
        elif units == 0 or units > UINT48_MAX:
            error = (self.escrow.MaxUnitsOutOfRange, {"min": 1, "max": UINT48_MAX, "value": units})
        elif deadline <= now or deadline > latest:
            error = (self.escrow.DeadlineOutOfRange, {"min": now + 1, "max": latest, "value": deadline})
        elif amount > m.wallet_usd[client.address]:
            error = (
                self.usd.ERC20InsufficientBalance,
                {"sender": client, "balance": m.wallet_usd[client.address], "needed": amount},
            )
        else:
            error = None
        call = lambda: self.escrow.createJob(provider, self.usd, price, units, deadline, b"\x01" * 32, sender=client)  # noqa: E731
        receipt = self._send(error, lambda: call())
        if error:
            return
        job_id = len(m.jobs) + 1
        assert receipt.events.filter(self.escrow.JobCreated)[0].jobId == job_id
        m.jobs[job_id] = JobM(
            job_id,
            client.address,
            provider,
            price,
            units,
            m.params.terms(),
            deadline,
            min(now + m.params.accept_window, deadline),
        )
        m.wallet_usd[client.address] -= amount
        self._touch(m.jobs[job_id])

    @step(3, needs_jobs=True, j=st.integers(0, 50), by_client=st.booleans())
    def cancel(self, j, by_client):
        job = self._job(j)
        sender = next(c for c in self.clients if c.address == job.client) if by_client else self.attacker
        if job.status != OPEN:
            error = (self.escrow.UnexpectedJobStatus, {"jobId": job.id, "expected": OPEN, "actual": job.status})
        elif sender.address != job.client:
            error = (self.escrow.NotJobClient, {"expected": job.client, "caller": sender})
        else:
            error = None
        self._send(error, lambda: self.escrow.cancel(job.id, sender=sender))
        if error:
            return
        self._touch(job)
        self.model.cancel(job)

    @step(4, needs_jobs=True, j=st.integers(0, 50), by_client=st.booleans())
    def dispute(self, j, by_client):
        job = self._job(j)
        m = self.model
        sender = next(c for c in self.clients if c.address == job.client) if by_client else self.attacker
        now = self.now()
        bond = -(-job.escrow * job.terms.dispute_bond_bps // BPS)  # the job's own terms, not today's
        if job.status != ATTESTED:
            error = (self.escrow.UnexpectedJobStatus, {"jobId": job.id, "expected": ATTESTED, "actual": job.status})
        elif sender.address != job.client:
            error = (self.escrow.NotJobClient, {"expected": job.client, "caller": sender})
        elif now >= job.challenge_ends:
            error = (self.escrow.ChallengeWindowClosed, {"challengeEnds": job.challenge_ends, "nowTime": now})
        elif bond > m.wallet_usd[job.client]:
            error = (
                self.usd.ERC20InsufficientBalance,
                {"sender": sender, "balance": m.wallet_usd[job.client], "needed": bond},
            )
        else:
            error = None
        self._send(error, lambda: self.escrow.dispute(job.id, sender=sender))
        if error:
            return
        self._touch(job)
        job.status, job.bond, job.dispute_ends = DISPUTED, bond, now + job.terms.dispute_timeout
        m.wallet_usd[job.client] -= bond

    @step(3, needs_jobs=True, j=st.integers(0, 50), who=st.integers(0, 3))
    def reclaim_expired(self, j, who):
        job = self._job(j)
        sender = [*self.clients, self.attacker, self.relayer][who]
        now = self.now()
        if job.status != ACCEPTED:
            error = (self.escrow.UnexpectedJobStatus, {"jobId": job.id, "expected": ACCEPTED, "actual": job.status})
        elif now <= job.deadline:
            error = (self.escrow.JobDeadlineNotPassed, {"deadline": job.deadline, "nowTime": now})
        else:
            error = None
        receipt = self._send(error, lambda: self.escrow.reclaimExpired(job.id, sender=sender))
        if error:
            return
        self._touch(job)
        self.model.refund(job, EXPIRED, 0)
        self._record_refund(receipt, job)

    @step(3, who=st.integers(0, 8))
    def withdraw_usd(self, who):
        account = self._accounts()[who]
        m = self.model
        amount = m.claim_usd[account.address]
        if amount == 0:
            with self._reverts(self.escrow.NothingToWithdraw, account=account, token=self.usd):
                self.escrow.withdraw(self.usd, sender=account)
            return
        self.escrow.withdraw(self.usd, sender=account)
        self._touch(None, account.address)
        m.withdraw_usd(account.address)
        self.withdrawn.add((account.address, "usd"))

    # ───────────────────────────── providers ─────────────────────────────

    @step(3, p=st.integers(0, 1), amount=STAKES)
    def register(self, p, amount):
        provider, m = self.providers[p], self.model
        state = m.provider(provider.address)
        if state.registered:
            error = (self.staking.AlreadyRegistered, {"provider": provider})
        elif amount == 0:
            error = (self.staking.ZeroAmount, {})
        elif amount < m.params.min_stake:
            error = (self.staking.StakeBelowMinimum, {"minStake": m.params.min_stake, "stake": amount})
        else:
            error = None
        if error:
            with self._reverts(error[0], **error[1]):
                self.staking.register("ipfs://p", amount, sender=provider)
            return
        now = self.now()
        self.staking.register("ipfs://p", amount, sender=provider)
        self._touch(None, provider.address)
        state.registered, state.sla_from = True, now
        m.add_stake(provider.address, amount)

    @step(3, p=st.integers(0, 2), amount=STAKES)
    def add_stake(self, p, amount):
        sender = self.providers[p] if p < 2 else self.attacker
        state = self.model.provider(sender.address)
        if not state.registered:
            error = (self.staking.NotRegistered, {"provider": sender})
        elif amount == 0:
            error = (self.staking.ZeroAmount, {})
        else:
            error = None
        self._send(error, lambda: self.staking.addStake(amount, sender=sender))
        if error:
            return
        self._touch(None, sender.address)
        self.model.add_stake(sender.address, amount)  # pays a shortfall first

    @step(4, p=st.integers(0, 2), fraction=st.sampled_from([0, 1, 2, 4, 10]))
    def request_unbond(self, p, fraction):
        sender = self.providers[p] if p < 2 else self.attacker  # nobody else can touch a queue
        m = self.model
        state = m.provider(sender.address)
        amount = 0 if fraction == 0 else (state.free // fraction if fraction != 10 else state.free + 1)
        now = self.now()
        if not state.registered:
            error = (self.staking.NotRegistered, {"provider": sender})
        elif amount == 0:
            error = (self.staking.ZeroAmount, {})
        elif state.shortfall:  # no stake leaves while an uptime slash is owed
            error = (self.staking.ShortfallOutstanding, {"provider": sender, "shortfall": state.shortfall})
        elif amount > state.free:
            error = (self.staking.InsufficientFreeStake, {"free": state.free, "requested": amount})
        else:
            error = None
        self._send(error, lambda: self.staking.requestUnbond(amount, sender=sender))
        if error:
            return
        self._touch(None, sender.address)
        m.unbond(sender.address, amount, now)

    @step(3, p=st.integers(0, 1))
    def withdraw_unbonded(self, p):
        provider = self.providers[p]
        state = self.model.provider(provider.address)
        now = self.now()
        if state.shortfall:
            error = (self.staking.ShortfallOutstanding, {"provider": provider, "shortfall": state.shortfall})
        elif state.unbonding == 0:
            error = (self.staking.NothingUnbonding, {"provider": provider})
        elif now < state.unbonding_end:  # invariant 5: only after the delay
            error = (self.staking.UnbondingNotElapsed, {"unbondingEnd": state.unbonding_end, "nowTime": now})
        else:
            error = None
        self._send(error, lambda: self.staking.withdrawUnbonded(sender=provider))
        if error:
            return
        self._touch(None, provider.address)
        self.model.withdraw_unbonded(provider.address)

    @step(3, p=st.integers(0, 1))
    def unjail(self, p):
        provider = self.providers[p]
        state, minimum = self.model.provider(provider.address), self.model.params.min_stake
        if not state.jailed:
            error = (self.staking.ProviderNotJailed, {"provider": provider})
        elif state.shortfall:
            error = (self.staking.ShortfallOutstanding, {"provider": provider, "shortfall": state.shortfall})
        elif state.staked < minimum:
            error = (self.staking.StakeBelowMinimum, {"minStake": minimum, "stake": state.staked})
        else:
            error = None
        if error:
            with self._reverts(error[0], **error[1]):
                self.staking.unjail(sender=provider)
            return
        now = self.now()
        self.staking.unjail(sender=provider)
        self._touch(None, provider.address)
        if state.jailed_for_downtime:  # the SLA applies again from the next epoch
            state.sla_from = now
        state.jailed_for_work = state.jailed_for_downtime = False

    @step(1, p=st.integers(0, 2))
    def leave(self, p):
        sender = self.providers[p] if p < 2 else self.attacker
        state = self.model.provider(sender.address)
        if not state.registered:
            error = (self.staking.NotRegistered, {"provider": sender})
        elif state.left:
            error = (self.staking.ProviderHasLeft, {"provider": sender})
        else:
            error = None
        if error:
            with self._reverts(error[0], **error[1]):
                self.staking.leave(sender=sender)
            return
        now = self.now()
        self.staking.leave(sender=sender)
        self._touch(None, sender.address)
        state.left, state.left_at = True, now

    @step(3, who=st.integers(0, 8))
    def claim_stake(self, who):
        account = self._accounts()[who]
        amount = self.model.claim_stake[account.address]
        if amount == 0:
            with self._reverts(self.staking.NothingToClaim, account=account):
                self.staking.claim(sender=account)
            return
        self.staking.claim(sender=account)
        self._touch(None, account.address)
        self.model.claim_stake_of(account.address)
        self.withdrawn.add((account.address, "stake"))

    @step(5, needs_jobs=True, j=st.integers(0, 50), by_provider=st.booleans())
    def accept(self, j, by_provider):
        job = self._job(j)
        m = self.model
        sender = (
            next((p for p in self.providers if p.address == job.provider), self.attacker)
            if by_provider
            else self.attacker
        )
        now = self.now()
        state = m.provider(job.provider)
        collateral = job.escrow * m.params.collateral_rate // RATE_SCALE
        if m.paused:
            error = (self.escrow.EnforcedPause, {})
        elif job.status != OPEN:
            error = (self.escrow.UnexpectedJobStatus, {"jobId": job.id, "expected": OPEN, "actual": job.status})
        elif sender.address != job.provider:
            error = (self.escrow.NotJobProvider, {"expected": job.provider, "caller": sender})
        elif now > job.accept_by:
            error = (self.escrow.AcceptWindowClosed, {"acceptBy": job.accept_by, "nowTime": now})
        elif collateral > UINT128_MAX:
            error = (self.escrow.CollateralTooLarge, {"max": UINT128_MAX, "collateral": collateral})
        elif not state.registered:
            error = (self.staking.NotRegistered, {"provider": job.provider})
        elif state.jailed:
            error = (self.staking.ProviderIsJailed, {"provider": job.provider})
        elif state.left:
            error = (self.staking.ProviderHasLeft, {"provider": job.provider})
        elif state.staked < m.params.min_stake:
            error = (self.staking.StakeBelowMinimum, {"minStake": m.params.min_stake, "stake": state.staked})
        elif collateral > state.free:
            error = (self.staking.InsufficientFreeStake, {"free": state.free, "requested": collateral})
        else:
            error = None
        self._send(error, lambda: self.escrow.accept(job.id, sender=sender))
        if error:
            return
        self._touch(job)
        job.status, job.collateral = ACCEPTED, collateral
        state.locked += collateral

    # ───────────────────────────── oracles and relayers ─────────────────────────────

    @step(
        6,
        needs_jobs=True,
        j=st.integers(0, 50),
        success=st.booleans(),
        units=st.sampled_from([0, 1, 50, 100, 1_001]),
        signers=SIGNER_SETS,
        valid_for=st.sampled_from([-1, 0, 3_600, 3_600]),
        wrong_provider=st.sampled_from([False, False, False, True]),
    )
    def attest(self, j, success, units, signers, valid_for, wrong_provider):
        job = self._job(j)
        m = self.model
        now = self.now()
        provider = self.providers[0].address if wrong_provider else job.provider
        version = self._version_for(signers)
        attestation = (job.id, provider, success, units, b"\x05" * 32, now + valid_for, version)
        separator = eip712.domain_separator(self.chain.chain_id, self.hub.address)
        digest = eip712.typed_digest(separator, eip712.attestation_struct_hash(*attestation))
        sigs = self._signatures(digest, signers)
        if now + valid_for < now:
            error = (self.hub.AttestationExpired, {"deadline": now + valid_for, "nowTime": now})
        elif version != m.config_version:  # invariant 12: signatures die with their configuration
            error = (self.hub.StaleOracleConfig, {"current": m.config_version, "signed": version})
        else:
            error = self._quorum_error(digest, sigs)
        if error is None:
            if job.status != ACCEPTED:
                error = (self.escrow.UnexpectedJobStatus, {"jobId": job.id, "expected": ACCEPTED, "actual": job.status})
            elif provider != job.provider:
                error = (self.escrow.NotJobProvider, {"expected": job.provider, "caller": provider})
            elif now > job.deadline:
                error = (self.escrow.JobDeadlinePassed, {"deadline": job.deadline, "nowTime": now})
            elif success and units > job.max_units:
                error = (self.escrow.UnitsExceedMax, {"maxUnits": job.max_units, "units": units})
        receipt = self._send(error, lambda: self.hub.submitAttestation(attestation, sigs, sender=self.relayer))
        if error:
            return
        self._touch(job)
        if success:  # invariant 6: the job leaves Accepted, so a replay can never take effect
            job.status, job.units, job.challenge_ends = ATTESTED, units, now + job.terms.challenge_window
        else:
            m.refund(job, FAILED, 0)
            self._record_refund(receipt, job)

    @step(
        7,
        p=st.integers(0, 2),
        back=st.sampled_from([-1, 0, 1, 1, 2, 24, 25]),
        bps=st.sampled_from([0, 0, 9_499, 9_500, 10_000, 10_001]),
        signers=st.sampled_from(
            ["valid", "valid", "valid", "too_few", "outsider", "reversed", "stale", "malleable", "cut"]
        ),
        named=st.sampled_from(["relayer", "relayer", "provider", "nobody"]),
        by_attacker=st.booleans(),
        finish_epoch=st.booleans(),
    )
    def report_uptime(self, p, back, bps, signers, named, by_attacker, finish_epoch):
        m = self.model
        if finish_epoch:  # oracles report right after an epoch ends: move to the next boundary first
            start, length, _ = m.locate(m.epoch_at(self.now()))
            self.chain.pending_timestamp = start + length
        provider = self.providers[p].address if p < 2 else self.attacker.address
        relayer = {"relayer": self.relayer.address, "provider": provider, "nobody": ZERO}[named]
        sender = self.attacker if by_attacker else self.relayer  # a copied report earns the copier nothing
        now = self.now()
        current = m.epoch_at(now)
        epoch = max(current - back, 0)
        version = self._version_for(signers)
        report = (provider, epoch, bps, relayer, version)
        separator = eip712.domain_separator(self.chain.chain_id, self.hub.address)
        digest = eip712.typed_digest(separator, eip712.uptime_report_struct_hash(*report))
        sigs = self._signatures(digest, signers)
        state = m.provider(provider)
        slashable = state.staked + state.unbonding
        start, length, statute = m.locate(epoch)
        deadline = start + (statute + 1) * length  # fixed in seconds when the epoch began
        if version != m.config_version:
            error = (self.hub.StaleOracleConfig, {"current": m.config_version, "signed": version})
        else:
            error = self._quorum_error(digest, sigs)
        if error is None:
            if bps > BPS:
                error = (self.slasher.UptimeOutOfRange, {"min": 0, "max": BPS, "value": bps})
            elif epoch >= current:
                error = (self.slasher.EpochNotEnded, {"currentEpoch": current, "epoch": epoch})
            elif now >= deadline:
                error = (self.slasher.ReportWindowClosed, {"deadline": deadline, "nowTime": now})
            elif not state.registered:
                error = (self.slasher.UnknownProvider, {"provider": provider})
            elif (provider, epoch) in m.reported:  # invariant 6: once per (provider, epoch)
                error = (self.slasher.ReportAlreadyApplied, {"provider": provider, "epoch": epoch})
            elif not m.sla_in_force(provider, start):
                error = (self.slasher.SlaNotInForce, {"provider": provider, "epoch": epoch})
        receipt = self._send(error, lambda: self.hub.submitUptimeReport(report, sigs, sender=sender))
        if error:
            return
        self._touch(None, provider, relayer, sender.address)
        m.reported.add((provider, epoch))
        # the event names who was paid: never the provider itself
        assert receipt.events.filter(self.slasher.UptimeReported)[0].relayer == (
            ZERO if relayer == provider else relayer
        )
        if bps < m.params.sla_bps:
            requested = min(slashable * m.params.uptime_slash_bps // BPS, m.params.uptime_slash_cap)
            m.slash_uptime(provider, requested, relayer, m.params.relayer_bps, m.params.relayer_cap)

    # ───────────────────────────── settlement and arbitration ─────────────────────────────

    @step(4, needs_jobs=True, j=st.integers(0, 50))
    def settle(self, j):
        job = self._job(j)
        now = self.now()
        if job.status == ATTESTED and now < job.challenge_ends:
            error = (self.escrow.ChallengeWindowOpen, {"challengeEnds": job.challenge_ends, "nowTime": now})
        elif job.status == DISPUTED and now <= job.dispute_ends:
            error = (self.escrow.DisputeNotLapsed, {"disputeEnds": job.dispute_ends, "nowTime": now})
        elif job.status not in (ATTESTED, DISPUTED):
            error = (self.escrow.UnexpectedJobStatus, {"jobId": job.id, "expected": ATTESTED, "actual": job.status})
        else:
            error = None
        self._send(error, lambda: self.escrow.settle(job.id, sender=self.relayer))
        if error:
            return
        self._touch(job)
        self._settle_model(job)

    def _settle_model(self, job: JobM) -> None:
        if job.status == ATTESTED:
            self.model.pay(job, 0, 0)
        else:  # a lapsed dispute: the attestation stands, the bond goes back to the client
            bond, job.bond = job.bond, 0
            self.model.pay(job, 0, bond)

    @step(4, needs_jobs=True, picks=st.lists(st.integers(0, 50), min_size=1, max_size=6))
    def settle_many(self, picks):
        now = self.now()
        jobs = [self._job(i) for i in picks]
        receipt = self.escrow.settleMany([j.id for j in jobs], sender=self.relayer)
        settled = 0
        for job in jobs:  # in order: a job listed twice is settled once, then skipped
            ready = (job.status == ATTESTED and now >= job.challenge_ends) or (
                job.status == DISPUTED and now > job.dispute_ends
            )
            if ready:
                self._touch(job)
                self._settle_model(job)
                settled += 1
        assert len(receipt.events.filter(self.escrow.JobSettled)) == settled
        assert len(receipt.events.filter(self.escrow.JobSettleSkipped)) == len(jobs) - settled

    @step(4, needs_jobs=True, j=st.integers(0, 50), upheld=st.booleans(), by_arbitrator=st.booleans())
    def resolve_dispute(self, j, upheld, by_arbitrator):
        job = self._job(j)
        sender = self.arbitrator if by_arbitrator else self.attacker
        now = self.now()
        if not by_arbitrator:
            error = (
                self.escrow.AccessControlUnauthorizedAccount,
                {"account": sender, "neededRole": self.escrow.ARBITRATOR_ROLE()},
            )
        elif job.status != DISPUTED:
            error = (self.escrow.UnexpectedJobStatus, {"jobId": job.id, "expected": DISPUTED, "actual": job.status})
        elif now > job.dispute_ends:
            error = (self.escrow.DisputeResolutionClosed, {"disputeEnds": job.dispute_ends, "nowTime": now})
        else:
            error = None
        receipt = self._send(error, lambda: self.escrow.resolveDispute(job.id, upheld, sender=sender))
        if error:
            return
        self._touch(job)
        bond, job.bond = job.bond, 0
        if upheld:
            self.model.refund(job, FAILED, bond)
            self._record_refund(receipt, job)
        else:
            self.model.pay(job, bond, 0)

    @step(12, needs_jobs=True, j=st.integers(0, 50), success=st.sampled_from([True, True, False]), choice=st.booleans())
    def progress_job(self, j, success, choice):
        """One step along a job's life with sensible inputs, through the rules above (so the
        same predictions apply): this is what makes short runs reach the deep states."""
        job = self._job(j)
        index = sorted(self.model.jobs).index(job.id)
        if job.status in LIVE:
            self._ok()  # it moves the job one step (the step itself is counted under its own rule)
        if job.status == OPEN:
            self.accept(index, True)
        elif job.status == ACCEPTED:
            self.attest(index, success, min(50, job.max_units), "valid", 3_600, False)
        elif job.status == ATTESTED and choice:
            self.dispute(index, True)
        elif job.status == ATTESTED:
            self.chain.pending_timestamp = max(self.now(), job.challenge_ends)
            self.settle(index)
        elif job.status == DISPUTED and choice:
            self.resolve_dispute(index, success, True)
        elif job.status == DISPUTED:
            self.chain.pending_timestamp = max(self.now(), job.dispute_ends + 1)
            self.settle(index)

    # ───────────────────────────── time ─────────────────────────────

    @step(6, seconds=WARPS)
    def warp(self, seconds):
        self.chain.pending_timestamp += seconds
        self._ok()

    @step(
        4,
        needs_jobs=True,
        j=st.integers(0, 50),
        which=st.sampled_from(["accept_by", "deadline", "challenge_ends", "dispute_ends"]),
        delta=st.sampled_from([-1, 0, 1]),
    )
    def warp_to_boundary(self, j, which, delta):
        job = self._job(j)
        target = getattr(job, which) + delta
        if getattr(job, which) and target >= self.now():  # only forward: time never goes back
            self.chain.pending_timestamp = target
            self._ok()

    # ───────────────────────────── governance ─────────────────────────────

    @step(1, pause=st.booleans(), by_governance=st.booleans())
    def pause_or_unpause(self, pause, by_governance):
        self.params_touched = True
        sender = self.gov if by_governance else self.attacker
        m = self.model
        call = self.escrow.pause if pause else self.escrow.unpause
        if not by_governance:
            error = (
                self.escrow.AccessControlUnauthorizedAccount,
                {"account": sender, "neededRole": self.escrow.PAUSER_ROLE()},
            )
        elif pause and m.paused:
            error = (self.escrow.EnforcedPause, {})
        elif not pause and not m.paused:
            error = (self.escrow.ExpectedPause, {})
        else:
            error = None
        self._send(error, lambda: call(sender=sender))
        if error:
            return
        self._ok()
        m.paused = pause

    @step(1, fee=st.sampled_from([0, 100, 250, 1_000, 1_001]), by_governance=st.booleans())
    def set_fee(self, fee, by_governance):
        self.params_touched = True
        sender = self.gov if by_governance else self.attacker
        if not by_governance:
            error = (
                self.escrow.AccessControlUnauthorizedAccount,
                {"account": sender, "neededRole": self.escrow.GOVERNOR_ROLE()},
            )
        elif fee > 1_000:
            error = (self.escrow.FeeOutOfRange, {"min": 0, "max": 1_000, "value": fee})
        else:
            error = None
        self._send(error, lambda: self.escrow.setFee(fee, sender=sender))
        if error:
            return
        self._ok()
        self.model.params.fee_bps = fee

    @step(
        1,
        windows=st.sampled_from(
            [
                (3_600, 3_600, 259_200, 2_592_000),
                (60, 60, 60, 60),
                (7_200, 1_800, 86_400, 604_800),
                (59, 3_600, 3_600, 3_600),
                (3_600, 30 * 86_400 + 1, 3_600, 3_600),
            ]
        ),
    )
    def set_windows(self, windows):
        self.params_touched = True
        bounds = [(60, 30 * 86_400), (60, 30 * 86_400), (60, 90 * 86_400), (60, 365 * 86_400)]
        bad = next(((lo, hi, v) for (lo, hi), v in zip(bounds, windows) if not lo <= v <= hi), None)
        if bad:
            with self._reverts(self.escrow.WindowOutOfRange, min=bad[0], max=bad[1], value=bad[2]):
                self.escrow.setWindows(*windows, sender=self.gov)
            return
        self.escrow.setWindows(*windows, sender=self.gov)
        self._ok()
        p = self.model.params
        p.accept_window, p.challenge_window, p.dispute_timeout, p.max_job_duration = windows

    @step(1, which=st.sampled_from(["bond", "share"]), bps=st.sampled_from([0, 1, 2_500, 10_000, 10_001]))
    def set_escrow_shares(self, which, bps):
        self.params_touched = True
        p = self.model.params
        if which == "bond":
            call, lo = self.escrow.setDisputeBond, 0
        else:
            call, lo = self.escrow.setClientSlashShare, 1
        if not lo <= bps <= BPS:
            with self._reverts(self.escrow.BpsOutOfRange, min=lo, max=BPS, value=bps):
                call(bps, sender=self.gov)
            return
        call(bps, sender=self.gov)
        self._ok()
        if which == "bond":
            p.dispute_bond_bps = bps
        else:
            p.client_share_bps = bps

    @step(
        1,
        min_stake=st.sampled_from([500 * STAKE, 1_000 * STAKE, 2_000 * STAKE]),
        delay=st.sampled_from([3_600, 90_000, 90_001, 604_800, 366 * 86_400]),
    )
    def set_staking_params(self, min_stake, delay):
        self.params_touched = True
        self.staking.setMinStake(min_stake, sender=self.gov)
        self.model.params.min_stake = min_stake
        window = self.model.report_window
        # Invariant 13: stake never outlives the reports on it (no window declared: from 0).
        low, high = (window + 1 if window else 0), 365 * 86_400
        if not low <= delay <= high:
            with self._reverts(self.staking.UnbondingDelayOutOfRange, min=low, max=high, value=delay):
                self.staking.setUnbondingDelay(delay, sender=self.gov)
            return
        self.staking.setUnbondingDelay(delay, sender=self.gov)
        self._ok()
        self.model.params.unbonding_delay = delay

    @step(
        2,
        length=st.sampled_from([3_600, 1_800, 7_200, 60]),
        statute=st.sampled_from([24, 2, 100]),
        sla=st.sampled_from([9_000, 9_500]),
    )
    def set_uptime_params(self, length, statute, sla):
        """A new epoch length or statute starts at the next epoch boundary; the report window it
        implies must stay below the unbonding delay (invariant 13)."""
        self.params_touched = True
        m, p = self.model, self.model.params
        new = (length, statute, sla, p.uptime_slash_bps, p.uptime_slash_cap, p.relayer_bps, p.relayer_cap)
        now = self.now()
        trial = Model(
            params=p,
            treasury=m.treasury,
            relayer_default=m.relayer_default,
            oracles=[],
            threshold=0,
            schedules=[Schedule(**vars(x)) for x in m.schedules],
            config_version=0,
            report_window=0,
        )
        if (length, statute) != (p.epoch_length, p.statute_epochs):
            trial.set_schedule(length, statute, now)
        window = trial.declared_window(now)
        if window >= p.unbonding_delay:
            with self._reverts(self.slasher.ReportWindowOutOfRange, min=0, max=p.unbonding_delay - 1, value=window):
                self.slasher.setParams(new, sender=self.gov)
            return
        self.slasher.setParams(new, sender=self.gov)
        self._ok()
        m.schedules, m.report_window = trial.schedules, window
        p.epoch_length, p.statute_epochs, p.sla_bps = length, statute, sla

    @step(2, action=st.sampled_from(["add", "remove", "threshold"]), i=st.integers(0, 4), k=st.integers(0, 5))
    def change_oracle_set(self, action, i, k):
        self.params_touched = True
        m = self.model
        oracle = self.oracle_pool[i].address
        n = len(m.oracles)
        if action == "add":
            if oracle in m.oracles:
                with self._reverts(self.hub.OracleAlreadyAdded, oracle=oracle):
                    self.hub.addOracle(oracle, sender=self.gov)
                return
            self.hub.addOracle(oracle, sender=self.gov)
            self._ok()
            m.oracles.append(oracle)
            m.config_version += 1
        elif action == "remove":
            if oracle not in m.oracles:
                error = (self.hub.NotAnOracle, {"account": oracle})
            elif m.threshold > n - 1:
                error = (self.hub.ThresholdOutOfRange, {"min": 1, "max": n - 1, "value": m.threshold})
            else:
                error = None
            self._send(error, lambda: self.hub.removeOracle(oracle, sender=self.gov))
            if error:
                return
            self._ok()
            m.oracles.remove(oracle)
            m.config_version += 1
        else:
            if not 1 <= k <= n:
                with self._reverts(self.hub.ThresholdOutOfRange, min=1, max=n, value=k):
                    self.hub.setThreshold(k, sender=self.gov)
                return
            self.hub.setThreshold(k, sender=self.gov)
            self._ok()
            m.threshold = k
            m.config_version += 1

    @step(
        1, entry=st.sampled_from(["fee", "windows", "token", "oracle", "threshold", "minstake", "uptime", "treasury"])
    )
    def attacker_tries_governance(self, entry):
        """Invariant 9: nobody but governance changes parameters (the param invariant then
        confirms nothing moved)."""
        self.params_touched = True
        a = self.attacker
        calls = {
            "fee": (self.escrow, lambda: self.escrow.setFee(0, sender=a)),
            "windows": (self.escrow, lambda: self.escrow.setWindows(60, 60, 60, 60, sender=a)),
            "token": (self.escrow, lambda: self.escrow.setPaymentToken(self.usd, False, 1, sender=a)),
            "oracle": (self.hub, lambda: self.hub.addOracle(a, sender=a)),
            "threshold": (self.hub, lambda: self.hub.setThreshold(1, sender=a)),
            "minstake": (self.staking, lambda: self.staking.setMinStake(0, sender=a)),
            "uptime": (self.slasher, lambda: self.slasher.setParams((60, 1, 0, 0, 0, 0, 0), sender=a)),
            "treasury": (self.staking, lambda: self.staking.setTreasury(a, sender=a)),
        }
        contract, call = calls[entry]
        with self._reverts(contract.AccessControlUnauthorizedAccount, account=a, neededRole=contract.GOVERNOR_ROLE()):
            call()
        self._ok()  # its success is the refusal

    # ───────────────────────────── invariants ─────────────────────────────

    def v(self, contract, fn: str, *args):
        """A view: from this step's prefetched batch when it is there, else read now."""
        key = _key(contract, fn, args)
        if key not in self._cache:
            self._cache[key] = getattr(contract, fn)(*args)
        return self._cache[key]

    def _prefetch(self, accounts, job_ids, providers, params: bool) -> None:
        """Every view the invariants read, in one JSON-RPC batch."""
        reads = [
            (self.usd, "balanceOf", (self.escrow,)),
            (self.stake, "balanceOf", (self.staking,)),
            (self.staking, "totalStaked", ()),
            (self.staking, "totalUnbonding", ()),
            (self.staking, "totalClaimable", ()),
            (self.usd, "totalSupply", ()),
            (self.stake, "totalSupply", ()),
        ]
        for a in accounts:
            reads += [(self.usd, "balanceOf", (a,)), (self.stake, "balanceOf", (a,))]
        reads += [(self.escrow, "job", (job_id,)) for job_id in job_ids]
        for address in providers:
            reads += [(self.staking, "providerInfo", (address,)), (self.staking, "slashableStake", (address,))]
        if params:
            reads += [(self.hub, f, ()) for f in ("configVersion", "oracles", "threshold")]
            reads += [(self.staking, f, ()) for f in ("reportWindow", "minStake", "unbondingDelay")]
            reads += [(self.slasher, f, ()) for f in ("schedules", "params")]
            reads += [
                (self.escrow, f, ())
                for f in (
                    "feeBps",
                    "acceptWindow",
                    "challengeWindow",
                    "disputeTimeout",
                    "maxJobDuration",
                    "disputeBondBps",
                    "clientSlashShareBps",
                    "paused",
                )
            ]
        reads += self._claim_reads(accounts)
        self._store(reads, self.chain.read_many(reads))

    def _store(self, reads, values) -> None:
        for (contract, fn, args), value in zip(reads, values):
            self._cache[_key(contract, fn, args)] = value

    @invariant()
    @_marks_failure
    def all_invariants(self):
        """After every step, from one batch of reads: invariants 1, 2, 3, 4, 11, 7 and 9 (see
        docs/AUDITING.md), each counted in the run's report. Nothing to check after an idle step."""
        if self.idle:
            return
        self._cache = {}
        touched = [a for a in self._accounts() if a.address in self.touched_accounts]
        providers = [p.address for p in self.providers if p.address in self.model.providers]
        self._prefetch(touched, sorted(self.touched_jobs), providers, self.params_touched)
        for check in (
            self.inv_1_holdings_match_model,
            self.inv_2_nothing_created_or_destroyed,
            self.inv_3_escrow_caps_and_ended_jobs,
            self.inv_4_stake_bounds,
            self.inv_11_collateral_is_an_obligation,
            self.inv_7_claimables_only_fall_by_own_withdrawal,
            self.inv_9_parameters_only_by_governance,
        ):
            check()
            ProtocolMachine.invariant_checks[check.__name__] += 1
        self._cache = {}

    def inv_1_holdings_match_model(self):
        m = self.model
        assert self.v(self.usd, "balanceOf", self.escrow) == m.escrow_holdings()
        assert self.v(self.stake, "balanceOf", self.staking) == m.staking_holdings()
        assert self.v(self.staking, "totalStaked") == sum(p.staked for p in m.providers.values())
        assert self.v(self.staking, "totalUnbonding") == sum(p.unbonding for p in m.providers.values())
        assert self.v(self.staking, "totalClaimable") == sum(m.claim_stake.values())

    def inv_2_nothing_created_or_destroyed(self):
        m = self.model
        for a in self._accounts():
            if a.address in self.touched_accounts:
                assert self.v(self.usd, "balanceOf", a) == m.wallet_usd[a.address], a
                assert self.v(self.stake, "balanceOf", a) == m.wallet_stake[a.address], a
        # Nothing is minted during a run: the supply is all wallets plus what the protocol holds.
        assert self.v(self.usd, "totalSupply") == sum(m.wallet_usd.values()) + m.escrow_holdings()
        assert self.v(self.stake, "totalSupply") == sum(m.wallet_stake.values()) + m.staking_holdings()

    def inv_3_escrow_caps_and_ended_jobs(self):
        self._check_jobs(self.touched_jobs)

    def _check_jobs(self, ids) -> None:
        for job_id in ids:
            job = self.model.jobs[job_id]
            view = self.v(self.escrow, "job", job.id)
            assert (view.status, view.units, view.collateral) == (job.status, job.units, job.collateral), job.id
            assert job.paid_out <= job.escrow  # a job never pays out more than its escrow
            if job.status in ENDED:
                assert job.paid_out == job.escrow  # and an ended job has paid out exactly all of it
            if job.status == DISPUTED:
                assert view.disputeBond == job.bond

    def inv_4_stake_bounds(self):
        """Every provider, every step (the reads are one batch)."""
        self._check_providers([p.address for p in self.providers if p.address in self.model.providers])

    def _check_providers(self, addresses) -> None:
        for address in addresses:
            p = self.model.providers[address]
            info = self.v(self.staking, "providerInfo", address)
            assert (
                info.registered,
                info.jailed,
                info.jailedForDowntime,
                info.left,
                info.staked,
                info.locked,
                info.unbonding,
                info.unbondingEnd,
                info.shortfall,
                info.slaFrom,
                info.leftAt,
            ) == (
                p.registered,
                p.jailed,
                p.jailed_for_downtime,
                p.left,
                p.staked,
                p.locked,
                p.unbonding,
                p.unbonding_end,
                p.shortfall,
                p.sla_from,
                p.left_at,
            ), address
            assert (info.totalSlashed, info.totalDeposited) == (p.slashed, p.deposited)
            assert p.slashed <= p.deposited
            assert (
                self.v(self.staking, "slashableStake", address) == p.staked + p.unbonding
            )  # unbonding stays slashable

    def inv_11_collateral_is_an_obligation(self):
        """For every provider, after every step: `locked` is exactly what its live jobs lock and
        never more than its active stake; a shortfall only exists with a downtime jail and no
        free or unbonding stake left (so it blocks exits and acceptances); every failed job's
        collateral was taken in full and its client got exactly its terms' share of it. (The
        chain's side of `locked`, `shortfall` and the jail is compared in invariant 4.)"""
        m = self.model
        for address in [p.address for p in self.providers]:
            p = m.provider(address)
            assert p.locked == m.locked_by_jobs(address), address
            assert p.locked <= p.staked, address
            if p.shortfall:
                assert p.jailed_for_downtime and p.free == 0 and p.unbonding == 0, address
        for job_id in self.touched_jobs:
            job = m.jobs[job_id]
            if job.collateral_slashed is not None:
                share = job.collateral * job.terms.client_share_bps // BPS if job.client != job.provider else 0
                assert (job.collateral_slashed, job.client_share) == (job.collateral, share), job.id
                assert job.chain_refund == (job.collateral, share), job.id

    def inv_7_claimables_only_fall_by_own_withdrawal(self):
        touched = [a for a in self._accounts() if a.address in self.touched_accounts]
        now = self._claims_on_chain(touched)
        for key, value in now.items():
            expected = self.model.claim_usd[key[0]] if key[1] == "usd" else self.model.claim_stake[key[0]]
            assert value == expected, key
            if value < self.last_claims[key]:
                assert key in self.withdrawn, f"{key} fell without its owner withdrawing"
        self.last_claims.update(now)
        self.withdrawn = set()

    def inv_9_parameters_only_by_governance(self):
        if self.params_touched:
            self._check_params()
        self.touched_accounts, self.touched_jobs, self.params_touched = set(), set(), False

    def _check_params(self) -> None:
        p, m, v = self.model.params, self.model, self.v
        assert v(self.hub, "configVersion") == m.config_version
        assert v(self.staking, "reportWindow") == m.report_window
        assert [tuple(x) for x in v(self.slasher, "schedules")] == [
            (x.first_epoch, x.start_time, x.epoch_length, x.statute_epochs) for x in m.schedules
        ]
        assert tuple(
            v(self.escrow, f)
            for f in (
                "feeBps",
                "acceptWindow",
                "challengeWindow",
                "disputeTimeout",
                "maxJobDuration",
                "disputeBondBps",
                "clientSlashShareBps",
            )
        ) == (
            p.fee_bps,
            p.accept_window,
            p.challenge_window,
            p.dispute_timeout,
            p.max_job_duration,
            p.dispute_bond_bps,
            p.client_share_bps,
        )
        assert (v(self.staking, "minStake"), v(self.staking, "unbondingDelay")) == (p.min_stake, p.unbonding_delay)
        assert v(self.escrow, "paused") == m.paused
        assert sorted(v(self.hub, "oracles")) == sorted(m.oracles) and v(self.hub, "threshold") == m.threshold
        on_chain = v(self.slasher, "params")
        assert (on_chain.epochLength, on_chain.statuteEpochs, on_chain.slaBps) == (
            p.epoch_length,
            p.statute_epochs,
            p.sla_bps,
        )

    # ───────────────────────────── invariant 10: everyone can exit ─────────────────────────────

    @_marks_failure
    def teardown(self):
        try:
            self._everyone_exits()
        finally:
            self.chain.restore(self.snap)

    def _everyone_exits(self):
        m = self.model
        self._cache = {}
        # Everything the per-step invariants sampled, checked in full once.
        self._check_jobs(list(m.jobs))
        self._check_providers(list(m.providers))
        self._check_params()
        assert self._claims_on_chain(self._accounts()) == {
            (a.address, ledger): (m.claim_usd if ledger == "usd" else m.claim_stake)[a.address]
            for a in self._accounts()
            for ledger in ("usd", "stake")
        }
        horizon = max([self.now()] + [max(j.deadline, j.challenge_ends, j.dispute_ends) for j in m.jobs.values()])
        self.chain.pending_timestamp = horizon + 1
        for job in list(m.jobs.values()):
            if job.status == OPEN:
                self.escrow.cancel(job.id, sender=next(c for c in self.clients if c.address == job.client))
                m.cancel(job)
            elif job.status == ACCEPTED:
                receipt = self.escrow.reclaimExpired(job.id, sender=self.relayer)
                m.refund(job, EXPIRED, 0)
                self._record_refund(receipt, job)
            elif job.status in (ATTESTED, DISPUTED):
                self.escrow.settle(job.id, sender=self.relayer)
                self._settle_model(job)
        assert all(j.status in ENDED for j in m.jobs.values())
        self.touched_jobs = set(m.jobs)
        self.inv_11_collateral_is_an_obligation()
        for provider in self.providers:
            state = m.provider(provider.address)
            assert state.locked == 0  # no job holds collateral any more
            if state.shortfall:  # a top-up pays what an uptime slash could not take, then it can exit
                self.staking.addStake(state.shortfall, sender=provider)
                m.add_stake(provider.address, state.shortfall)
                assert state.shortfall == 0
            if state.staked:
                now = self.now()
                self.staking.requestUnbond(state.staked, sender=provider)
                m.unbond(provider.address, state.staked, now)
        ends = [m.provider(p.address).unbonding_end for p in self.providers]
        self.chain.pending_timestamp = max([self.now()] + ends) + 1
        for provider in self.providers:
            state = m.provider(provider.address)
            if state.unbonding:
                self.staking.withdrawUnbonded(sender=provider)
                m.withdraw_unbonded(provider.address)
        for account in self._accounts():
            if m.claim_usd[account.address]:
                self.escrow.withdraw(self.usd, sender=account)
                m.withdraw_usd(account.address)
            if m.claim_stake[account.address]:
                self.staking.claim(sender=account)
                m.claim_stake_of(account.address)
        for account in self._accounts():  # each actor ends with exactly what the model says
            assert self.usd.balanceOf(account) == m.wallet_usd[account.address], account
            assert self.stake.balanceOf(account) == m.wallet_stake[account.address], account
        # everything withdrawn, the treasury included: the contracts hold nothing
        assert self.usd.balanceOf(self.escrow) == 0
        assert self.stake.balanceOf(self.staking) == 0
