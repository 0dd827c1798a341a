"""Domain types: statuses as Enums, amounts as Decimal token units, times as UTC datetimes,
and pydantic models for everything serialised (jobs, provider status, attestations, reports)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from computerails import eip712
from computerails.addresses import parse_address
from computerails.errors import InvalidAmount, InvalidDeadline
from computerails.status import JobStatus as JobStatus  # public here; defined in a leaf module (see there)


class Raw(int):
    """An amount already in the token's smallest unit: ``Raw(1_500_000)`` is 1.5 mUSD.

    Amounts are otherwise read as token units (``Decimal("1.5")``, ``"1.5"`` or ``2``).
    """


Amount = Decimal | int | str | Raw


def to_raw(amount: Amount | float, decimals: int) -> int:
    """Token units -> smallest units. ``Raw`` passes through unchanged.

    Raises:
        InvalidAmount: not a finite number, negative, or finer than the token's decimals.
    """
    if isinstance(amount, Raw):
        value = int(amount)
    else:
        try:
            number = Decimal(str(amount))
        except ArithmeticError:  # decimal.InvalidOperation
            raise InvalidAmount(f"amount {amount!r} is not a number") from None
        if not number.is_finite():
            raise InvalidAmount(f"amount {amount!r} is not a finite number")
        scaled = number * (Decimal(10) ** decimals)
        if scaled != scaled.to_integral_value():
            raise InvalidAmount(f"{amount} has more than {decimals} decimals")
        value = int(scaled)
    if value < 0:
        raise InvalidAmount(f"amount must not be negative, got {amount}")
    return value


def from_raw(value: int, decimals: int) -> Decimal:
    """Smallest units -> token units, exactly, without trailing zeros (``Decimal("9.75")``)."""
    whole, fraction = divmod(int(value), 10**decimals)
    if fraction == 0:
        return Decimal(whole)
    return Decimal(value).scaleb(-decimals).normalize()


def utc(timestamp: int) -> datetime:
    """Unix seconds -> aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def to_timestamp(value: datetime | int) -> int:
    """Aware datetime or unix seconds -> unix seconds.

    Raises:
        InvalidDeadline: a naive datetime (no time zone).
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidDeadline("use a timezone-aware datetime (e.g. datetime.now(timezone.utc))")
        return int(value.timestamp())
    return int(value)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class JobStage(str, Enum):
    """Where a job stands for the people who must act on it next, at a given chain time: its
    status refined by the timers that are running (see :meth:`Job.stage`)."""

    TO_ACCEPT = "to accept"  # open, the provider can accept until accept_by
    NOT_ACCEPTED = "not accepted"  # open, accept window missed: the client can cancel
    AWAITING_ATTESTATION = "awaiting attestation"  # accepted, the oracles attest until the deadline
    EXPIRED = "past deadline"  # accepted, deadline passed unattested: anyone can reclaim it
    IN_CHALLENGE = "in challenge window"  # attested, the client may dispute until challenge_ends
    SETTLEABLE = "settleable"  # attested past its challenge window, or disputed and lapsed
    DISPUTED = "disputed"  # the arbitrator rules until dispute_ends
    ENDED = "ended"  # settled, failed, expired or cancelled


class TokenInfo(_Model):
    address: str
    symbol: str
    decimals: int


class Job(_Model):
    """A job as the escrow sees it, with amounts in the payment token's units."""

    id: int
    status: JobStatus
    client: str
    provider: str
    token: TokenInfo
    unit_price: Decimal
    max_units: int
    escrow: Decimal
    units: int
    fee_bps: int
    terms_id: int | None = None  # the terms the job keeps from creation (None: not read yet)
    collateral: Decimal  # staking-token units
    deadline: datetime
    accept_by: datetime | None = None
    challenge_ends: datetime | None = None
    dispute_ends: datetime | None = None
    dispute_bond: Decimal = Decimal(0)
    spec_hash: str | None = None  # from JobCreated, when read from events

    @property
    def settles_at(self) -> datetime | None:
        """The first moment anyone can settle the job: the end of its challenge window while
        attested, one second after its dispute ends while disputed (a lapsed dispute); None in
        any other state."""
        if self.status is JobStatus.ATTESTED:
            return self.challenge_ends
        if self.status is JobStatus.DISPUTED and self.dispute_ends is not None:
            return self.dispute_ends + timedelta(seconds=1)
        return None

    def settleable(self, now: datetime | int) -> bool:
        """Whether ``settle`` would pay the job out at chain time `now`."""
        at = self.settles_at
        moment = now if isinstance(now, datetime) else utc(now)
        return at is not None and moment >= at

    def stage(self, now: datetime | int) -> JobStage:
        """Where the job stands at chain time `now` (see :class:`JobStage`)."""
        moment = now if isinstance(now, datetime) else utc(now)
        if self.status is JobStatus.OPEN:
            late = self.accept_by is not None and moment > self.accept_by
            return JobStage.NOT_ACCEPTED if late else JobStage.TO_ACCEPT
        if self.status is JobStatus.ACCEPTED:
            return JobStage.EXPIRED if moment > self.deadline else JobStage.AWAITING_ATTESTATION
        if self.settleable(moment):
            return JobStage.SETTLEABLE
        if self.status is JobStatus.ATTESTED:
            return JobStage.IN_CHALLENGE
        if self.status is JobStatus.DISPUTED:
            return JobStage.DISPUTED
        return JobStage.ENDED


