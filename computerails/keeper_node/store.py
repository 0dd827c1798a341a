"""The keeper's state on disk: one SQLite file, WAL, ``synchronous=FULL``, a transaction per
write (a write that returned is on disk).

- ``meta``: whom the file is for (keeper address, chain id, escrow: another is refused) and the
  cursor, ``last_block``: the last block whose ``JobCreated`` and ``JobAttested``
  events are in ``jobs`` (written in the same transaction as the jobs it brought), so a restart
  resumes after it instead of scanning from the deploy block again;
- ``jobs``: every job seen, with what the keeper needs to decide without reading the chain
  (parties, token, escrow, deadline, accept-by) and ``due_at``: the chain time from which
  something may be done to it (accept window over, deadline passed, challenge window over,
  dispute lapsed). A pass reads the chain only for jobs that are due; a job that ended (or that
  the keeper may never act on) has no ``due_at`` any more;
- ``txs``: the transaction journal. Every transaction the keeper signs is recorded with its
  hash, nonce, signed bytes, action and subject (the jobs, or ``provider/epoch`` of a report)
  *before* it is broadcast (``pending``), and its outcome once its receipt is seen (``mined``,
  ``reverted``, ``dropped``). After a crash the keeper looks every pending hash up (and
  broadcasts the journalled bytes again if the node never saw them) before it sends anything
  else, and a report journalled once is never relayed again.

Amounts wider than SQLite's signed 64-bit integers are zero-padded decimal text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert

from computerails.errors import AgentStateMismatch

_UINT128_DIGITS = 39
_UINT256_DIGITS = 78
PENDING = "pending"

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("job_id", Integer, primary_key=True),
    Column("client", String(42), nullable=False, index=True),
    Column("provider", String(42), nullable=False, index=True),
    Column("token", String(42), nullable=False),
    Column("escrow", String(_UINT256_DIGITS), nullable=False),  # raw token units: unit price × max units
    Column("deadline", Integer, nullable=False),
    Column("accept_by", Integer, nullable=False),
    Column("due_at", Integer, index=True),  # chain time from which the keeper may act; NULL: never
    Column("note", Text),  # why it is left alone (shown once in the log)
)

txs = Table(
    "txs",
    metadata,
    Column("tx_hash", String(66), primary_key=True),
    Column("nonce", Integer, nullable=False),
    Column("raw", LargeBinary, nullable=False),  # the signed transaction, to broadcast again after a crash
    Column("label", String(64), nullable=False),  # the SDK's label (settleMany, submitUptimeReport, ...)
    Column("action", String(16), nullable=False, index=True),  # settle | reclaim | cancel | relay | claim
    Column("subject", Text, nullable=False, index=True),  # JSON job ids, or "provider/epoch" of a report
    Column("status", String(16), nullable=False, index=True),  # pending | mined | reverted | dropped
    Column("created_at", Integer, nullable=False),
    Column("gas_cost", String(_UINT128_DIGITS)),  # wei: gasUsed × effectiveGasPrice
)


@dataclass(frozen=True)
class TrackedJob:
    """A job as the keeper recorded it from ``JobCreated`` (raw token units, unix seconds)."""

    job_id: int
    client: str
    provider: str
    token: str
    escrow: int
    deadline: int
    accept_by: int
    due_at: int | None
    note: str | None


@dataclass(frozen=True)
class JournalEntry:
    """One transaction the keeper signed."""

    tx_hash: str
    nonce: int
    raw: bytes
    label: str
    action: str
    subject: str
    status: str
    gas_cost: int | None


def report_subject(provider: str, epoch: int) -> str:
    """The journal's subject of an uptime report."""
    return f"{provider}/{epoch}"


def jobs_subject(job_ids: Sequence[int]) -> str:
    """The journal's subject of a transaction about jobs."""
    return json.dumps(list(job_ids))


