"""A plain-Python model of the whole protocol, kept beside the chain by the state machine.

Every number here is computed from the protocol's rules as written in the interfaces'
NatSpec and the README, not read back from the chain: the invariants compare the two.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

BPS = 10_000
RATE_SCALE = 10**18
UINT96_MAX = 2**96 - 1
UINT48_MAX = 2**48 - 1
UINT128_MAX = 2**128 - 1

# JobStatus, as the contract numbers it.
NONE, OPEN, ACCEPTED, ATTESTED, DISPUTED, SETTLED, FAILED, EXPIRED, CANCELLED = range(9)
LIVE = {OPEN, ACCEPTED, ATTESTED, DISPUTED}
LOCKING = {ACCEPTED, ATTESTED, DISPUTED}  # live jobs that hold collateral
ENDED = {SETTLED, FAILED, EXPIRED, CANCELLED}


@dataclass(frozen=True)
class Terms:
    """What a job keeps from creation to its end (IJobEscrow.Terms)."""

    fee_bps: int
    challenge_window: int
    dispute_timeout: int
    dispute_bond_bps: int
    client_share_bps: int


@dataclass
class JobM:
    id: int
    client: str
    provider: str
    unit_price: int
    max_units: int
    terms: Terms
    deadline: int
    accept_by: int
    status: int = OPEN
    collateral: int = 0
    units: int = 0
    challenge_ends: int = 0
    dispute_ends: int = 0
    bond: int = 0
    paid_out: int = 0  # everything credited from this job's escrow (invariant 3)
    collateral_slashed: int | None = None  # what its failure took (None: not failed)
    client_share: int | None = None  # the client's part of it
    chain_refund: tuple[int, int] | None = None  # (collateralSlashed, clientCollateralShare) of JobRefunded

    @property
    def escrow(self) -> int:
        return self.unit_price * self.max_units

    @property
    def fee_bps(self) -> int:
        return self.terms.fee_bps


@dataclass
class ProviderM:
    registered: bool = False
    staked: int = 0
    locked: int = 0
    unbonding: int = 0
    unbonding_end: int = 0
    jailed_for_work: bool = False
    jailed_for_downtime: bool = False
    left: bool = False
    left_at: int = 0
    sla_from: int = 0
    shortfall: int = 0
    slashed: int = 0
    deposited: int = 0

    @property
    def free(self) -> int:
        return self.staked - self.locked

    @property
    def jailed(self) -> bool:
        return self.jailed_for_work or self.jailed_for_downtime


@dataclass
class Schedule:
    """One stretch of equal epochs (IUptimeSlasher.Schedule)."""

    first_epoch: int
    start_time: int
    epoch_length: int
    statute_epochs: int

    @property
    def window(self) -> int:
        return (self.statute_epochs + 1) * self.epoch_length


@dataclass
class Params:
    fee_bps: int
    accept_window: int
    challenge_window: int
    dispute_timeout: int
    max_job_duration: int
    dispute_bond_bps: int
    client_share_bps: int
    min_stake: int
    unbonding_delay: int
    epoch_length: int
    statute_epochs: int
    sla_bps: int
    uptime_slash_bps: int
    uptime_slash_cap: int
    relayer_bps: int
    relayer_cap: int
    collateral_rate: int

    def terms(self) -> Terms:
        return Terms(
            self.fee_bps, self.challenge_window, self.dispute_timeout, self.dispute_bond_bps, self.client_share_bps
        )


@dataclass
class MeteredParams:
    """MeteredEscrow's parameters and the payment token's stake ratio (fixed during a run)."""

    fee_bps: int
    dispute_window: int
    thaw_period: int
    signer_thaw_period: int
    fraud_penalty_bps: int
    fraud_payer_share_bps: int
    stake_ratio: int


@dataclass
class AccountM:
    """An escrow account (payer, provider, the payment token) and its history."""

    balance: int = 0
    thawing: int = 0
    thaw_end: int = 0
    deposited: int = 0
    collected: int = 0
    withdrawn: int = 0


@dataclass(frozen=True)
class Payment:
    """One VoucherCollected event, as the chain reported it."""

    value_aggregate: int  # of the voucher that paid
    signer: str
    gross: int
    collected: int  # the collection's total after it
    outstanding: int
    at: int


@dataclass
class CollectionM:
    """A collection (payer, provider, collection id): what was signed and what was paid."""

    collected: int = 0
    max_signed: int = 0  # the highest valueAggregate a key of the payer signed for it
    request_count: int = 0  # of the latest voucher signed
    started: bool = False
    fee_bps: int = 0
    fraud_penalty_bps: int = 0
    fraud_payer_share_bps: int = 0
    fraud_floor: int = 0
    signed: list = field(default_factory=list)  # [(voucher tuple, signature, signer)] in signing order
    payments: list[Payment] = field(default_factory=list)


@dataclass
class SignerM:
    payer: str
    thaw_end: int = 0
    revoked_at: int | None = None  # when revocation became final

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass
class StakeLockM:
    """MeteredEscrow's two release buckets of a provider's locked stake."""

    current: int = 0
    current_release: int = 0
    previous: int = 0
    previous_release: int = 0

    @property
    def locked(self) -> int:
        return self.current + self.previous

    def release_expired(self, now: int) -> int:
        """MeteredEscrow._releaseExpired: empties the buckets whose time has come."""
        released = 0
        if self.previous and self.previous_release <= now:
            released, self.previous, self.previous_release = self.previous, 0, 0
        if self.current and self.current_release <= now:
            released += self.current
            self.current, self.current_release = 0, 0
        return released

    def releasable(self, now: int) -> int:
        return (self.previous if self.previous and self.previous_release <= now else 0) + (
            self.current if self.current and self.current_release <= now else 0
        )

    def add(self, amount: int, now: int, window: int) -> None:
        """MeteredEscrow._addLock: into the bucket released at the second window boundary."""
        release = (now // window + 2) * window
        if self.current and self.current_release < release and self.previous == 0:
            self.previous, self.previous_release = self.current, self.current_release
            self.current = 0
        self.current += amount
        self.current_release = max(self.current_release, release)

    def take(self, amount: int) -> None:
        """A fraud slash took `amount` of the lock: the older bucket first."""
        from_previous = min(amount, self.previous)
        self.previous -= from_previous
        self.current -= amount - from_previous
        if self.previous == 0:
            self.previous_release = 0
        if self.current == 0:
            self.current_release = 0


@dataclass
class Model:
    params: Params
    treasury: str
    relayer_default: str
    oracles: list[str]
    threshold: int
    schedules: list[Schedule]
    config_version: int
    report_window: int  # what the staking contract was last told
    paused: bool = False
    jobs: dict[int, JobM] = field(default_factory=dict)
    providers: dict[str, ProviderM] = field(default_factory=dict)
    claim_usd: Counter = field(default_factory=Counter)
    claim_stake: Counter = field(default_factory=Counter)
    wallet_usd: Counter = field(default_factory=Counter)
    wallet_stake: Counter = field(default_factory=Counter)
    reported: set = field(default_factory=set)
    metered: MeteredParams | None = None
    accounts: dict[tuple[str, str], AccountM] = field(default_factory=dict)  # (payer, provider)
    collections: dict[tuple[str, str, bytes], CollectionM] = field(default_factory=dict)
    signers: dict[str, SignerM] = field(default_factory=dict)
    stake_locks: dict[str, StakeLockM] = field(default_factory=dict)
    claim_metered: Counter = field(default_factory=Counter)  # providers' claimable in MeteredEscrow
    metered_fees: int = 0  # fees accrued, not yet claimed by the treasury

    # ── derived ──
    def provider(self, address: str) -> ProviderM:
        return self.providers.setdefault(address, ProviderM())

    def active_schedule(self, t: int) -> Schedule:
        latest = self.schedules[-1]
        return latest if t >= latest.start_time else self.schedules[-2]

    def epoch_at(self, t: int) -> int:
        s = self.active_schedule(t)
        return s.first_epoch + (t - s.start_time) // s.epoch_length

    def locate(self, epoch: int) -> tuple[int, int, int]:
        """(start, length, statute) of `epoch`, from the schedule it belongs to."""
        s = next(s for s in reversed(self.schedules) if s.first_epoch <= epoch)
        return s.start_time + (epoch - s.first_epoch) * s.epoch_length, s.epoch_length, s.statute_epochs

    def declared_window(self, now: int) -> int:
        """UptimeSlasher._declaredWindow: the latest schedule's window and every earlier one
        whose epochs can still be reported."""
        window = self.schedules[-1].window
        for older, newer in zip(self.schedules[:-1], self.schedules[1:]):
            if now < newer.start_time + older.statute_epochs * older.epoch_length:
                window = max(window, older.window)
        return window

    def set_schedule(self, length: int, statute: int, now: int) -> None:
        """A change starts at the next epoch boundary; a pending one is replaced."""
        latest = self.schedules[-1]
        if latest.start_time > now:
            latest.epoch_length, latest.statute_epochs = length, statute
            return
        nxt = latest.first_epoch + (now - latest.start_time) // latest.epoch_length + 1
        start = latest.start_time + (nxt - latest.first_epoch) * latest.epoch_length
        self.schedules.append(Schedule(nxt, start, length, statute))

    def locked_by_jobs(self, provider: str) -> int:
        """What the provider's live jobs lock: `locked` must always equal it (invariant 11)."""
        return sum(j.collateral for j in self.jobs.values() if j.provider == provider and j.status in LOCKING)

    def account(self, payer: str, provider: str) -> AccountM:
        return self.accounts.setdefault((payer, provider), AccountM())

    def collection(self, payer: str, provider: str, cid: bytes) -> CollectionM:
        return self.collections.setdefault((payer, provider, cid), CollectionM())

    def stake_lock(self, provider: str) -> StakeLockM:
        return self.stake_locks.setdefault(provider, StakeLockM())

    def metered_holdings(self) -> int:
        """What MeteredEscrow must hold: every account, every provider's claimable, the fees."""
        return sum(a.balance for a in self.accounts.values()) + sum(self.claim_metered.values()) + self.metered_fees

    def metered_claimable(self, account: str) -> int:
        """MeteredEscrow.claimable(account, token): the treasury's includes the accrued fees."""
        return self.claim_metered[account] + (self.metered_fees if account == self.treasury else 0)

    def signer_ok(self, payer: str, signer: str) -> str | None:
        """MeteredEscrow._checkSigner for a well-formed signature: None, or the error's name."""
        if signer == payer:
            return None
        s = self.signers.get(signer)
        if s is None or s.payer != payer:
            return "SignerNotAuthorized"
        return "SignerRevokedForPayer" if s.revoked else None

    def lockable(self, provider: str, released: int) -> int:
        """ProviderStaking.lockable: free stake after the release and any shortfall it pays."""
        p = self.provider(provider)
        free = p.free + released
        return max(free - p.shortfall, 0) if p.jailed_for_downtime else free

    def escrow_holdings(self) -> int:
        live = sum(j.escrow for j in self.jobs.values() if j.status in LIVE)
        bonds = sum(j.bond for j in self.jobs.values() if j.status == DISPUTED)
        return live + bonds + sum(self.claim_usd.values())

    def staking_holdings(self) -> int:
        stake = sum(p.staked + p.unbonding for p in self.providers.values())
        return stake + sum(self.claim_stake.values())

    # ── money movements (the rules of IJobEscrow / IProviderStaking) ──
    def pay(self, job: JobM, bond_to_provider: int, bond_to_client: int) -> None:
        gross = job.units * job.unit_price
        fee = gross * job.fee_bps // BPS
        refund = job.escrow - gross
        self.claim_usd[job.provider] += gross - fee + bond_to_provider
        self.claim_usd[job.client] += refund + bond_to_client
        self.claim_usd[self.treasury] += fee
        job.paid_out += gross + refund
        job.status = SETTLED
        self.release(job.provider, job.collateral)

    def refund(self, job: JobM, status: int, bond: int) -> None:
        job.status = status
        self.claim_usd[job.client] += job.escrow + bond
        job.paid_out += job.escrow
        job.collateral_slashed = job.collateral
        job.client_share = self.slash_collateral(job.provider, job.collateral, job.client, job.terms.client_share_bps)

    def cancel(self, job: JobM) -> None:
        job.status = CANCELLED
        self.claim_usd[job.client] += job.escrow
        job.paid_out += job.escrow

    def add_stake(self, provider: str, amount: int) -> None:
        p = self.provider(provider)
        p.staked += amount
        p.deposited += amount
        self.wallet_stake[provider] -= amount
        self.pay_shortfall(provider)

    def unbond(self, provider: str, amount: int, now: int) -> None:
        """Active stake -> unbonding; the end never moves earlier."""
        p = self.provider(provider)
        p.staked -= amount
        p.unbonding += amount
        p.unbonding_end = max(now + self.params.unbonding_delay, p.unbonding_end)

    def withdraw_unbonded(self, provider: str) -> None:
        p = self.provider(provider)
        self.wallet_stake[provider] += p.unbonding
        p.unbonding, p.unbonding_end = 0, 0

    def withdraw_usd(self, account: str) -> None:
        self.wallet_usd[account] += self.claim_usd.pop(account, 0)

    def claim_stake_of(self, account: str) -> None:
        self.wallet_stake[account] += self.claim_stake.pop(account, 0)

    def release(self, provider: str, amount: int) -> None:
        p = self.provider(provider)
        assert amount <= p.locked, "released more than locked: the contract would revert CollateralNotLocked"
        p.locked -= amount
        self.pay_shortfall(provider)

    def pay_shortfall(self, provider: str) -> None:
        p = self.provider(provider)
        paid = min(p.shortfall, p.free)
        if paid:
            p.shortfall -= paid
            p.staked -= paid
            p.slashed += paid
            self.claim_stake[self.treasury] += paid

    def jail(self, p: ProviderM, for_downtime: bool) -> None:
        if not p.registered:
            return
        if for_downtime:
            p.jailed_for_downtime = True
        else:
            p.jailed_for_work = True

    def slash_collateral(self, provider: str, amount: int, client: str, share_bps: int) -> int:
        """A failed job: exactly its collateral, the client's share of it, the rest to the treasury."""
        p = self.provider(provider)
        assert amount <= p.locked
        p.locked -= amount
        p.staked -= amount
        p.slashed += amount
        share = amount * share_bps // BPS if client != provider else 0
        self.claim_stake[client] += share
        self.claim_stake[self.treasury] += amount - share
        if amount:
            self.jail(p, for_downtime=False)
        return share

    def slash_uptime(self, provider: str, amount: int, beneficiary: str, share_bps: int, share_cap: int) -> int:
        """Free stake, then unbonding; the rest (up to the locked stake) owed as shortfall."""
        p = self.provider(provider)
        from_free = min(amount, p.free)
        rest = amount - from_free
        from_unbonding = min(rest, p.unbonding)
        deferred = min(rest - from_unbonding, p.locked)
        p.staked -= from_free
        p.unbonding -= from_unbonding
        p.shortfall += deferred
        slashed = from_free + from_unbonding
        p.slashed += slashed
        if beneficiary == provider:
            beneficiary = ZERO
        share = min(slashed * share_bps // BPS, share_cap) if beneficiary != ZERO else 0
        self.claim_stake[beneficiary] += share
        self.claim_stake[self.treasury] += slashed - share
        if amount:
            self.jail(p, for_downtime=True)
        return slashed

    def adjust_collateral(self, provider: str, released: int, lock: int) -> None:
        """ProviderStaking.adjustCollateral (the caller checked the lock fits)."""
        if released:
            self.release(provider, released)
        p = self.provider(provider)
        assert lock <= p.free
        p.locked += lock

    def slash_for_fraud(self, provider: str, locked_available: int, penalty_bps: int, payer: str, share_bps: int):
        """ProviderStaking.slashForFraud: the metered lock first, then free stake; jails for work.
        Returns (slashed, fromLocked, payer's share)."""
        p = self.provider(provider)
        slashed = (locked_available + p.free) * penalty_bps // BPS
        from_locked = min(slashed, locked_available)
        p.locked -= from_locked
        p.staked -= slashed
        p.slashed += slashed
        share = slashed * share_bps // BPS if payer != provider else 0
        self.claim_stake[payer] += share
        self.claim_stake[self.treasury] += slashed - share
        self.jail(p, for_downtime=False)
        return slashed, from_locked, share

    def sla_in_force(self, provider: str, epoch_start: int) -> bool:
        p = self.provider(provider)
        if p.jailed_for_downtime or epoch_start < p.sla_from:
            return False
        return not p.left or epoch_start < p.left_at


ZERO = "0x0000000000000000000000000000000000000000"
