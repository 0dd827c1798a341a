"""The index's relational schema (SQLAlchemy 2 Core), the same on SQLite and on PostgreSQL.

Conventions
-----------
* **Amounts** (every uint256) are stored as **78-digit zero-padded decimal text** (the
  :class:`Amount` column type; Python sees plain ``int``). SQLite has no exact 256-bit number
  (its NUMERIC affinity turns anything past 2**63 into a float), so text is the one storage that is
  exact and identical on both databases; zero padding keeps ``=``, ``<`` and ``ORDER BY`` right.
  To sum in SQL on PostgreSQL: ``CAST(col AS NUMERIC)``; on SQLite read the rows and sum in Python.
* **Addresses** are EIP-55 checksummed text (42 chars); **hashes and bytes** are lowercase
  ``0x`` hex; **times** are unix seconds (integers, as the chain has them).
* **When**: an event-derived row's time is its block's ``blocks.timestamp`` (join on
  ``block_number``: every block holding an indexed event is in ``blocks``).
* **Every event-derived row** carries ``block_number``, ``log_index`` and ``tx_hash``; its primary
  key is ``(block_number, log_index)`` (``(block_number, log_index, ...)`` where one event gives
  several rows). A reorg rollback is therefore "delete every row above the common ancestor" in
  each event-derived table, in one transaction.
* **Current-state tables** (``providers``, ``jobs``, ``escrow_accounts``, ``balances``,
  ``oracles``) are real tables, updated as events are applied, and *recomputed* after a rollback
  by replaying the remaining ``events`` rows (the raw log holds every decoded argument). Tables
  rather than SQL views: the state machines (stake after a slash, a dispute bond going to the
  provider or the client) are not expressible as portable SQL over both SQLite and PostgreSQL,
  and the dashboard reads them with a plain ``SELECT``. Reorgs are rare under confirmations, so
  the replay's cost is paid rarely.

Tables
------
Book-keeping
  ``meta``            key/value: schema and deployment identity (chain id, contract addresses),
                      the last indexed block (``cursor``).
  ``blocks``          number, hash, parent hash, timestamp of every block holding an indexed event
                      and of the cursor block (the last indexed): reorg detection (the next page's
                      first block must name the cursor block's hash as its parent).
Raw log
  ``events``          every decoded event: block, log index, tx hash, contract name and address,
                      event name, arguments as JSON (uint256 as decimal strings, bytes as hex).
Event-derived (one row per event, or per event and party)
  ``stake_movements`` ProviderStaking stake flow: registered, added, unbond requested/withdrawn,
                      collateral locked/released, shortfall paid; ``total`` is the running total the
                      event reports (staked, unbonding, locked, or the shortfall still owed), NULL
                      when it reports none.
  ``job_transitions`` every JobEscrow event about a job (and AttestationHub's AttestationSkipped),
                      with the job's status after it.
  ``attestations``    JobAttested: success, units, result hash, challenge end.
  ``disputes``        JobDisputed (bond, dispute end) and DisputeResolved (arbitrator, upheld).
  ``slashes``         every slash: ProviderSlashed, CollateralSlashed, FraudSlashed and UptimeReported
                      with a slash requested (``kind`` = event name; its ``amount`` is what was taken,
                      possibly 0 when only locked stake was left and the rest became shortfall).
                      An uptime slash appears twice by design (its UptimeReported row names the
                      epoch; the staking contract's ProviderSlashed row moves the stake): total
                      stake slashed is the sum over kinds other than ``UptimeReported``.
  ``uptime``          UptimeReported: provider, epoch, relayer, uptime (bps), slash requested/taken,
                      relayer reward; one row per provider per epoch.
  ``escrow_movements`` MeteredEscrow account flow: deposits, thaws started/cancelled, withdrawals.
  ``collections``     VoucherCollected: payer, provider, collection id, token, signer, gross, net,
                      fee, collected, outstanding, request count.
  ``fraud_attestations`` FraudPunished: provider, payer, receipt digest, request index.
  ``payouts``         Claimed (ProviderStaking, MeteredEscrow) and Withdrawn (JobEscrow): account,
                      token, amount.
  ``rewards_roots``   RewardsDistributor RootPosted: root, total, epochs covered (``through``),
                      released, fee average, activation time; a RootVetoed marks the latest row
                      of its root before it (``vetoed``, by whom, why, in which block: a rollback
                      below that block clears the mark). Keyed by the post's position: the same
                      root can be posted again after a veto.
  ``rewards_claims``  RewardsDistributor Claimed: account, recipient paid, amount, cumulative.
  ``rewards_funding`` RewardsDistributor Funded: funder, amount.
  ``governance_changes`` parameter-set events (fees, terms, windows, periods, min stake, ...),
                      treasury, payment tokens, pause, oracle add/remove/config, threshold, role
                      grants/revokes/admin changes, timelock scheduling/execution/cancel/delay, and
                      MeteredEscrow signer changes; the arguments as JSON.
Current state (recomputed from ``events`` after a rollback)
  ``providers``       per provider: staked (active, including locked), locked, free, unbonding,
                      unbonding end, shortfall, jailed flags, left, metadata URI, totals deposited
                      and slashed, the block it last changed.
  ``jobs``            one row per job from JobCreated, with its terms and its current status,
                      units, collateral and payout.
  ``escrow_accounts`` MeteredEscrow (payer, provider, token): balance, thawing, thaw end.
  ``balances``        claimable balances: (account, token, source) with source ``escrow``
                      (JobEscrow), ``staking`` (ProviderStaking slash proceeds), ``metered``
                      (MeteredEscrow provider earnings) or ``metered_fees`` (MeteredEscrow fees,
                      account the zero address: whoever is the treasury when it claims gets them).
  ``oracles``         the AttestationHub oracle set: address, whether active, since which block.
  ``rewards_accounts`` per RewardsDistributor account that claimed or set a recipient: what it was
                      paid in total (its cumulative amount) and where its rewards go.

``meta`` also holds the RewardsDistributor's immutables when the deployment has one (read once by
``eth_call`` when the indexer starts): ``rewards:genesis`` (start of epoch 0, unix seconds),
``rewards:epoch_length`` (seconds) and ``rewards:token`` (the reward token), so that readers can
map block times to reward epochs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

#: Width of a uint256 in decimal digits (2**256 - 1 has 78).
AMOUNT_DIGITS = 78


class Amount(TypeDecorator[int]):
    """A uint256 as 78-digit zero-padded decimal text (exact and sortable on every database)."""

    impl = String(AMOUNT_DIGITS)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        value = int(value)
        if value < 0 or value >= 1 << 256:
            raise ValueError(f"amount {value} is not a uint256")
        return str(value).zfill(AMOUNT_DIGITS)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


metadata = MetaData()

ADDRESS = 42
HASH = 66


def _where() -> list[Column[Any]]:
    """block_number, log_index, tx_hash: the primary key and provenance of an event-derived row."""
    return [
        Column("block_number", BigInteger, primary_key=True),
        Column("log_index", Integer, primary_key=True),
        Column("tx_hash", String(HASH), nullable=False),
    ]


meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

blocks = Table(
    "blocks",
    metadata,
    Column("number", BigInteger, primary_key=True),
    Column("hash", String(HASH), nullable=False),
    Column("parent_hash", String(HASH), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)

events = Table(
    "events",
    metadata,
    *_where(),
    Column("contract", String(32), nullable=False),  # JobEscrow, ProviderStaking, ...
    Column("address", String(ADDRESS), nullable=False),
    Column("event", String(64), nullable=False),
    Column("args", JSON, nullable=False),
    Index("ix_events_event", "event"),
)

stake_movements = Table(
    "stake_movements",
    metadata,
    *_where(),
    Column("provider", String(ADDRESS), nullable=False),
    Column("kind", String(32), nullable=False),  # the event name
    Column("amount", Amount, nullable=False),
    Column("total", Amount),  # staked / unbonding / locked after it, as the event reports; NULL if none
    Index("ix_stake_movements_provider", "provider"),
)

job_transitions = Table(
    "job_transitions",
    metadata,
    *_where(),
    Column("job_id", BigInteger, nullable=False),
    Column("event", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # the job's status after the event (JobStatus value)
    Column("actor", String(ADDRESS)),  # the party the event names (client, provider, arbitrator)
    Column("amount", Amount),  # the event's headline amount (escrow, collateral, bond, gross, refund)
    Index("ix_job_transitions_job", "job_id"),
)

attestations = Table(
    "attestations",
    metadata,
    *_where(),
    Column("job_id", BigInteger, nullable=False),
    Column("success", Boolean, nullable=False),
    Column("units", Amount, nullable=False),
    Column("result_hash", String(HASH), nullable=False),
    Column("challenge_ends", BigInteger, nullable=False),
    Index("ix_attestations_job", "job_id"),
)

disputes = Table(
    "disputes",
    metadata,
    *_where(),
    Column("job_id", BigInteger, nullable=False),
    Column("event", String(32), nullable=False),  # JobDisputed | DisputeResolved
    Column("party", String(ADDRESS), nullable=False),  # the client disputing, the arbitrator resolving
    Column("bond", Amount),  # JobDisputed
    Column("dispute_ends", BigInteger),  # JobDisputed
    Column("upheld", Boolean),  # DisputeResolved
    Index("ix_disputes_job", "job_id"),
)

slashes = Table(
    "slashes",
    metadata,
    *_where(),
    Column("kind", String(32), nullable=False),  # ProviderSlashed | CollateralSlashed | FraudSlashed | UptimeReported
    Column("provider", String(ADDRESS), nullable=False),
    Column("beneficiary", String(ADDRESS)),
    Column("amount", Amount, nullable=False),  # stake taken (UptimeReported: `slashed`)
    Column("requested", Amount),  # ProviderSlashed, UptimeReported
    Column("from_free", Amount),  # ProviderSlashed
    Column("from_unbonding", Amount),  # ProviderSlashed
    Column("from_locked", Amount),  # CollateralSlashed (all of it), FraudSlashed
    Column("deferred", Amount),  # ProviderSlashed: owed as shortfall
    Column("beneficiary_amount", Amount),
    Column("treasury_amount", Amount),
    Column("epoch", BigInteger),  # UptimeReported
    Index("ix_slashes_provider", "provider"),
)

uptime = Table(
    "uptime",
    metadata,
    *_where(),
    Column("provider", String(ADDRESS), nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("relayer", String(ADDRESS), nullable=False),
    Column("uptime_bps", Integer, nullable=False),
    Column("slash_requested", Amount, nullable=False),
    Column("slashed", Amount, nullable=False),
    Column("relayer_reward", Amount, nullable=False),
    UniqueConstraint("provider", "epoch", name="uq_uptime_provider_epoch"),
)

escrow_movements = Table(
    "escrow_movements",
    metadata,
    *_where(),
    # EscrowDeposited | EscrowThawStarted | EscrowThawCancelled | EscrowWithdrawn
    Column("kind", String(32), nullable=False),
    Column("payer", String(ADDRESS), nullable=False),
    Column("provider", String(ADDRESS), nullable=False),
    Column("token", String(ADDRESS), nullable=False),
    Column("funder", String(ADDRESS)),  # EscrowDeposited
    Column("amount", Amount),  # NULL for EscrowThawCancelled
    Column("balance", Amount),  # balance after (EscrowDeposited, EscrowWithdrawn)
    Column("thaw_end", BigInteger),  # EscrowThawStarted
    Index("ix_escrow_movements_account", "payer", "provider", "token"),
)

collections = Table(
    "collections",
    metadata,
    *_where(),
    Column("payer", String(ADDRESS), nullable=False),
    Column("provider", String(ADDRESS), nullable=False),
    Column("collection_id", String(HASH), nullable=False),
    Column("token", String(ADDRESS), nullable=False),
    Column("signer", String(ADDRESS), nullable=False),
    Column("gross", Amount, nullable=False),
    Column("provider_net", Amount, nullable=False),
    Column("fee", Amount, nullable=False),
    Column("collected", Amount, nullable=False),
    Column("outstanding", Amount, nullable=False),
    Column("request_count", Amount, nullable=False),
    Index("ix_collections_provider", "provider"),
)

fraud_attestations = Table(
    "fraud_attestations",
    metadata,
    *_where(),
    Column("provider", String(ADDRESS), nullable=False),
    Column("payer", String(ADDRESS), nullable=False),
    Column("receipt_digest", String(HASH), nullable=False),
    Column("request_index", Amount, nullable=False),
)

payouts = Table(
    "payouts",
    metadata,
    *_where(),
    Column("contract", String(32), nullable=False),  # ProviderStaking | MeteredEscrow | JobEscrow
    Column("event", String(32), nullable=False),  # Claimed | Withdrawn
    Column("account", String(ADDRESS), nullable=False),
    Column("token", String(ADDRESS), nullable=False),  # ProviderStaking: the staking token
    Column("amount", Amount, nullable=False),
    Index("ix_payouts_account", "account"),
)

governance_changes = Table(
    "governance_changes",
    metadata,
    *_where(),
    Column("contract", String(32), nullable=False),
    Column("event", String(64), nullable=False),
    Column("args", JSON, nullable=False),
)

rewards_roots = Table(
    "rewards_roots",
    metadata,
    *_where(),
    Column("root", String(HASH), nullable=False),
    Column("total", Amount, nullable=False),
    Column("through", BigInteger, nullable=False),  # epochs covered: 0 .. through - 1
    Column("released", Amount, nullable=False),
    Column("fee_average", Amount, nullable=False),
    Column("activates_at", BigInteger, nullable=False),
    Column("vetoed", Boolean, nullable=False),
    Column("vetoed_by", String(ADDRESS)),
    Column("veto_reason", Text),
    Column("vetoed_block", BigInteger),  # the RootVetoed's block (a rollback below it clears the veto)
    Index("ix_rewards_roots_root", "root"),
)

rewards_claims = Table(
    "rewards_claims",
    metadata,
    *_where(),
    Column("account", String(ADDRESS), nullable=False),
    Column("recipient", String(ADDRESS), nullable=False),
    Column("amount", Amount, nullable=False),
    Column("cumulative", Amount, nullable=False),
    Index("ix_rewards_claims_account", "account"),
)

rewards_funding = Table(
    "rewards_funding",
    metadata,
    *_where(),
    Column("funder", String(ADDRESS), nullable=False),
    Column("amount", Amount, nullable=False),
)

# ── current state ──

providers = Table(
    "providers",
    metadata,
    Column("address", String(ADDRESS), primary_key=True),
    Column("metadata_uri", Text, nullable=False),
    Column("staked", Amount, nullable=False),  # active stake, including locked
    Column("locked", Amount, nullable=False),
    Column("free", Amount, nullable=False),  # staked - locked
    Column("unbonding", Amount, nullable=False),
    Column("unbonding_end", BigInteger, nullable=False),
    Column("shortfall", Amount, nullable=False),
    Column("jailed", Boolean, nullable=False),
    Column("jailed_for_downtime", Boolean, nullable=False),
    Column("left", Boolean, nullable=False),
    Column("left_at", BigInteger, nullable=False),
    Column("sla_from", BigInteger, nullable=False),
    Column("total_deposited", Amount, nullable=False),
    Column("total_slashed", Amount, nullable=False),
    Column("registered_block", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("job_id", BigInteger, primary_key=True),
    Column("block_number", BigInteger, nullable=False),  # of its JobCreated
    Column("log_index", Integer, nullable=False),
    Column("tx_hash", String(HASH), nullable=False),
    Column("created_at", BigInteger, nullable=False),  # block timestamp
    Column("client", String(ADDRESS), nullable=False),
    Column("provider", String(ADDRESS), nullable=False),
    Column("token", String(ADDRESS), nullable=False),
    Column("unit_price", Amount, nullable=False),
    Column("max_units", Amount, nullable=False),
    Column("deadline", BigInteger, nullable=False),
    Column("accept_by", BigInteger, nullable=False),
    Column("fee_bps", Integer, nullable=False),
    Column("spec_hash", String(HASH), nullable=False),
    Column("status", String(16), nullable=False),  # JobStatus value: open, accepted, attested, ...
    Column("collateral", Amount, nullable=False),
    Column("units", Amount, nullable=False),
    Column("success", Boolean),
    Column("result_hash", String(HASH)),
    Column("dispute_bond", Amount, nullable=False),
    Column("gross", Amount, nullable=False),
    Column("provider_net", Amount, nullable=False),
    Column("fee", Amount, nullable=False),
    Column("refund", Amount, nullable=False),
    Column("collateral_slashed", Amount, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
    Column("bond_outstanding", Amount, nullable=False),  # a dispute bond the escrow still holds
    Index("ix_jobs_client", "client"),
    Index("ix_jobs_provider", "provider"),
)

escrow_accounts = Table(
    "escrow_accounts",
    metadata,
    Column("payer", String(ADDRESS), primary_key=True),
    Column("provider", String(ADDRESS), primary_key=True),
    Column("token", String(ADDRESS), primary_key=True),
    Column("balance", Amount, nullable=False),
    Column("thawing", Amount, nullable=False),
    Column("thaw_end", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
)

balances = Table(
    "balances",
    metadata,
    Column("account", String(ADDRESS), primary_key=True),
    Column("token", String(ADDRESS), primary_key=True),
    Column("source", String(16), primary_key=True),  # escrow | staking | metered
    Column("amount", Amount, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
)

oracles = Table(
    "oracles",
    metadata,
    Column("address", String(ADDRESS), primary_key=True),
    Column("active", Boolean, nullable=False),
    Column("since_block", BigInteger, nullable=False),
)

rewards_accounts = Table(
    "rewards_accounts",
    metadata,
    Column("account", String(ADDRESS), primary_key=True),
    Column("recipient", String(ADDRESS), nullable=False),  # the account itself unless it set one
    Column("claimed", Amount, nullable=False),  # its cumulative payout
    Column("updated_block", BigInteger, nullable=False),
)

#: Tables whose rows come from one event each (deleted above the ancestor on a rollback).
EVENT_TABLES = (
    events,
    stake_movements,
    job_transitions,
    attestations,
    disputes,
    slashes,
    uptime,
    escrow_movements,
    collections,
    fraud_attestations,
    payouts,
    governance_changes,
    rewards_roots,
    rewards_claims,
    rewards_funding,
)

#: Current-state tables (emptied and rebuilt from ``events`` after a rollback).
STATE_TABLES = (providers, jobs, escrow_accounts, balances, oracles, rewards_accounts)
