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
ENDED = {SETTLED, FAILED, EXPIRED, CANCELLED}


@dataclass
class JobM:
    id: int
    client: str
    provider: str
    unit_price: int
    max_units: int
    fee_bps: int
    deadline: int
    accept_by: int
    status: int = OPEN
    collateral: int = 0
    units: int = 0
    challenge_ends: int = 0
    dispute_ends: int = 0
    bond: int = 0
    paid_out: int = 0  # everything credited from this job's escrow (invariant 3)

    @property
    def escrow(self) -> int:
        return self.unit_price * self.max_units


@dataclass
class ProviderM:
    registered: bool = False
    staked: int = 0
    locked: int = 0
    unbonding: int = 0
    unbonding_end: int = 0
    jailed: bool = False
    slashed: int = 0
    deposited: int = 0

    @property
    def free(self) -> int:
        return self.staked - self.locked


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


@dataclass
class Model:
    params: Params
    treasury: str
    relayer_default: str
    oracles: list[str]
    threshold: int
    anchor_epoch: int
    anchor_time: int
    paused: bool = False
    jobs: dict[int, JobM] = field(default_factory=dict)
    providers: dict[str, ProviderM] = field(default_factory=dict)
    claim_usd: Counter = field(default_factory=Counter)
    claim_stake: Counter = field(default_factory=Counter)
    wallet_usd: Counter = field(default_factory=Counter)
    wallet_stake: Counter = field(default_factory=Counter)
    reported: set = field(default_factory=set)

    # ── derived ──
    def provider(self, address: str) -> ProviderM:
        return self.providers.setdefault(address, ProviderM())

    def epoch_at(self, t: int) -> int:
        return self.anchor_epoch + (t - self.anchor_time) // self.params.epoch_length

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
        self.slash(job.provider, job.collateral, job.collateral, job.client, self.params.client_share_bps, 2**256 - 1)

    def cancel(self, job: JobM) -> None:
        job.status = CANCELLED
        self.claim_usd[job.client] += job.escrow
        job.paid_out += job.escrow

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
        p.locked = 0 if amount >= p.locked else p.locked - amount

    def slash(self, provider: str, amount: int, release: int, beneficiary: str | None, share_bps: int, share_cap: int) -> int:
        p = self.provider(provider)
        if release:
            self.release(provider, release)
        from_active = min(amount, p.staked)
        p.staked -= from_active
        p.locked = min(p.locked, p.staked)
        from_unbonding = min(amount - from_active, p.unbonding)
        p.unbonding -= from_unbonding
        slashed = from_active + from_unbonding
        p.slashed += slashed
        share = min(slashed * share_bps // BPS, share_cap) if beneficiary else 0
        if beneficiary:
            self.claim_stake[beneficiary] += share
        self.claim_stake[self.treasury] += slashed - share
        if amount != 0 and p.registered and not p.jailed:
            p.jailed = True
        return slashed