class ProviderStatus(_Model):
    """What a provider operator (or a dashboard) wants to know, in staking-token units."""

    address: str
    registered: bool
    jailed: bool
    jailed_for_downtime: bool = False  # the uptime SLA is suspended until unjail
    left: bool = False  # called leave: takes no new jobs
    active: bool
    staked: Decimal
    locked: Decimal
    free: Decimal
    unbonding: Decimal
    unbonding_end: datetime | None
    shortfall: Decimal = Decimal(0)  # uptime slash owed: blocks exits and new jobs until topped up
    sla_from: datetime | None = None  # the SLA applies to epochs starting from then
    left_at: datetime | None = None
    total_slashed: Decimal
    total_deposited: Decimal
    metadata_uri: str
    claimable: dict[str, Decimal]  # token symbol -> amount, escrow payments and slash proceeds


class Signature(_Model):
    """One oracle's EIP-712 signature (65 bytes, hex)."""

    signer: str
    signature: str
    #: The oracle configuration the statement was signed under (filled in by ``rails.oracle``):
    #: a statement left without one is relayed under this version, whatever the hub's is by then.
    config_version: int | None = None

    @field_validator("signer")
    @classmethod
    def _checksum(cls, v: str) -> str:
        return parse_address(v, "signer")

    @property
    def raw(self) -> bytes:
        return bytes.fromhex(self.signature.removeprefix("0x"))


ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def _version(config_version: int | None) -> int:
    if config_version is None:
        raise ValueError(
            "config_version is not set: sign and relay through rails.oracle, which fills in the hub's current one"
        )
    return config_version


class Attestation(_Model):
    """EIP-712 ``ComputeAttestation``: a quorum's statement about a job's result."""

    job_id: int
    provider: str
    success: bool
    units: int
    result_hash: str  # 0x-prefixed 32 bytes
    deadline: int  # unix seconds; the signatures are void afterwards
    #: The hub's oracle configuration version the signatures are made under. None: the current
    #: one, filled in by ``rails.oracle`` when signing and relaying.
    config_version: int | None = None

    @field_validator("provider")
    @classmethod
    def _checksum(cls, v: str) -> str:
        return parse_address(v, "provider")

    @field_validator("result_hash", mode="before")
    @classmethod
    def _hash(cls, v: Any) -> str:
        raw = bytes(v) if isinstance(v, (bytes, bytearray)) else bytes.fromhex(str(v).removeprefix("0x"))
        if len(raw) != 32:
            raise ValueError("result_hash must be 32 bytes")
        return "0x" + raw.hex()

    def as_tuple(self) -> tuple[Any, ...]:
        """The struct as the contract takes it.

        Raises:
            ValueError: ``config_version`` is not set (``rails.oracle`` fills it in).
        """
        return (
            self.job_id,
            self.provider,
            self.success,
            self.units,
            bytes.fromhex(self.result_hash[2:]),
            self.deadline,
            _version(self.config_version),
        )

    def digest(self, chain_id: int, hub_address: str) -> bytes:
        struct = eip712.attestation_struct_hash(*self.as_tuple())
        return eip712.typed_digest(eip712.domain_separator(chain_id, hub_address), struct)