def open_engine(path: Path) -> Engine:
    """A SQLAlchemy engine on the SQLite file `path` (its folder created), WAL and
    ``synchronous=FULL`` on every connection."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", _durable)
    return engine


def _durable(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


class KeeperStore:
    """The keeper's SQLite file.

    Args:
        path: the database file (its folder is created if missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.engine = open_engine(self.path)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def bind(self, identity: Mapping[str, str]) -> None:
        """Record who and where the file is for (keeper, chain id, escrow) on first use, and
        refuse it afterwards for anything else: its cursor and journal would not fit.

        Raises:
            AgentStateMismatch: the file was written for another keeper, chain or escrow.
        """
        with self.engine.begin() as conn:
            for key, value in identity.items():
                kept = conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar_one_or_none()
                if kept is None:
                    conn.execute(insert(meta).values(key=key, value=value))
                elif kept != value:
                    raise AgentStateMismatch(str(self.path), key, kept, value)

    # ── the cursor and the jobs ──

    def last_block(self) -> int | None:
        """The last block whose events were recorded (None before the first scan)."""
        with self.engine.connect() as conn:
            value = conn.execute(select(meta.c.value).where(meta.c.key == "last_block")).scalar_one_or_none()
        return None if value is None else int(value)

    def record_events(self, created: Iterable[TrackedJob], attested: dict[int, int], last_block: int) -> None:
        """Keep the jobs of one block range and move the cursor to its end, in one transaction.

        Args:
            created: jobs from ``JobCreated`` (``due_at`` their accept-by).
            attested: job id -> challenge end, from successful ``JobAttested`` (a failed one ends
                the job on chain: it is no longer due).
        """
        with self.engine.begin() as conn:
            for job in created:
                row = {
                    "job_id": job.job_id,
                    "client": job.client,
                    "provider": job.provider,
                    "token": job.token,
                    "escrow": str(job.escrow).zfill(_UINT256_DIGITS),
                    "deadline": job.deadline,
                    "accept_by": job.accept_by,
                    "due_at": job.due_at,
                }
                conn.execute(insert(jobs).values(row).on_conflict_do_nothing())
            for job_id, ends in attested.items():
                conn.execute(
                    update(jobs).where(jobs.c.job_id == job_id, jobs.c.due_at.is_not(None)).values(due_at=ends)
                )
            statement = insert(meta).values(key="last_block", value=str(last_block))
            conn.execute(statement.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": str(last_block)}))

    def due(self, now: int) -> list[TrackedJob]:
        """Jobs the keeper may act on at chain time `now`, oldest first."""
        query = select(jobs).where(jobs.c.due_at.is_not(None), jobs.c.due_at <= now).order_by(jobs.c.job_id)
        with self.engine.connect() as conn:
            return [_tracked(row) for row in conn.execute(query)]

    def job(self, job_id: int) -> TrackedJob | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).first()
        return None if row is None else _tracked(row)

    def set_due(self, job_id: int, due_at: int | None, note: str | None = None) -> None:
        """When the job is next due (None: never again), and why it is left alone if it is."""
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.job_id == job_id).values(due_at=due_at, note=note))

    def count_jobs(self, *, due: bool | None = None) -> int:
        query = select(jobs.c.job_id)
        if due is not None:
            query = query.where(jobs.c.due_at.is_not(None) if due else jobs.c.due_at.is_(None))
        with self.engine.connect() as conn:
            return len(conn.execute(query).all())

    # ── the transaction journal ──

    def journal_intent(self, tx_hash: str, nonce: int, raw: bytes, *, label: str, action: str, subject: str) -> None:
        """Record a transaction as pending, before it is broadcast (committed when this returns)."""
        row = {
            "tx_hash": tx_hash,
            "nonce": nonce,
            "raw": raw,
            "label": label,
            "action": action,
            "subject": subject,
            "status": PENDING,
            "created_at": int(time.time()),
        }
        with self.engine.begin() as conn:
            conn.execute(insert(txs).values(row).on_conflict_do_nothing())

    def pending(self) -> list[JournalEntry]:
        """Transactions whose outcome is not recorded yet, oldest nonce first."""
        return self._entries(txs.c.status == PENDING)

    def journal(self, action: str | None = None) -> list[JournalEntry]:
        """Every transaction recorded (of one action), oldest nonce first."""
        return self._entries(None if action is None else txs.c.action == action)

    def journalled(self, action: str, subject: str) -> list[JournalEntry]:
        """The transactions of `action` on `subject` that are pending or were mined."""
        return [
            e
            for e in self._entries((txs.c.action == action) & (txs.c.subject == subject))
            if e.status in (PENDING, "mined")
        ]

    def journal_outcome(self, tx_hash: str, status: str, gas_cost: int) -> bool:
        """Record a pending transaction's outcome.

        Returns:
            False when the entry was not pending any more.
        """
        with self.engine.begin() as conn:
            done = conn.execute(
                update(txs)
                .where(txs.c.tx_hash == tx_hash, txs.c.status == PENDING)
                .values(status=status, gas_cost=str(gas_cost).zfill(_UINT128_DIGITS))
            )
        return bool(done.rowcount)

    def _entries(self, where: Any) -> list[JournalEntry]:
        query = select(txs).order_by(txs.c.nonce, txs.c.created_at)
        if where is not None:
            query = query.where(where)
        with self.engine.connect() as conn:
            return [
                JournalEntry(
                    r.tx_hash,
                    r.nonce,
                    bytes(r.raw),
                    r.label,
                    r.action,
                    r.subject,
                    r.status,
                    None if r.gas_cost is None else int(r.gas_cost),
                )
                for r in conn.execute(query)
            ]


def _tracked(row: Any) -> TrackedJob:
    return TrackedJob(
        job_id=row.job_id,
        client=row.client,
        provider=row.provider,
        token=row.token,
        escrow=int(row.escrow),
        deadline=row.deadline,
        accept_by=row.accept_by,
        due_at=row.due_at,
        note=row.note,
    )
