"""The protocol state machine (hypothesis RuleBasedStateMachine), run by
tests/stateful/test_protocol_machine.py (`make test`) and tests/stateful/audit.py (`make audit`).

Actors: two clients (also MeteredEscrow's payers), two providers, three oracles (two spare oracle
keys governance can add), three hot signer keys the payers may authorize for vouchers, governance,
the arbitrator, a relayer and an attacker. Every rule predicts its outcome from the
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
    MeteredParams,
    Model,
    Params,
    Payment,
    Schedule,
    SignerM,
)
from tests.support.metered import (
    RESPONSE_HASH,
    RIGHT_HASH,
    Voucher,
    fraud_digest,
    receipt_digest,
    sign_proof,
    sign_receipt,
    voucher,
    voucher_digest,
)
from tests.support.metered import receipt as response_receipt
from tests.support.signatures import high_s_twin, predicted_rejection, recover

USD = 10**6
STAKE = 10**18

# Time steps that land on and around every window: minutes, the 1 h windows and epochs, days.
WARPS = st.sampled_from([1, 59, 60, 61, 1_799, 3_599, 3_600, 3_601, 7_200, 86_399, 86_400, 259_200, 604_800, 604_801])
# Mostly valid values (so runs go deep), with every boundary and out-of-range value in reach.
PRICES = st.sampled_from([1, 39, 1_000, 100_000, 100_000, 1_000_000, 0, UINT96_MAX, UINT96_MAX + 1])
UNITS = st.sampled_from([1, 7, 100, 100, 1_000, 0, UINT48_MAX + 1])
DURATIONS = st.sampled_from([3_600, 7_200, 86_400, 86_400, 30 * 86_400, 0, 1, 30 * 86_400 + 1])
STAKES = st.sampled_from([0, 1, 999 * STAKE, 1_000 * STAKE, 1_500 * STAKE, 4_000 * STAKE])
# MeteredEscrow: small amounts (a 10 USD collection locks 50 stake tokens), one beyond a wallet.
METERED_AMOUNTS = st.sampled_from([0, 1, 999, 100_000, 5 * USD, 20 * USD, 20 * USD, 100 * USD, 20_000 * USD])
VOUCHER_INCREMENTS = st.sampled_from([1, 999, 100_000, USD, 3 * USD, 10 * USD, 50 * USD, 300 * USD])
# "next": a new voucher above the highest signed; "old"/"latest": one signed before (stale,
# replayed or reordered); forgeries: another key, a field changed after signing, a high-s twin.
VOUCHER_KINDS = st.sampled_from(
    ["next", "next", "next", "next", "old", "latest", "forged_key", "forged_field", "malformed"]
)
COLLECTION_IDS = (b"\x11" * 32, b"\x22" * 32)
# Who signs a voucher: the payer's own key (0), mostly, or one of the hot keys (1-3).
SIGNER_KEYS = st.sampled_from([0, 0, 0, 0, 0, 1, 2, 3])
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
        self.metered, self.hot_signers = w.metered, w.hot_signers
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
        self.model.metered = MeteredParams(**vars(init["metered"]))
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
            reads += [
                (self.escrow, "claimable", (a, self.usd)),
                (self.staking, "claimable", (a,)),
                (self.metered, "claimable", (a, self.usd)),
            ]
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
            out[(a.address, "metered")] = self.v(self.metered, "claimable", a, self.usd)
        return out

    def _claim_in_model(self, address: str, ledger: str) -> int:
        """What the model says `address` may claim: JobEscrow ("usd"), ProviderStaking ("stake")
        or MeteredEscrow ("metered", the treasury's with the accrued fees)."""
        m = self.model
        if ledger == "metered":
            return m.metered_claimable(address)
        return (m.claim_usd if ledger == "usd" else m.claim_stake)[address]

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

    def _client(self, address: str):
        return next(c for c in self.clients if c.address == address)

    def _provider(self, address: str):
        return next(p for p in self.providers if p.address == address)

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
        deposits=st.sampled_from([2, 2, 1, 0]),
    )
    @_marks_failure
    def market_opens(self, first, second, jobs, deposits=0):
        """Most runs start with registered providers, a few accepted jobs and funded metered
        accounts, so that the interesting states (attested, disputed, settled, collected) are a
        few steps away."""
        self.trace.append(("market_opens", {"first": first, "second": second, "jobs": jobs, "deposits": deposits}))
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
        # 1: client 0 funds an account for provider 0; 2: each client for each provider.
        for c, p in [(0, 0)] if deposits == 1 else [(c, p) for c in (0, 1) for p in (0, 1)] if deposits else []:
            self.metered_deposit(c, p, 100 * USD, False)

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

    # ───────────────────────────── metered escrow: payers ─────────────────────────────

    def _payer_provider(self, c: int, p: int) -> tuple[Any, str]:
        return self.clients[c], (self.providers[p].address if p < 2 else ZERO)

    @step(3, c=st.integers(0, 1), p=st.integers(0, 2), amount=METERED_AMOUNTS, by_other=st.booleans())
    def metered_deposit(self, c, p, amount, by_other):
        """deposit by the payer, or depositFor by the other client (who pays; the payer owns it)."""
        m = self.model
        payer, provider = self._payer_provider(c, p)
        funder = self.clients[1 - c] if by_other else payer
        if provider == ZERO:
            error = (self.metered.ZeroAddress, {})
        elif amount == 0:
            error = (self.metered.ZeroAmount, {})
        elif amount > m.wallet_usd[funder.address]:
            error = (
                self.usd.ERC20InsufficientBalance,
                {"sender": funder, "balance": m.wallet_usd[funder.address], "needed": amount},
            )
        else:
            error = None
        if by_other:
            call = lambda: self.metered.depositFor(payer, provider, self.usd, amount, sender=funder)  # noqa: E731
        else:
            call = lambda: self.metered.deposit(provider, self.usd, amount, sender=payer)  # noqa: E731
        receipt = self._send(error, call)
        if error:
            return
        account = m.account(payer.address, provider)
        timers = (account.thawing, account.thaw_end)
        account.balance += amount
        account.deposited += amount
        m.wallet_usd[funder.address] -= amount
        (event,) = receipt.events.filter(self.metered.EscrowDeposited)
        assert (event.funder, event.amount, event.balance) == (funder.address, amount, account.balance)
        assert (account.thawing, account.thaw_end) == timers  # a deposit changes no timer
        self._touch(None, payer.address, funder.address, provider)

    @step(2, c=st.integers(0, 1), p=st.integers(0, 1), fraction=st.sampled_from([0, 1, 2, 2, 10]))
    def metered_thaw(self, c, p, fraction):
        """thaw: 0 cancels, a part or all of the balance replaces the running thaw, more reverts."""
        m = self.model
        payer, provider = self._payer_provider(c, p)
        account = m.account(payer.address, provider)
        amount = 0 if fraction == 0 else (account.balance // fraction if fraction != 10 else account.balance + 1)
        now = self.now()
        if amount > account.balance:
            error = (self.metered.ThawAmountTooLarge, {"balance": account.balance, "amount": amount})
        else:
            error = None
        self._send(error, lambda: self.metered.thaw(provider, self.usd, amount, sender=payer))
        if error:
            return
        account.thawing, account.thaw_end = (amount, now + m.metered.thaw_period) if amount else (0, 0)
        self._touch(None, payer.address)

    @step(2, c=st.integers(0, 1), p=st.integers(0, 1), at=st.sampled_from(["now", "now", "end-1", "end"]))
    def metered_withdraw(self, c, p, at):
        """withdraw: NotThawing, ThawNotElapsed up to the end (exact), the thawed amount from it on."""
        m = self.model
        payer, provider = self._payer_provider(c, p)
        account = m.account(payer.address, provider)
        if account.thaw_end and at != "now":
            target = account.thaw_end - (1 if at == "end-1" else 0)
            if target >= self.now():
                self.chain.pending_timestamp = target
        now = self.now()
        if account.thawing == 0:
            error = (self.metered.NotThawing, {"payer": payer, "provider": provider, "token": self.usd})
        elif now < account.thaw_end:
            error = (self.metered.ThawNotElapsed, {"thawEnd": account.thaw_end, "nowTime": now})
        else:
            error = None
        receipt = self._send(error, lambda: self.metered.withdraw(provider, self.usd, sender=payer))
        if error:
            return
        amount = account.thawing
        account.balance -= amount
        account.withdrawn += amount
        account.thawing, account.thaw_end = 0, 0
        m.wallet_usd[payer.address] += amount
        (event,) = receipt.events.filter(self.metered.EscrowWithdrawn)
        assert (event.amount, event.balance) == (amount, account.balance)
        self._touch(None, payer.address)

    # ───────────────────────────── metered escrow: signer keys ─────────────────────────────

    @step(
        2, c=st.integers(0, 1), s=st.integers(0, 2), proof=st.sampled_from(["valid", "valid", "expired", "wrong_key"])
    )
    def authorize_signer(self, c, s, proof):
        m = self.model
        payer, signer = self.clients[c], self.hot_signers[s]
        now = self.now()
        deadline = now - 1 if proof == "expired" else now + 3_600
        key = self.hot_signers[(s + 1) % len(self.hot_signers)] if proof == "wrong_key" else signer
        signature = sign_proof(self.metered, self.chain.chain_id, payer, key.private_key, deadline, signer=signer)
        bound = m.signers.get(signer.address)
        if now > deadline:
            error = (self.metered.SignerProofExpired, {"deadline": deadline, "nowTime": now})
        elif bound is not None:
            error = (self.metered.SignerAlreadyAuthorized, {"signer": signer, "payer": bound.payer})
        elif key is not signer:
            error = (self.metered.InvalidSignerProof, {"signer": signer, "recovered": key})
        else:
            error = None
        self._send(error, lambda: self.metered.authorizeSigner(signer, deadline, signature, sender=payer))
        if error:
            return
        m.signers[signer.address] = SignerM(payer.address)
        self._touch(None, payer.address)

    @step(
        2,
        c=st.integers(0, 1),
        s=st.integers(0, 2),
        action=st.sampled_from(["thaw", "thaw", "cancel", "revoke", "revoke_at_end", "revoke_at_end"]),
        by_payer=st.sampled_from([True, True, True, False]),
    )
    def signer_lifecycle(self, c, s, action, by_payer):
        """thawSigner, cancelSignerThaw, revokeSigner (before and at the end of the thaw), mostly
        by the key's own payer, else by clients[c] (NotSignerPayer for the other one)."""
        m = self.model
        signer = self.hot_signers[s]
        state = m.signers.get(signer.address)
        payer = self._client(state.payer) if by_payer and state is not None else self.clients[c]
        if action == "revoke_at_end" and state is not None and state.thaw_end >= self.now():
            self.chain.pending_timestamp = state.thaw_end
        now = self.now()
        if state is None or state.payer != payer.address:
            error = (
                self.metered.NotSignerPayer,
                {"signer": signer, "expected": state.payer if state else ZERO, "caller": payer},
            )
        elif state.revoked:
            error = (self.metered.SignerAlreadyRevoked, {"signer": signer})
        elif action != "thaw" and state.thaw_end == 0:
            error = (self.metered.SignerNotThawing, {"signer": signer})
        elif action.startswith("revoke") and now < state.thaw_end:
            error = (self.metered.SignerThawNotElapsed, {"thawEnd": state.thaw_end, "nowTime": now})
        else:
            error = None
        if action == "thaw":
            call = self.metered.thawSigner
        elif action == "cancel":
            call = self.metered.cancelSignerThaw
        else:
            call = self.metered.revokeSigner
        self._send(error, lambda: call(signer, sender=payer))
        if error:
            return
        if action == "thaw":
            state.thaw_end = now + m.metered.signer_thaw_period
        elif action == "cancel":
            state.thaw_end = 0
        else:
            state.revoked_at = now
        self._touch(None, payer.address)

    # ───────────────────────────── metered escrow: vouchers and collections ─────────────────────────────

    def _voucher(self, c: int, p: int, k: int, kind: str, s: int, increment: int) -> tuple[Voucher, bytes, str | None]:
        """A voucher for collection (clients[c], providers[p], COLLECTION_IDS[k]) of `kind`, its
        signature and who signed it (None: a malformed signature). A key of the payer (its own or
        one it authorized, in any state) signing a new voucher raises the collection's
        `max_signed`; forgeries do not."""
        m = self.model
        payer, provider = self.clients[c], self.providers[p]
        cid = COLLECTION_IDS[k]
        col = m.collection(payer.address, provider.address, cid)
        if kind in ("old", "latest") and col.signed:
            v, signature, signer = col.signed[-1] if kind == "latest" else col.signed[increment % len(col.signed)]
            return v, signature, signer
        key = payer if s == 0 else self.hot_signers[s - 1]
        if kind == "forged_key":
            key = self.attacker
        v = voucher(
            payer,
            provider,
            self.usd,
            collectionId=cid,
            valueAggregate=col.max_signed + increment,
            requestCount=col.request_count + 1 + increment % 7,
            timestamp=self.now(),
        )
        digest = voucher_digest(self.metered, self.chain.chain_id, v)
        signature = eip712.sign_digest(digest, key.private_key)
        signer: str | None = key.address
        if kind == "forged_field":  # signed, then a field changed: someone else "signed" it
            v = v.but(valueAggregate=v.valueAggregate * 2)
            signer = recover(voucher_digest(self.metered, self.chain.chain_id, v), signature)
        elif kind == "malformed":  # the high-s twin: only the low-s rule refuses it
            signature, signer = high_s_twin(signature), None
        elif m.signer_ok(payer.address, key.address) != "SignerNotAuthorized":  # a real signature of the payer's
            col.signed.append((v, signature, key.address))
            col.max_signed = max(col.max_signed, v.valueAggregate)
            col.request_count = v.requestCount
        return v, signature, signer

    def _predict_collect(self, v: Voucher, signer: str | None, sender, lockable: int):
        """MeteredEscrow._collect's decision: (error or None, gross, stake to lock)."""
        m = self.model
        if sender.address != v.provider:
            return (self.metered.NotVoucherProvider, {"expected": v.provider, "caller": sender}), 0, 0
        if signer is None:
            return (self.metered.InvalidVoucherSignature, {}), 0, 0
        problem = m.signer_ok(v.payer, signer)
        if problem is not None:
            return (getattr(self.metered, problem), {"payer": v.payer, "signer": signer}), 0, 0
        col = m.collection(v.payer, v.provider, v.collectionId)
        if v.valueAggregate <= col.collected:
            args = {"collectionId": v.collectionId, "collected": col.collected, "valueAggregate": v.valueAggregate}
            return (self.metered.StaleVoucher, args), 0, 0
        account = m.account(v.payer, v.provider)
        if account.balance == 0:
            return (
                (self.metered.EmptyEscrowAccount, {"payer": v.payer, "provider": v.provider, "token": self.usd}),
                0,
                0,
            )
        gross = min(v.valueAggregate - col.collected, account.balance)  # partial when short
        lock = gross * m.metered.stake_ratio // RATE_SCALE
        if lock > lockable:
            return (self.staking.InsufficientFreeStake, {"free": lockable, "requested": lock}), 0, 0
        return None, gross, lock

    def _pay(self, v: Voucher, gross: int, event, now: int) -> None:
        """The model's side of a voucher that paid `gross`, checked against its VoucherCollected."""
        m, mp = self.model, self.model.metered
        col = m.collection(v.payer, v.provider, v.collectionId)
        account = m.account(v.payer, v.provider)
        if not col.started:  # the collection keeps today's fee and fraud terms
            col.started, col.fee_bps = True, mp.fee_bps
            col.fraud_penalty_bps, col.fraud_payer_share_bps = mp.fraud_penalty_bps, mp.fraud_payer_share_bps
        col.collected += gross
        account.balance -= gross
        account.collected += gross
        account.thawing = min(account.thawing, account.balance)  # a thaw never exceeds the balance
        fee = gross * col.fee_bps // BPS
        m.claim_metered[v.provider] += gross - fee
        m.metered_fees += fee
        assert (event.payer, event.provider, event.collectionId, event.requestCount) == (
            v.payer,
            v.provider,
            v.collectionId,
            v.requestCount,
        )
        assert (event.gross, event.providerNet, event.fee, event.collected, event.outstanding) == (
            gross,
            gross - fee,
            fee,
            col.collected,
            v.valueAggregate - col.collected,
        )
        col.payments.append(
            Payment(v.valueAggregate, event.signer, event.gross, event.collected, event.outstanding, now)
        )
        self.touched_accounts.update({v.payer, v.provider, self.treasury.address})

    def _settle_locks(self, provider: str, released: int, lock: int, now: int) -> None:
        """MeteredEscrow._settleLocks: the expired buckets out, the new lock in, and
        ProviderStaking.adjustCollateral for both."""
        m = self.model
        bucket = m.stake_lock(provider)
        assert bucket.release_expired(now) == released
        if lock:
            bucket.add(lock, now, m.metered.dispute_window)
            # The spec, not the bucket arithmetic: a lock is held for at least one dispute window
            # and at most two (the chain's release times are compared in invariant 11).
            window = m.metered.dispute_window
            assert now + window <= bucket.current_release <= now + 2 * window, (now, bucket)
        m.adjust_collateral(provider, released, lock)
        self.touched_accounts.add(provider)

    @step(
        6,
        c=st.integers(0, 1),
        p=st.integers(0, 1),
        k=st.integers(0, 1),
        kind=VOUCHER_KINDS,
        s=SIGNER_KEYS,
        increment=VOUCHER_INCREMENTS,
        by_provider=st.sampled_from([True, True, True, False]),
    )
    def collect_voucher(self, c, p, k, kind, s, increment, by_provider):
        """collect: the next voucher, an old or replayed one, forgeries, a revoked signer's."""
        m = self.model
        v, signature, signer = self._voucher(c, p, k, kind, s, increment)
        sender = self.providers[p] if by_provider else self.attacker
        now = self.now()
        released = m.stake_lock(sender.address).releasable(now)
        # collect lets ProviderStaking check free stake itself: same error, same figures.
        error, gross, lock = self._predict_collect(v, signer, sender, m.lockable(sender.address, released))
        receipt = self._send(error, lambda: self.metered.collect(v.args(), signature, sender=sender))
        if error:
            return
        (event,) = receipt.events.filter(self.metered.VoucherCollected)
        self._pay(v, gross, event, now)
        self._settle_locks(sender.address, released, lock, now)
        self._ok()

    @step(
        3,
        items=st.lists(
            st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(0, 1), VOUCHER_KINDS, SIGNER_KEYS),
            min_size=1,
            max_size=5,
        ),
        increment=VOUCHER_INCREMENTS,
        p=st.integers(0, 2),
        mismatch=st.sampled_from([False] * 9 + [True]),
    )
    def collect_many(self, items, increment, p, mismatch):
        """collectMany over a mix of good and bad vouchers of both providers: each item pays or is
        skipped with exactly the revert data `collect` would give."""
        m = self.model
        sender = self.providers[p] if p < 2 else self.attacker
        batch = [self._voucher(c, q, k, kind, s, increment) for c, q, k, kind, s in items]
        vouchers, signatures = [v.args() for v, _, _ in batch], [sig for _, sig, _ in batch]
        if mismatch:
            error = (self.metered.VoucherBatchLengthMismatch, {"vouchers": len(batch), "signatures": len(batch) - 1})
            self._send(error, lambda: self.metered.collectMany(vouchers, signatures[:-1], sender=sender))
            return
        now = self.now()
        released = m.stake_lock(sender.address).releasable(now)
        lockable = m.lockable(sender.address, released)
        receipt = self.metered.collectMany(vouchers, signatures, sender=sender)
        paid_events = iter(receipt.events.filter(self.metered.VoucherCollected))
        skipped_events = iter(receipt.events.filter(self.metered.VoucherSkipped))
        lock_total = collected = 0
        for index, (v, _, signer) in enumerate(batch):  # in order: each sees what the ones before did
            error, gross, lock = self._predict_collect(v, signer, sender, lockable - lock_total)
            if error:
                skip = next(skipped_events)
                assert (skip.index, skip.payer, skip.collectionId) == (index, v.payer, v.collectionId)
                assert skip.reason == error[0].data(**error[1]), (index, error[0].name, skip.reason.hex())
                ProtocolMachine.outcomes[f"collect_many: skipped {error[0].name}"] += 1
                continue
            self._pay(v, gross, next(paid_events), now)
            ProtocolMachine.outcomes["collect_many: paid"] += 1
            lock_total += lock
            collected += 1
        assert next(paid_events, None) is None and next(skipped_events, None) is None
        if collected or released:
            self._settle_locks(sender.address, released, lock_total, now)
        self._touch(None, sender.address)

    @step(1, p=st.integers(0, 2))
    def release_stake(self, p):
        """releaseStake (anyone): the expired buckets, or NothingToRelease."""
        m = self.model
        provider = self.providers[p].address if p < 2 else self.attacker.address
        now = self.now()
        released = m.stake_lock(provider).releasable(now)
        error = None if released else (self.metered.NothingToRelease, {"provider": provider})
        self._send(error, lambda: self.metered.releaseStake(provider, sender=self.relayer))
        if error:
            return
        self._settle_locks(provider, released, 0, now)
        self._touch(None, provider)

    @step(2, who=st.sampled_from([2, 3, 8, 2, 3, 8, 0, 6, 7]))  # providers, the treasury, others
    def metered_claim(self, who):
        """claim: a provider's net, the treasury's fees; NothingToWithdraw for anyone else."""
        m = self.model
        account = self._accounts()[who]
        amount = m.metered_claimable(account.address)
        error = None if amount else (self.metered.NothingToWithdraw, {"account": account, "token": self.usd})
        self._send(error, lambda: self.metered.claim(self.usd, sender=account))
        if error:
            return
        m.claim_metered.pop(account.address, None)
        if account.address == m.treasury:
            m.metered_fees = 0
        m.wallet_usd[account.address] += amount
        self.withdrawn.add((account.address, "metered"))
        self._touch(None, account.address)

    @step(
        3,
        c=st.integers(0, 1),
        p=st.integers(0, 1),
        k=st.integers(0, 1),
        index=st.sampled_from(["floor", "floor", "above", "replay", "zero"]),
        kind=st.sampled_from(["wrong", "wrong", "wrong", "matches", "bad_receipt", "expired"]),
        signers=SIGNER_SETS,
    )
    def submit_fraud(self, c, p, k, index, kind, signers):
        """submitFraudAttestation over a receipt the provider signed: slashes the collection's
        penalty of (metered lock + free stake), lock first, pays the payer, jails the provider;
        receipts punished in increasing request order, never twice."""
        m = self.model
        payer, provider, cid = self.clients[c], self.providers[p], COLLECTION_IDS[k]
        col = m.collection(payer.address, provider.address, cid)
        punished = [key for key, x in m.collections.items() if x.fraud_floor]
        if index == "replay" and punished:  # a receipt punished before, in any collection
            payer_address, provider_address, cid = punished[k % len(punished)]
            payer, provider = self._client(payer_address), self._provider(provider_address)
            col = m.collections[punished[k % len(punished)]]
        floor = col.fraud_floor
        request_index = {"floor": floor, "above": floor + 5, "replay": max(floor - 1, 0), "zero": 0}[index]
        r = response_receipt(payer, provider, self.usd, collectionId=cid, requestIndex=request_index)
        key = self.attacker if kind == "bad_receipt" else provider
        chain_id = self.chain.chain_id
        provider_signature = sign_receipt(self.metered, chain_id, r, key.private_key)
        recomputed = RESPONSE_HASH if kind == "matches" else RIGHT_HASH
        now = self.now()
        deadline = now - 1 if kind == "expired" else now + 3_600
        version = self._version_for(signers)
        rdigest = receipt_digest(self.metered, chain_id, r)
        digest = fraud_digest(self.metered, chain_id, rdigest, recomputed, deadline, version)
        sigs = self._signatures(digest, signers)
        if now > deadline:
            error = (self.metered.FraudAttestationExpired, {"deadline": deadline, "nowTime": now})
        elif version != m.config_version:
            error = (self.hub.StaleOracleConfig, {"current": m.config_version, "signed": version})
        else:
            error = self._quorum_error(digest, sigs)
        if error is None:
            if key is not provider:
                error = (self.metered.InvalidReceiptSignature, {"provider": provider, "recovered": key})
            elif recomputed == r.responseHash:
                error = (self.metered.ResponseMatches, {"receiptDigest": rdigest})
            elif request_index < floor:
                error = (
                    self.metered.ReceiptAlreadyPunished,
                    {"collectionId": cid, "fraudFloor": floor, "requestIndex": request_index},
                )
        attestation = (r.args(), provider_signature, recomputed, deadline, version)
        receipt = self._send(error, lambda: self.metered.submitFraudAttestation(attestation, sigs, sender=self.relayer))
        if error:
            return
        col.fraud_floor = request_index + 1
        mp = m.metered
        terms = (
            (col.fraud_penalty_bps, col.fraud_payer_share_bps)
            if col.started
            else (mp.fraud_penalty_bps, mp.fraud_payer_share_bps)
        )
        bucket = m.stake_lock(provider.address)
        slashed, from_locked, share = m.slash_for_fraud(
            provider.address, bucket.locked, terms[0], payer.address, terms[1]
        )
        bucket.take(from_locked)
        (event,) = receipt.events.filter(self.staking.FraudSlashed)
        assert (event.amount, event.fromLocked, event.beneficiaryAmount) == (slashed, from_locked, share)
        (punished,) = receipt.events.filter(self.metered.FraudPunished)
        assert (punished.receiptDigest, punished.requestIndex) == (rdigest, request_index)
        self._touch(None, payer.address, provider.address)

    @step(10, c=st.integers(0, 1), p=st.integers(0, 1), k=st.integers(0, 1), s=st.integers(0, 3), choice=st.booleans())
    def progress_metered(self, c, p, k, s, choice):
        """One sensible step of a metered account or a hot key, through the rules above (so the
        same predictions apply): fund an empty account; thaw half of it, then withdraw a second
        before the end (ThawNotElapsed) and at the end; walk a key from authorized through its
        thaw (revoking early: SignerThawNotElapsed) to revoked, whose vouchers then pay nothing
        and which cannot thaw again; release expired stake locks; prove a wrong answer on a
        collected collection and replay it; else collect the next voucher. This is what makes
        short runs reach collections, stake locks, thaws, revoked signers and fraud on locked
        stake."""
        m = self.model
        key = self.hot_signers[s - 1] if s else None
        state = m.signers.get(key.address) if key else None
        if state is not None and choice:  # a key's life goes on with its own payer
            c = self.clients.index(self._client(state.payer))
        payer = self.clients[c].address
        account = m.account(payer, self.providers[p].address)
        self._ok()  # the step itself is counted under the rule it runs
        if account.balance == 0:
            self.metered_deposit(c, p, 20 * USD, False)
        elif account.thawing and choice:  # a second too early (the exact revert), then at the end
            self.metered_withdraw(c, p, "end-1")
            self.metered_withdraw(c, p, "end")
        elif key is None and choice:
            self.metered_thaw(c, p, 2)
        elif key is not None and choice:
            if state is None:  # authorized, and its thaw started
                self.authorize_signer(c, s - 1, "valid")
                self.signer_lifecycle(c, s - 1, "thaw", True)
            elif state.thaw_end == 0:
                self.signer_lifecycle(c, s - 1, "thaw", True)
            elif not state.revoked:  # too early, then at the end of its thaw
                if self.now() < state.thaw_end:
                    self.signer_lifecycle(c, s - 1, "revoke", True)
                self.signer_lifecycle(c, s - 1, "revoke_at_end", True)
            if m.signers[key.address].revoked:  # its vouchers pay nothing now; it stays revoked
                self.collect_voucher(c, p, k, "next", s, USD, True)
                self.signer_lifecycle(c, s - 1, "thaw", True)
        elif k and m.stake_lock(self.providers[p].address).releasable(self.now()):
            self.release_stake(p)
        elif s == 3 and any(
            (col := m.collections.get((payer, self.providers[p].address, cid))) and col.collected
            for cid in COLLECTION_IDS
        ):
            # a wrong answer proven on a collected collection, then a punished receipt once more
            k = next(
                i
                for i, cid in enumerate(COLLECTION_IDS)
                if m.collection(payer, self.providers[p].address, cid).collected
            )
            self.submit_fraud(c, p, k, "floor", "wrong", "valid")
            self.submit_fraud(c, p, k, "replay", "wrong", "valid")
        else:
            bound = state is not None and state.payer == payer
            self.collect_voucher(c, p, k, "next", s if bound else 0, USD, True)

    @step(
        2,
        target=st.sampled_from(["thaw", "signer", "lock", "lock"]),
        i=st.integers(0, 3),
        delta=st.sampled_from([-1, 0, 1]),
    )
    def warp_to_metered_boundary(self, target, i, delta):
        """To an account's thaw end, a signer's thaw end or a stake lock's release, +-1 s."""
        m = self.model
        if target == "thaw":
            ends = [a.thaw_end for a in m.accounts.values()]
        elif target == "signer":
            ends = [s.thaw_end for s in m.signers.values()]
        else:
            ends = [t for b in m.stake_locks.values() for t in (b.current_release, b.previous_release)]
        ends = sorted(e for e in ends if e)
        if ends and ends[i % len(ends)] + delta >= self.now():  # only forward
            self.chain.pending_timestamp = ends[i % len(ends)] + delta
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
        reads += self._metered_reads()
        self._store(reads, self.chain.read_many(reads))

    def _metered_reads(self) -> list[tuple[Any, str, tuple[Any, ...]]]:
        """MeteredEscrow's whole state the model knows of (a few accounts, collections and locks:
        every step, in the step's batch)."""
        m, usd = self.model, self.usd
        reads = [(self.usd, "balanceOf", (self.metered,)), (self.metered, "feesAccrued", (usd,))]
        reads += [(self.metered, "account", (payer, provider, usd)) for payer, provider in m.accounts]
        reads += [(self.metered, "collection", (a, b, usd, cid)) for a, b, cid in m.collections]
        for p in self.providers:
            reads += [(self.metered, "stakeLock", (p.address,)), (self.metered, "claimable", (p.address, usd))]
        reads += [(self.metered, "signerInfo", (s.address,)) for s in self.hot_signers]
        return reads

    def _store(self, reads, values) -> None:
        for (contract, fn, args), value in zip(reads, values):
            self._cache[_key(contract, fn, args)] = value

    @invariant()
    @_marks_failure
    def all_invariants(self):
        """After every step, from one batch of reads: invariants 1, 2, 3, 4, 11, 14, 15, 7 and 9 (see
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
            self.inv_14_metered_accounts_and_collections,
            self.inv_15_metered_holdings,
            self.inv_7_claimables_only_fall_by_own_withdrawal,
            self.inv_9_parameters_only_by_governance,
        ):
            check()
            ProtocolMachine.invariant_checks[check.__name__] += 1
        self._cache = {}

    def inv_1_holdings_match_model(self):
        m = self.model
        assert self.v(self.usd, "balanceOf", self.escrow) == m.escrow_holdings()
        assert self.v(self.usd, "balanceOf", self.metered) == m.metered_holdings()
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
        assert (
            self.v(self.usd, "totalSupply") == sum(m.wallet_usd.values()) + m.escrow_holdings() + m.metered_holdings()
        )
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
        chain's side of `locked`, `shortfall` and the jail is compared in invariant 4.)

        MeteredEscrow's stake locks are obligations too: `locked` is the live jobs' collateral
        plus the provider's metered lock (current + previous bucket, equal to the chain's
        `stakeLock`), so an uptime slash, which never takes locked stake, never eats it."""
        m = self.model
        for address in [p.address for p in self.providers]:
            p = m.provider(address)
            bucket = m.stake_lock(address)
            view = self.v(self.metered, "stakeLock", address)
            assert (view.locked, view.current, view.currentRelease, view.previous, view.previousRelease) == (
                bucket.locked,
                bucket.current,
                bucket.current_release,
                bucket.previous,
                bucket.previous_release,
            ), address
            assert p.locked == m.locked_by_jobs(address) + bucket.locked, address
            assert p.locked <= p.staked, address
            if p.shortfall:
                assert p.jailed_for_downtime and p.free == 0 and p.unbonding == 0, address
        for job_id in self.touched_jobs:
            job = m.jobs[job_id]
            if job.collateral_slashed is not None:
                share = job.collateral * job.terms.client_share_bps // BPS if job.client != job.provider else 0
                assert (job.collateral_slashed, job.client_share) == (job.collateral, share), job.id
                assert job.chain_refund == (job.collateral, share), job.id

    def inv_14_metered_accounts_and_collections(self):
        """MeteredEscrow, every account and collection, every step: each account equals the model
        and deposits − collections − withdrawals, its thaw never above its balance; each
        collection's collected equals the model, never above the highest valueAggregate a key of
        the payer signed for it, and is the sum of what its vouchers paid (the chain's
        VoucherCollected events), each payment within its own voucher (no voucher pays twice) and
        none by a signer whose revocation was final; every signer key's standing matches."""
        m, usd = self.model, self.usd
        for (payer, provider), a in m.accounts.items():
            view = self.v(self.metered, "account", payer, provider, usd)
            assert (view.balance, view.thawing, view.thawEnd) == (a.balance, a.thawing, a.thaw_end), (payer, provider)
            assert a.balance == a.deposited - a.collected - a.withdrawn, (payer, provider)
            assert a.thawing <= a.balance
        for (payer, provider, cid), c in m.collections.items():
            view = self.v(self.metered, "collection", payer, provider, usd, cid)
            assert (view.collected, view.started, view.fraudFloor) == (c.collected, c.started, c.fraud_floor), cid
            if c.started:
                assert (view.feeBps, view.fraudPenaltyBps, view.fraudPayerShareBps) == (
                    c.fee_bps,
                    c.fraud_penalty_bps,
                    c.fraud_payer_share_bps,
                )
            assert view.collected <= c.max_signed, (cid, view.collected, c.max_signed)
            assert sum(x.gross for x in c.payments) == view.collected, cid
            total = 0
            for x in c.payments:
                total += x.gross
                assert x.collected == total and x.gross > 0  # the running total, no zero payments
                assert x.collected <= x.value_aggregate and x.outstanding == x.value_aggregate - x.collected
                signer = m.signers.get(x.signer)
                assert signer is None or signer.revoked_at is None or x.at < signer.revoked_at, x
        for key in self.hot_signers:
            view, state = self.v(self.metered, "signerInfo", key.address), m.signers.get(key.address)
            expected = (state.payer, state.thaw_end, state.revoked) if state else (ZERO, 0, False)
            assert (view.payer, view.thawEnd, view.revoked) == expected, key

    def inv_15_metered_holdings(self):
        """MeteredEscrow's token balance equals Σ account balances + Σ providers' claimable + the
        fees accrued, on the chain's own figures, and the model's."""
        m, usd = self.model, self.usd
        balances = sum(self.v(self.metered, "account", a, b, usd).balance for a, b in m.accounts)
        claimable = sum(self.v(self.metered, "claimable", p.address, usd) for p in self.providers)
        fees = self.v(self.metered, "feesAccrued", usd)
        assert fees == m.metered_fees
        assert self.v(self.usd, "balanceOf", self.metered) == balances + claimable + fees == m.metered_holdings()

    def inv_7_claimables_only_fall_by_own_withdrawal(self):
        touched = [a for a in self._accounts() if a.address in self.touched_accounts]
        now = self._claims_on_chain(touched)
        for key, value in now.items():
            expected = self._claim_in_model(*key)
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
            (a.address, ledger): self._claim_in_model(a.address, ledger)
            for a in self._accounts()
            for ledger in ("usd", "stake", "metered")
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
        # MeteredEscrow: every stake lock released (by anyone), every account thawing in full.
        releases = [t for b in m.stake_locks.values() for t in (b.current_release, b.previous_release)]
        self.chain.pending_timestamp = max([self.now(), *releases])
        for provider in self.providers:
            bucket = m.stake_lock(provider.address)
            if bucket.locked:
                now = self.now()
                released = bucket.releasable(now)
                self.metered.releaseStake(provider, sender=self.relayer)
                self._settle_locks(provider.address, released, 0, now)
            assert bucket.locked == 0
        thaw_ends = []
        for (payer, provider_address), account in m.accounts.items():
            if account.balance:
                now = self.now()
                self.metered.thaw(provider_address, self.usd, account.balance, sender=self._client(payer))
                account.thawing, account.thaw_end = account.balance, now + m.metered.thaw_period
                thaw_ends.append(account.thaw_end)
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
        self.chain.pending_timestamp = max([self.now()] + ends + thaw_ends) + 1
        for (payer, provider_address), account in m.accounts.items():
            if account.thawing:
                self.metered.withdraw(provider_address, self.usd, sender=self._client(payer))
                account.balance -= account.thawing
                account.withdrawn += account.thawing
                m.wallet_usd[payer] += account.thawing
                account.thawing, account.thaw_end = 0, 0
            assert account.balance == 0
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
            if m.metered_claimable(account.address):
                self.metered.claim(self.usd, sender=account)
                m.wallet_usd[account.address] += m.metered_claimable(account.address)
                m.claim_metered.pop(account.address, None)
                if account.address == m.treasury:
                    m.metered_fees = 0
        for account in self._accounts():  # each actor ends with exactly what the model says
            assert self.usd.balanceOf(account) == m.wallet_usd[account.address], account
            assert self.stake.balanceOf(account) == m.wallet_stake[account.address], account
        # everything withdrawn, the treasury included: the contracts hold nothing
        assert self.usd.balanceOf(self.escrow) == 0
        assert self.usd.balanceOf(self.metered) == 0
        assert self.stake.balanceOf(self.staking) == 0