class UptimeReport(_Model):
    """EIP-712 ``UptimeReport``: a quorum's statement of a provider's uptime in an ended epoch."""

    provider: str
    epoch: int
    uptime_bps: int
    #: Earns the relayer reward of any slash, whoever submits the report. The zero address
    #: names nobody: the whole slash goes to the treasury. Never the provider itself.
    relayer: str = ZERO_ADDRESS
    #: As in :class:`Attestation`.
    config_version: int | None = None

    @field_validator("provider", "relayer")
    @classmethod
    def _checksum(cls, v: str, info: ValidationInfo) -> str:
        return parse_address(v, str(info.field_name))

    @field_validator("uptime_bps")
    @classmethod
    def _bps(cls, v: int) -> int:
        if not 0 <= v <= 10_000:
            raise ValueError("uptime_bps must be within 0..10000")
        return v

    def as_tuple(self) -> tuple[Any, ...]:
        """The struct as the contract takes it.

        Raises:
            ValueError: ``config_version`` is not set (``rails.oracle`` fills it in).
        """
        return (self.provider, self.epoch, self.uptime_bps, self.relayer, _version(self.config_version))

    def digest(self, chain_id: int, hub_address: str) -> bytes:
        struct = eip712.uptime_report_struct_hash(*self.as_tuple())
        return eip712.typed_digest(eip712.domain_separator(chain_id, hub_address), struct)


#: Where a claimable balance sits (:attr:`Payout.source`): the job escrow (payments of settled
#: jobs, refunds, bonds, fees), the staking contract (slash proceeds, relayer rewards), the
#: MeteredEscrow (collected vouchers, their fees, fraud compensation).
CLAIM_SOURCES = ("escrow", "staking", "metered")
#: Every :attr:`Payout.source`: the claimable balances above, and "rewards", incentive emissions
#: the RewardsDistributor pays against a rewards file (``provider.claim_rewards(rewards=...)``).
PAYOUT_SOURCES = (*CLAIM_SOURCES, "rewards")


class Payout(_Model):
    """One withdrawal made by ``claim_rewards`` or ``withdraw``."""

    token: TokenInfo
    amount: Decimal
    tx_hash: str
    #: "escrow" (payments, refunds, fees), "staking" (slash proceeds), "metered" (vouchers) or
    #: "rewards" (incentive emissions): one of PAYOUT_SOURCES.
    source: str


class Settlement(_Model):
    """One job paid out by ``settle`` or ``settle_many``, from its JobSettled event (amounts in
    the payment token's units): ``gross = provider_net + fee``, ``gross + refund`` was the escrow."""

    job_id: int
    provider: str
    client: str
    token: TokenInfo
    gross: Decimal
    provider_net: Decimal
    fee: Decimal
    refund: Decimal
    tx_hash: str


class Dispute(_Model):
    """A disputed job waiting for the arbitrator: it can be resolved until ``dispute_ends``;
    after that it lapses and anyone can settle it (the attestation stands, the bond goes back)."""

    job_id: int
    client: str
    provider: str
    token: TokenInfo
    escrow: Decimal
    units: int
    max_units: int
    bond: Decimal  # posted by the client, payment-token units
    dispute_ends: datetime
    lapsed: bool  # past dispute_ends: no longer resolvable, settleable instead


class EpochWindow(_Model):
    """An uptime epoch: reports on it are accepted from ``end`` until ``report_deadline``."""

    epoch: int
    start: datetime
    end: datetime
    report_deadline: datetime


