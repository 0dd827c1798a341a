"""What each dashboard page shows, as the JSON its endpoint returns (pydantic models, so FastAPI
documents them in the OpenAPI schema). Amounts are token units (``Decimal``, serialised as
strings so that no digit is lost), keyed by token symbol where several tokens can appear; times
are UTC datetimes of the block that recorded them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class IndexHead(_Model):
    """How far the index has read the chain."""

    chain_id: int
    block: int = Field(description="the last block the index holds")
    time: datetime | None = Field(description="that block's timestamp")


class DayActivity(_Model):
    day: date
    jobs: int = Field(description="jobs created that day")
    paid_requests: int = Field(description="metered requests paid by the vouchers collected that day")


class OracleSet(_Model):
    oracles: list[str]
    threshold: int
    config_version: int


class SlashTotals(_Model):
    kind: str = Field(description="collateral (a failed or disputed job), uptime (an SLA miss) or fraud")
    count: int
    amount: Decimal = Field(description="staking-token units")


class FlywheelPoint(_Model):
    """One reward epoch of the flywheel curve (:func:`computerails.indexer.flywheel.flywheel_series`)."""

    epoch: int
    start: datetime = Field(description="when the epoch began")
    subsidy: Decimal = Field(
        description="reward-token units the rewards roots distributed for this epoch (a root's total less the "
        "previous non-vetoed root's, split evenly over the epochs it added)"
    )
    fee_revenue: dict[str, Decimal] = Field(
        description="payment token -> what providers netted in this epoch (JobEscrow settlements and MeteredEscrow "
        "collections by block time)"
    )
    subsidy_share: float | None = Field(
        description="subsidy / (subsidy + fee revenue), in token units (reward and payment tokens 1:1); "
        "None for an epoch with neither"
    )


class NetworkPage(_Model):
    head: IndexHead
    escrow_tvl: dict[str, Decimal] = Field(
        description="payment token -> what JobEscrow and MeteredEscrow hold: job escrows, bonds, metered accounts and "
        "unwithdrawn payments"
    )
    stake_token: str = Field(description="the staking token's symbol: stake and slash amounts are in its units")
    stake_tvl: Decimal = Field(description="staked plus unbonding, staking-token units")
    staked: Decimal
    unbonding: Decimal
    jobs_total: int
    jobs_by_status: dict[str, int]
    paid_requests_total: int
    activity: list[DayActivity]
    fees: dict[str, Decimal] = Field(description="payment token -> protocol fees from settlements and vouchers")
    slashes: list[SlashTotals]
    providers_by_status: dict[str, int]
    providers: list[ProviderRow]
    oracle_set: OracleSet
    flywheel: list[FlywheelPoint] = Field(description="the flywheel curve by reward epoch (empty: no distributor)")


class ProviderRow(_Model):
    address: str
    status: str
    staked: Decimal
    jobs: int


class EarningPoint(_Model):
    time: datetime
    block: int
    tx_hash: str
    source: str = Field(description="job (a settlement) or metered (a voucher collection)")
    amount: Decimal = Field(description="what the provider netted, payment-token units")
    cumulative: Decimal


class UptimeEpoch(_Model):
    epoch: int
    uptime_bps: int
    slashed: Decimal = Field(description="staking-token units taken for this epoch")
    tx_hash: str


class SlashRow(_Model):
    kind: str
    amount: Decimal = Field(description="staking-token units")
    reason: str
    time: datetime
    block: int
    tx_hash: str
    job_id: int | None = None


class JobRow(_Model):
    id: int
    status: str
    client: str
    provider: str
    token: str
    escrow: Decimal
    created: datetime


class ProviderPage(_Model):
    head: IndexHead
    address: str
    status: str = Field(description="active, jailed or left")
    stake_token: str = Field(description="the staking token's symbol: stake and slash amounts are in its units")
    metadata_uri: str
    staked: Decimal
    locked: Decimal
    free: Decimal
    unbonding: Decimal
    unbonding_end: datetime | None
    total_slashed: Decimal
    earnings_total: dict[str, Decimal]
    earnings: list[EarningPoint]
    uptime: list[UptimeEpoch]
    slashes: list[SlashRow]
    jobs: list[JobRow]


class EscrowAccountRow(_Model):
    provider: str
    token: str
    balance: Decimal
    thawing: Decimal
    spent: Decimal = Field(description="what vouchers collected from this account so far")
    runway_days: float | None = Field(
        description="days the balance lasts at this account's average daily spend (None: nothing spent yet)"
    )


class ClientPage(_Model):
    head: IndexHead
    address: str
    spend: dict[str, Decimal] = Field(description="token -> paid for settled jobs and collected vouchers")
    refunds: dict[str, Decimal] = Field(description="token -> escrow returned from jobs")
    compensation: dict[str, Decimal] = Field(description="token -> the client's share of slashes")
    escrow_locked: dict[str, Decimal] = Field(description="token -> escrow of the client's jobs still open")
    open_jobs: list[JobRow]
    jobs: list[JobRow]
    accounts: list[EscrowAccountRow]


class Transition(_Model):
    event: str
    status: str = Field(description="the job's status after this event")
    time: datetime
    block: int
    tx_hash: str
    detail: str


class JobPage(_Model):
    head: IndexHead
    job: JobRow
    unit_price: Decimal
    max_units: int
    units: int
    deadline: datetime
    spec_hash: str
    timeline: list[Transition]


class TxEvent(_Model):
    contract: str
    event: str
    log_index: int
    args: dict[str, str]


class TxPage(_Model):
    head: IndexHead
    tx_hash: str
    block: int
    time: datetime
    events: list[TxEvent]


class RewardsRootRow(_Model):
    root: str
    status: str = Field(
        description="pending (vetoable until it activates), active (what claims use), superseded (active "
        "once, a later root replaced it) or vetoed"
    )
    total: Decimal = Field(description="reward-token units: the cumulative amounts of every account")
    through: int = Field(description="epochs covered: 0 .. through - 1")
    released: Decimal = Field(description="what the schedule had released through those epochs")
    activates_at: datetime
    vetoed_by: str | None
    veto_reason: str | None
    time: datetime
    block: int
    tx_hash: str


class Claimant(_Model):
    account: str
    recipient: str = Field(description="where its rewards are paid (the account itself unless it set one)")
    claimed: Decimal = Field(description="reward-token units paid so far")


class RewardsPage(_Model):
    head: IndexHead
    deployed: bool = Field(description="whether the indexed deployment has a RewardsDistributor")
    token: str = Field(description="the reward token's symbol: every amount on the page is in its units")
    genesis: datetime | None = Field(description="start of reward epoch 0")
    epoch_seconds: int | None
    funded: Decimal = Field(description="the reserve funded so far (what was claimed included)")
    distributed: Decimal = Field(description="the total of the latest root that was not vetoed")
    claimed: Decimal
    held: Decimal = Field(description="funded - claimed: what the distributor holds")
    roots: list[RewardsRootRow]
    top_claimants: list[Claimant]
    flywheel: list[FlywheelPoint]


class SearchResult(_Model):
    kind: str = Field(description="provider, client, job or tx")
    key: str
    url: str


class Problem(_Model):
    """Why a request failed (the 404 and 422 answers)."""

    detail: str


NetworkPage.model_rebuild()
RewardsPage.model_rebuild()