class Epochs(_Model):
    """The uptime clock: the epoch in progress and the ended epochs still open to reports
    (oldest first)."""

    now: datetime
    current: EpochWindow
    reportable: list[EpochWindow]


class UptimeOutcome(_Model):
    """What a relayed uptime report did, from the receipt's events (staking-token units)."""

    provider: str
    epoch: int
    uptime_bps: int
    relayer: str
    slash_requested: Decimal
    slashed: Decimal  # taken from free and unbonding stake
    shortfall: Decimal  # owed instead of taken from locked stake
    relayer_reward: Decimal
    jailed: bool  # this report jailed the provider
    token: TokenInfo
    tx_hash: str


# ───────────────────────── metered payments (issue 12) ─────────────────────────


class FraudOutcome(_Model):
    """What a relayed fraud attestation did (staking-token units): the provider's slash, the
    part of it taken from its collections' stake lock, the payer's share (claimable from
    ProviderStaking), and whether it jailed the provider."""

    provider: str
    payer: str
    receipt_digest: str
    request_index: int
    slashed: Decimal
    from_locked: Decimal
    payer_amount: Decimal
    jailed: bool  # this attestation jailed the provider (False if it already was)
    token: TokenInfo
    tx_hash: str


class EscrowAccount(_Model):
    """A payer's MeteredEscrow account for one provider and token (token units): collections
    draw on the whole ``balance``; ``thawing`` is withdrawable from ``thaw_end`` on."""

    payer: str
    provider: str
    token: TokenInfo
    balance: Decimal
    thawing: Decimal
    thaw_end: datetime | None  # None: no thaw running

    @classmethod
    def from_view(cls, payer: str, provider: str, token: TokenInfo, view: tuple[int, int, int]) -> EscrowAccount:
        """From the escrow's ``account(payer, provider, token)`` (balance, thawing, thawEnd)."""
        balance, thawing, thaw_end = view
        return cls(
            payer=payer,
            provider=provider,
            token=token,
            balance=from_raw(balance, token.decimals),
            thawing=from_raw(thawing, token.decimals),
            thaw_end=utc(thaw_end) if thaw_end else None,
        )


class SignerState(str, Enum):
    """Where a signer key stands in the MeteredEscrow (``signerInfo``)."""

    UNKNOWN = "unknown"  # never authorized by anyone
    AUTHORIZED = "authorized"
    THAWING = "thawing"  # its vouchers still pay; revocable from thaw_end on
    REVOKED = "revoked"  # final: its vouchers pay nothing


class SignerStatus(_Model):
    """A signer key and the one payer it signs for for life."""

    signer: str
    payer: str | None  # None: never authorized
    state: SignerState
    thaw_end: datetime | None

    @classmethod
    def from_view(cls, signer: str, payer: str, thaw_end: int, revoked: bool) -> SignerStatus:
        """From the escrow's ``signerInfo(signer)`` (payer, thawEnd, revoked)."""
        if int(payer, 16) == 0:
            return cls(signer=signer, payer=None, state=SignerState.UNKNOWN, thaw_end=None)
        state = SignerState.REVOKED if revoked else SignerState.THAWING if thaw_end else SignerState.AUTHORIZED
        return cls(signer=signer, payer=payer, state=state, thaw_end=utc(thaw_end) if thaw_end else None)


class Runway(_Model):
    """A payer's account against what its meters signed and the provider did not collect yet
    (token units): ``available = balance - outstanding``; negative means vouchers signed beyond
    the escrow, which the provider can only collect after a top-up."""

    account: EscrowAccount
    outstanding: Decimal
    available: Decimal
    collections: dict[str, Decimal]  # collection id -> its outstanding value


class VoucherPayment(_Model):
    """What one voucher paid, from its VoucherCollected event (token units): ``gross =
    provider_net + fee``; ``outstanding`` is what the voucher still promises beyond the escrow."""

    payer: str
    provider: str
    collection_id: str
    token: TokenInfo
    signer: str
    gross: Decimal
    provider_net: Decimal
    fee: Decimal
    collected: Decimal  # the collection's total so far
    outstanding: Decimal
    request_count: int
    tx_hash: str
