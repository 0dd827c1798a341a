"""The provider agent's per-job work: watch ``JobCreated`` for our address, accept by policy,
compute, publish the result by CID, settle, claim. Unattended, and safe to ``kill -9``.

How it runs. :meth:`JobRunner.poll_once` is one pass of a reconcile loop; :meth:`JobRunner.run`
repeats it every ``interval`` seconds until a stop event is set. One pass:

1. **reconcile** jobs whose accept may be in flight (stage ``accepting``) with the chain;
2. **scan** new ``JobCreated`` events for our address from the block after the last one
   processed, in batches of ``log_batch`` blocks; each batch's jobs and the new cursor are
   written in one transaction;
3. **decide** for each ``seen`` job: fetch its spec, check it against the on-chain spec hash and
   the :class:`AcceptPolicy`; accept or refuse (a refusal sends nothing);
4. **compute** accepted jobs, store each result in the :class:`~computerails.agent.results.ResultStore`
   under its CID, and mark it published (the oracles recompute from spec and result, and attest
   ``result_hash = digest_of(cid)``);
5. **settle** our attested jobs whose challenge window closed (one ``settleMany``), and follow
   the chain for jobs that ended otherwise (failed, expired, cancelled);
6. **claim** every ``claim_interval``: withdraw each payment token whose claimable balance
   reaches the policy's minimum, so gas is only paid when the amount is worth it. Inside the
   agent the housekeeping claims instead (``claim_interval=None``; it prices the gas) and tells
   the runner through :meth:`JobRunner.note_withdrawn`.

State lives in SQLite (WAL, ``synchronous=FULL``, one transaction per decision): each job's
stage (:class:`RunStage`), the last block processed, when it last claimed. Every decision is
written before it is acted on. An accept is journalled twice before it leaves: the stage
``accepting`` first, then, from the SDK's ``on_signed`` hook, the signed transaction's hash and
nonce, before it is broadcast. After a crash the runner reads the chain for such a job: accepted
there → ``accepted``; otherwise, if the journalled transaction is still pending it waits; if it
reverted, was never broadcast, or its nonce went to another transaction, the job goes back to
``seen`` and is decided again. So it never sends a second accept while the first may still be
mined. Computing, storing by CID, settling (the escrow refuses a second settle, and the SDK
checks before sending) and claiming are idempotent.

Where specs come from. On chain a job carries only ``specHash`` (keccak-256 of the spec's
canonical bytes, :mod:`computerails.workloads`). The client publishes the bytes beside it; the
runner asks a :class:`SpecSource` for them by that hash and checks the keccak itself.
:class:`DirectorySpecSource` is the local implementation (tests, the demo, a shared folder): the
spec bytes stored by CID in a :class:`~computerails.agent.results.ResultStore` layout plus an index
``by-spec-hash/0x<keccak>`` holding the CID. An IPFS or HTTP source implements the same protocol.

A small command runs one runner from the shell: ``python -m computerails.agent.jobs --help``.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

import click
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

import computerails
from computerails import workloads
from computerails._sqlite import DurableSqlite
from computerails.agent.results import ResultStore
from computerails.content import digest_of
from computerails.errors import (
    AgentStateMismatch,
    ComputeRailsError,
    ContentError,
    ContractRevert,
    InvalidJobSpec,
    NoResult,
    PreconditionError,
    UnknownJobType,
)
from computerails.rails import ComputeRails
from computerails.types import Job, JobStatus, Payout
from computerails.vouchers import keccak256

log = logging.getLogger("computerails.agent.jobs")


class RunStage(str, Enum):
    """Where a job is in the runner's own pipeline (the chain's view is :class:`JobStatus`)."""

    SEEN = "seen"  # its JobCreated was read; nothing decided yet (or deciding again)
    ACCEPTING = "accepting"  # accept decided and journalled; its transaction may be in flight
    ACCEPTED = "accepted"  # accepted on chain; work not done yet
    COMPUTED = "computed"  # result computed and stored by CID
    PUBLISHED = "published"  # result offered to the oracles (result_for answers)
    SETTLED = "settled"  # paid out on chain (by us or anyone)
    CLAIMED = "claimed"  # its payment withdrawn to the provider's wallet
    REFUSED = "refused"  # the policy refused it: nothing was sent
    EXPIRED = "expired"  # ended unattested: accept window or deadline passed, or cancelled
    FAILED = "failed"  # a failure attestation, or the work itself failed here

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({RunStage.CLAIMED, RunStage.REFUSED, RunStage.EXPIRED, RunStage.FAILED})
#: Stages that hold the provider's collateral: what capacity counts.
_ACTIVE = (RunStage.ACCEPTING, RunStage.ACCEPTED, RunStage.COMPUTED, RunStage.PUBLISHED)


# ───────────────────────────── policy ─────────────────────────────


class AcceptPolicy(BaseModel):
    """What jobs the runner takes, and when it claims.

    Attributes:
        min_unit_price: the least price per unit accepted, per payment token (keyed by token
            address or symbol); jobs paid in a token not listed are refused.
        max_duration: the longest time from now to a job's deadline that it commits to.
        capacity: most jobs accepted and not yet settled at once (each locks collateral).
        kinds: job types it runs (default: every registered type).
        max_units: the most units of work one job may take (None: any the job pays for).
        claim_interval: how often it looks at its claimable balances; None: never (inside the
            agent, the housekeeping claims and calls :meth:`JobRunner.note_withdrawn`).
        min_claim: the least claimable amount worth a withdrawal's gas, per token (address or
            symbol); tokens not listed are withdrawn at any positive balance.
    """

    model_config = ConfigDict(frozen=True)

    min_unit_price: dict[str, Decimal]
    max_duration: timedelta = Field(gt=timedelta(0))
    capacity: int = Field(ge=1)
    kinds: frozenset[str] = frozenset(workloads.JOB_TYPES)
    max_units: int | None = Field(None, ge=1)
    claim_interval: timedelta | None = timedelta(hours=1)
    min_claim: dict[str, Decimal] = {}

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = sorted(value - set(workloads.JOB_TYPES))
        if unknown:
            raise ValueError(f"unknown job types {unknown}; known: {list(workloads.JOB_TYPES)}")
        return value

    def price_floor(self, job: Job) -> Decimal | None:
        """The minimum unit price for the job's token, or None when the token is not accepted."""
        return by_token(self.min_unit_price, job.token.address, job.token.symbol)

    def claim_floor(self, address: str, symbol: str) -> Decimal:
        return by_token(self.min_claim, address, symbol) or Decimal(0)


def by_token(table: Mapping[str, Decimal], address: str, symbol: str) -> Decimal | None:
    lowered = {k.lower(): v for k, v in table.items()}
    found = lowered.get(address.lower())
    return found if found is not None else lowered.get(symbol.lower())


@dataclass(frozen=True)
class Refusal:
    """Why the policy refused a job (nothing is sent for it).

    Attributes:
        reason: ``price``, ``duration``, ``kind``, ``units``, ``size``, ``spec`` or ``capacity``.
        detail: one line for the log.
        final: False for ``capacity``, which may free up before the accept window closes.
    """

    reason: str
    detail: str
    final: bool = True


def check_policy(policy: AcceptPolicy, job: Job, spec: workloads.Spec, active: int, now: int) -> Refusal | None:
    """The policy's verdict on an open job whose spec was fetched and validated; None accepts.

    Args:
        policy: the rules.
        job: the job's on-chain state.
        spec: its validated spec.
        active: jobs the runner holds now (accepting .. published).
        now: chain time (unix seconds).
    """
    if spec["kind"] not in policy.kinds:
        return Refusal("kind", f"job type {spec['kind']} is not run here ({', '.join(sorted(policy.kinds))})")
    floor = policy.price_floor(job)
    if floor is None:
        return Refusal("price", f"payment token {job.token.symbol} ({job.token.address}) is not accepted")
    if job.unit_price < floor:
        return Refusal("price", f"{job.unit_price} {job.token.symbol} per unit is below {floor}")
    left = int(job.deadline.timestamp()) - now
    if left > policy.max_duration.total_seconds():
        return Refusal("duration", f"deadline in {timedelta(seconds=left)}, more than {policy.max_duration}")
    units = workloads.units_of(spec)
    if units > job.max_units:
        return Refusal("units", f"the work is {units} units, the job pays at most {job.max_units}")
    if policy.max_units is not None and units > policy.max_units:
        return Refusal("size", f"the work is {units} units, more than the {policy.max_units} run here")
    if active >= policy.capacity:
        return Refusal("capacity", f"{active} jobs running, capacity {policy.capacity}", final=False)
    return None


# ───────────────────────────── specs ─────────────────────────────


class SpecSource(Protocol):
    """Where the runner fetches a job's spec bytes from, by the spec hash on chain."""

    def fetch(self, spec_hash: bytes) -> bytes | None:
        """The published bytes whose keccak-256 is `spec_hash`, or None if not (yet) published.
        The runner checks the hash itself; a source need not be trusted."""
        ...


class DirectorySpecSource:
    """Specs published in a local directory: bytes by CID (a :class:`ResultStore` layout) and
    an index file ``by-spec-hash/0x<keccak hex>`` holding each spec's CID.

    A client (or the demo) publishes with :meth:`publish`; the runner reads with :meth:`fetch`.

    Args:
        directory: the folder (created if missing).
    """

    def __init__(self, directory: str | Path) -> None:
        self.store = ResultStore(directory)
        self.index = Path(directory) / "by-spec-hash"
        self.index.mkdir(parents=True, exist_ok=True)

    def publish(self, spec: Mapping[str, Any]) -> tuple[bytes, str]:
        """Store a spec's canonical bytes; return its spec hash (for ``create_job``) and CID.

        Raises:
            InvalidJobSpec, UnknownJobType: see :func:`computerails.workloads.validate`.
        """
        return self.publish_raw(workloads.spec_bytes(spec))

    def publish_raw(self, raw: bytes) -> tuple[bytes, str]:
        """Store spec bytes as received, unvalidated (a relay of what clients sent: the runner
        validates what it fetches); return their keccak-256 and CID."""
        cid = self.store.put(raw)
        spec_hash = keccak256(raw)
        entry = self.index / ("0x" + spec_hash.hex())
        if not entry.exists():
            temporary = entry.with_suffix(".part")
            temporary.write_text(cid)
            temporary.replace(entry)
        return spec_hash, cid

    def fetch(self, spec_hash: bytes) -> bytes | None:
        entry = self.index / ("0x" + spec_hash.hex())
        try:
            cid = entry.read_text().strip()
        except FileNotFoundError:
            return None
        try:
            return self.store.get(cid)
        except ContentError as e:  # not there, or changed on disk: not published as far as we know
            log.warning("spec 0x%s: %s", spec_hash.hex(), e)
            return None


# ───────────────────────────── state ─────────────────────────────


@dataclass(frozen=True)
class TrackedJob:
    """A job as the runner's journal has it.

    Attributes:
        job_id: the escrow's id.
        stage: the runner's stage.
        spec_hash: ``0x`` and the keccak of its spec, from JobCreated.
        token: the payment token's address.
        kind: the spec's job type, once fetched.
        spec_cid: the spec's CID, once fetched.
        result_cid: the result's CID, once computed.
        accept_tx: the accept transaction's hash, once signed.
        accept_nonce: its nonce.
        reason: why it was refused, failed or expired.
        block: the block of its JobCreated.
    """

    job_id: int
    stage: RunStage
    spec_hash: str
    token: str
    kind: str | None
    spec_cid: str | None
    result_cid: str | None
    accept_tx: str | None
    accept_nonce: int | None
    reason: str | None
    block: int


@dataclass
class PollReport:
    """What one :meth:`JobRunner.poll_once` did (job ids per action)."""

    from_block: int = 0
    to_block: int = -1
    seen: list[int] = field(default_factory=list)
    accepted: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    published: list[int] = field(default_factory=list)
    settled: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)  # expired, failed or cancelled on chain
    payouts: list[Payout] = field(default_factory=list)


SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    job_id INTEGER PRIMARY KEY,
    stage TEXT NOT NULL,
    spec_hash TEXT NOT NULL,
    token TEXT NOT NULL,
    block INTEGER NOT NULL,
    kind TEXT,
    spec_cid TEXT,
    result_cid TEXT,
    accept_tx TEXT,
    accept_nonce INTEGER,
    settle_tx TEXT,
    reason TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_stage ON jobs (stage);
CREATE TABLE IF NOT EXISTS transitions (
    job_id INTEGER NOT NULL,
    stage TEXT NOT NULL,
    detail TEXT,
    at REAL NOT NULL
);
"""

_COLUMNS = "job_id, stage, spec_hash, token, kind, spec_cid, result_cid, accept_tx, accept_nonce, reason, block"


class JobJournal:
    """The runner's SQLite state: jobs and their stage, the cursor, the claim clock.

    One connection guarded by a lock (the HTTP service may read from other threads). WAL and
    ``synchronous=FULL``: a committed write survives a crash or power cut.

    Args:
        path: the database file.
        identity: provider, chain id and escrow of this runner: recorded on first use and
            checked on every open (:class:`~computerails.errors.AgentStateMismatch`).
    """

    def __init__(self, path: str | Path, identity: Mapping[str, str]) -> None:
        self._file = DurableSqlite(path, SCHEMA, timeout=30)
        self.path = self._file.path
        self._db, self._lock = self._file.connection, self._file.lock
        with self.transaction() as db:
            for key, value in identity.items():
                row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
                if row is None:
                    db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
                elif row[0] != value:
                    raise AgentStateMismatch(str(self.path), key, row[0], value)

    def close(self) -> None:
        self._file.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` .. ``COMMIT`` (``ROLLBACK`` on error), under the lock."""
        with self._file.transaction() as db:
            yield db

    # ── meta ──
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # ── jobs ──
    def job(self, job_id: int) -> TrackedJob | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else _tracked(row)

    def in_stage(self, *stages: RunStage) -> list[TrackedJob]:
        marks = ", ".join("?" for _ in stages)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE stage IN ({marks}) ORDER BY job_id", [s.value for s in stages]
            ).fetchall()
        return [_tracked(r) for r in rows]

    def all(self) -> list[TrackedJob]:
        return self.in_stage(*RunStage)

    def count(self, *stages: RunStage) -> int:
        marks = ", ".join("?" for _ in stages)
        with self._lock:
            row = self._db.execute(
                f"SELECT COUNT(*) FROM jobs WHERE stage IN ({marks})", [s.value for s in stages]
            ).fetchone()
        return int(row[0])

    @staticmethod
    def insert_seen(db: sqlite3.Connection, job_id: int, spec_hash: str, token: str, block: int) -> bool:
        """Record a newly seen job; False if it was already known."""
        cursor = db.execute(
            "INSERT OR IGNORE INTO jobs (job_id, stage, spec_hash, token, block, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (job_id, RunStage.SEEN.value, spec_hash, token, block, time.time()),
        )
        if cursor.rowcount:
            db.execute(
                "INSERT INTO transitions (job_id, stage, detail, at) VALUES (?, ?, ?, ?)",
                (job_id, RunStage.SEEN.value, f"JobCreated in block {block}", time.time()),
            )
        return bool(cursor.rowcount)

    def move(self, job_id: int, stage: RunStage, detail: str | None = None, **columns: Any) -> None:
        """Set a job's stage (and other columns) in its own committed transaction."""
        with self.transaction() as db:
            self.move_in(db, job_id, stage, detail, **columns)

    @staticmethod
    def move_in(
        db: sqlite3.Connection, job_id: int, stage: RunStage, detail: str | None = None, **columns: Any
    ) -> None:
        sets = ", ".join(f"{name} = ?" for name in columns)
        values = list(columns.values())
        db.execute(
            f"UPDATE jobs SET stage = ?, updated_at = ?{', ' + sets if sets else ''} WHERE job_id = ?",
            [stage.value, time.time(), *values, job_id],
        )
        db.execute(
            "INSERT INTO transitions (job_id, stage, detail, at) VALUES (?, ?, ?, ?)",
            (job_id, stage.value, detail, time.time()),
        )

    def transitions(self, job_id: int) -> list[tuple[str, str | None]]:
        """A job's stages in order, with their details (for audits and tests)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT stage, detail FROM transitions WHERE job_id = ? ORDER BY rowid", (job_id,)
            ).fetchall()
        return [(str(stage), detail) for stage, detail in rows]


def _tracked(row: Sequence[Any]) -> TrackedJob:
    job_id, stage, spec_hash, token, kind, spec_cid, result_cid, accept_tx, nonce, reason, block = row
    return TrackedJob(
        job_id=int(job_id),
        stage=RunStage(stage),
        spec_hash=spec_hash,
        token=token,
        kind=kind,
        spec_cid=spec_cid,
        result_cid=result_cid,
        accept_tx=accept_tx,
        accept_nonce=None if nonce is None else int(nonce),
        reason=reason,
        block=int(block),
    )


# ───────────────────────────── the runner ─────────────────────────────


@dataclass(frozen=True)
class PublishedResult:
    """What an oracle needs to verify a job: the spec and result by CID, and the on-chain
    result hash a success attestation must carry."""

    job_id: int
    spec_cid: str
    result_cid: str
    result_hash: bytes
    units: int


class JobRunner:
    """Runs a provider's per-job work unattended (see the module docstring).

    Args:
        rails: a connection signing as the provider (``computerails.connect(..., account=key)``).
        store_path: the SQLite state file.
        results: where results are stored by CID (the HTTP service serves them from there).
        policy: what to accept and when to claim.
        specs: where spec bytes are fetched from by spec hash.
        start_block: the first block to scan on a fresh state file (default: the deployment's).
        log_batch: blocks per ``eth_getLogs`` request.
        confirmations: blocks a JobCreated must be buried under before it is read (0 on a
            devnet; a few on a chain that reorganizes).
        on_published: called with each result once it is stored (e.g. to notify oracles); at
            least once per job: if it raises, the next pass calls it again.
    """

    def __init__(
        self,
        rails: ComputeRails,
        store_path: str | Path,
        results: ResultStore,
        policy: AcceptPolicy,
        specs: SpecSource,
        *,
        start_block: int | None = None,
        log_batch: int = 2_000,
        confirmations: int = 0,
        on_published: Callable[[PublishedResult], None] | None = None,
    ) -> None:
        if log_batch < 1 or confirmations < 0:
            raise PreconditionError("log_batch must be at least 1 and confirmations at least 0")
        self.rails = rails
        self.address = rails.address  # raises NoAccount on a read-only connection
        self.results = results
        self.policy = policy
        self.specs = specs
        self.log_batch = log_batch
        self.confirmations = confirmations
        self.on_published = on_published
        self._waiting: dict[int, str] = {}  # job id -> why it waits, as last logged
        self.journal = JobJournal(
            store_path,
            {"provider": self.address, "chain_id": str(rails.chain_id), "escrow": rails.escrow.address},
        )
        if self.journal.get_meta("last_block") is None:
            first = rails.deployment.deploy_block if start_block is None else start_block
            with self.journal.transaction() as db:
                JobJournal.set_meta(db, "last_block", str(first - 1))

    def close(self) -> None:
        self.journal.close()

    # ── what the HTTP service and oracles read ──
    def result_for(self, job_id: int) -> str:
        """The CID of a job's published result (fetch the bytes from :attr:`results`).

        Raises:
            NoResult: the job is unknown here or its result is not published yet.
        """
        return self.published(job_id).result_cid

    def published(self, job_id: int) -> PublishedResult:
        """Everything an oracle needs to verify a job's result.

        Raises:
            NoResult: the job is unknown here or its result is not published yet.
        """
        tracked = self.journal.job(job_id)
        done = (RunStage.PUBLISHED, RunStage.SETTLED, RunStage.CLAIMED)
        if tracked is None or tracked.stage not in done or not tracked.result_cid or not tracked.spec_cid:
            raise NoResult(job_id, None if tracked is None else tracked.stage.value)
        return self._publication(job_id, tracked.spec_cid, tracked.result_cid)

    def jobs(self) -> list[TrackedJob]:
        """Every job the runner has seen, by id."""
        return self.journal.all()

    def counts(self) -> dict[RunStage, int]:
        """Jobs per stage (every stage listed, zeros included): for metrics and health."""
        found: dict[RunStage, int] = {}
        for tracked in self.journal.all():
            found[tracked.stage] = found.get(tracked.stage, 0) + 1
        return {stage: found.get(stage, 0) for stage in RunStage}

    @property
    def last_block(self) -> int:
        """The last block whose JobCreated events are recorded."""
        return int(self.journal.get_meta("last_block") or -1)

    # ── the loop ──
    def run(self, stop: threading.Event, interval: float = 2.0) -> None:
        """Poll every `interval` seconds until `stop` is set. An error in one pass is logged and
        the next pass goes on (the journal holds what was done); the stop event also ends the
        wait between passes at once."""
        while not stop.is_set():
            try:
                self.poll_once()
            except ComputeRailsError as e:  # a revert, a timeout: the next pass reconciles
                log.warning("poll failed: %s", e)
            except Exception:  # the node unreachable, or a bug: logged in full, the loop goes on
                log.exception("poll failed")
            stop.wait(interval)

    def poll_once(self) -> PollReport:
        """One pass: reconcile, scan, decide, compute, settle, claim (see the module docstring)."""
        report = PollReport()
        self._reconcile_accepting()
        self._scan(report)
        self._decide(report)
        self._compute(report)
        self._follow_chain(report)
        self._claim(report)
        return report

    # ── 1. accepts that may be in flight ──
    def _reconcile_accepting(self) -> None:
        pending = self.journal.in_stage(RunStage.ACCEPTING)
        if not pending:
            return
        jobs = self._chain_jobs([t.job_id for t in pending])
        w3 = self.rails.w3
        mined_nonce = w3.eth.get_transaction_count(self.address, "latest")  # type: ignore[arg-type]
        for tracked in pending:
            job = jobs[tracked.job_id]
            if job.status is not JobStatus.OPEN:
                self._after_accept(tracked.job_id, job, "found accepted on chain after a restart")
                continue
            if tracked.accept_tx is None:  # never signed, so never broadcast
                self.journal.move(tracked.job_id, RunStage.SEEN, "accept was never broadcast: deciding again")
                continue
            receipt = _maybe_receipt(w3, tracked.accept_tx)
            if receipt is None and tracked.accept_nonce is not None and mined_nonce <= tracked.accept_nonce:
                if _known(w3, tracked.accept_tx):
                    log.info("job %s: accept %s still pending", tracked.job_id, tracked.accept_tx)
                    continue  # in the pool: wait for it, never send another
            why = "reverted" if receipt is not None else "was dropped (its nonce unused or used by another)"
            self.journal.move(tracked.job_id, RunStage.SEEN, f"accept {tracked.accept_tx} {why}: deciding again")

    def _after_accept(self, job_id: int, job: Job, detail: str) -> None:
        if job.status in (JobStatus.ACCEPTED, JobStatus.ATTESTED, JobStatus.DISPUTED, JobStatus.SETTLED):
            self.journal.move(job_id, RunStage.ACCEPTED, detail)
        else:
            self.journal.move(job_id, RunStage.EXPIRED, f"{detail}: the job is {job.status.value}")

    # ── 2. new jobs ──
    def _scan(self, report: PollReport) -> None:
        head = int(self.rails.w3.eth.block_number) - self.confirmations
        start = self.last_block + 1
        report.from_block, report.to_block = start, head
        event = self.rails.escrow.events.JobCreated()
        for low in range(start, head + 1, self.log_batch):
            high = min(head, low + self.log_batch - 1)
            logs = event.get_logs(from_block=low, to_block=high, argument_filters={"provider": self.address})
            with self.journal.transaction() as db:
                for entry in logs:
                    args = entry["args"]
                    spec_hash = "0x" + bytes(args["specHash"]).hex()
                    if JobJournal.insert_seen(db, int(args["jobId"]), spec_hash, args["token"], entry["blockNumber"]):
                        report.seen.append(int(args["jobId"]))
                JobJournal.set_meta(db, "last_block", str(high))

    # ── 3. accept or refuse ──
    def _decide(self, report: PollReport) -> None:
        seen = self.journal.in_stage(RunStage.SEEN)
        if not seen:
            return
        now = self.rails.now()
        jobs = self._chain_jobs([t.job_id for t in seen])
        for tracked in seen:
            job = jobs[tracked.job_id]
            if job.status is not JobStatus.OPEN:
                self._after_accept(tracked.job_id, job, f"the job is {job.status.value} on chain")
                continue
            if job.accept_by is not None and now > int(job.accept_by.timestamp()):
                self.journal.move(tracked.job_id, RunStage.EXPIRED, "accept window closed", reason="accept window")
                continue
            spec = self._spec(tracked)
            if isinstance(spec, Refusal):
                if spec.final:
                    self._refuse(tracked.job_id, spec, report)
                continue
            refusal = check_policy(self.policy, job, spec, self.journal.count(*_ACTIVE), now)
            if refusal is not None:
                if refusal.final:
                    self._refuse(tracked.job_id, refusal, report)
                else:
                    self._log_wait(tracked.job_id, refusal.detail)
                continue
            self._accept(tracked.job_id, report)

    def _log_wait(self, job_id: int, why: str) -> None:
        """Log why a job waits once, and again only when the reason changes (not every pass)."""
        if self._waiting.get(job_id) != why:
            self._waiting[job_id] = why
            log.info("job %s waits: %s", job_id, why)

    def _spec(self, tracked: TrackedJob) -> workloads.Spec | Refusal:
        """The job's spec, fetched, hash-checked and validated; kept beside the results."""
        expected = bytes.fromhex(tracked.spec_hash[2:])
        raw = self.specs.fetch(expected)
        if raw is None:
            self._log_wait(tracked.job_id, f"spec {tracked.spec_hash} not published yet")
            return Refusal("spec", "spec not published yet", final=False)
        if keccak256(raw) != expected:
            return Refusal("spec", "the published bytes do not hash to the job's spec hash")
        try:
            spec = workloads.parse_spec(raw)
        except InvalidJobSpec as e:
            return Refusal("kind" if isinstance(e, UnknownJobType) else "spec", str(e))
        if tracked.spec_cid is None:  # kept beside the results, where the oracles fetch it
            cid = self.results.put(raw)
            self.journal.move(tracked.job_id, tracked.stage, "spec fetched", kind=spec["kind"], spec_cid=cid)
        return spec

    def _refuse(self, job_id: int, refusal: Refusal, report: PollReport) -> None:
        self._waiting.pop(job_id, None)
        log.info("job %s refused (%s): %s", job_id, refusal.reason, refusal.detail)
        self.journal.move(job_id, RunStage.REFUSED, refusal.detail, reason=refusal.reason)
        report.refused.append(job_id)

    def _accept(self, job_id: int, report: PollReport) -> None:
        self._waiting.pop(job_id, None)
        self.journal.move(job_id, RunStage.ACCEPTING, "accept decided")

        def journal_signed(tx_hash: str, nonce: int) -> None:
            self.journal.move(job_id, RunStage.ACCEPTING, "accept signed", accept_tx=tx_hash, accept_nonce=nonce)

        try:
            job = self.rails.provider.accept(job_id, on_signed=journal_signed)
        except (PreconditionError, ContractRevert) as e:  # refused or reverted in simulation: nothing sent
            self.journal.move(job_id, RunStage.SEEN, f"accept not sent: {e}")
            log.warning("job %s: accept not sent: %s", job_id, e)
            return
        self._after_accept(job_id, job, "accepted")
        report.accepted.append(job_id)

    # ── 4. compute and publish ──
    def _compute(self, report: PollReport) -> None:
        for tracked in self.journal.in_stage(RunStage.ACCEPTED, RunStage.COMPUTED):
            if tracked.spec_cid is None:  # accepted without its spec on file (by hand, or an older state)
                spec = self._spec(tracked)
                if isinstance(spec, Refusal):
                    if spec.final:
                        self.journal.move(tracked.job_id, RunStage.FAILED, spec.detail, reason="spec")
                    continue
                tracked = self.journal.job(tracked.job_id) or tracked
                assert tracked.spec_cid is not None
            result_cid = tracked.result_cid
            if tracked.stage is RunStage.ACCEPTED or result_cid is None:
                try:
                    result = workloads.compute(workloads.parse_spec(self.results.get(tracked.spec_cid)))
                except (ComputeRailsError, ArithmeticError, MemoryError) as e:
                    self.journal.move(tracked.job_id, RunStage.FAILED, f"compute failed: {e}", reason="compute")
                    continue
                result_cid = self.results.put(result)
                self.journal.move(tracked.job_id, RunStage.COMPUTED, "result stored", result_cid=result_cid)
            if self.on_published is not None:
                self.on_published(self._publication(tracked.job_id, tracked.spec_cid, result_cid))
            self.journal.move(tracked.job_id, RunStage.PUBLISHED, f"result {result_cid}")
            report.published.append(tracked.job_id)

    def _publication(self, job_id: int, spec_cid: str, result_cid: str) -> PublishedResult:
        spec = workloads.parse_spec(self.results.get(spec_cid))
        return PublishedResult(job_id, spec_cid, result_cid, digest_of(result_cid), workloads.units_of(spec))

    # ── 5. settle and follow the chain ──
    def _follow_chain(self, report: PollReport) -> None:
        live = self.journal.in_stage(RunStage.PUBLISHED, RunStage.ACCEPTED, RunStage.COMPUTED)
        if not live:
            return
        now = self.rails.now()
        jobs = self._chain_jobs([t.job_id for t in live])
        ready: list[int] = []
        for tracked in live:
            job = jobs[tracked.job_id]
            if job.status is JobStatus.SETTLED:
                self.journal.move(tracked.job_id, RunStage.SETTLED, "settled on chain")
                report.settled.append(tracked.job_id)
            elif job.status is JobStatus.FAILED:
                self.journal.move(tracked.job_id, RunStage.FAILED, "failure attestation", reason="attested failure")
                report.ended.append(tracked.job_id)
            elif job.status in (JobStatus.EXPIRED, JobStatus.CANCELLED):
                self.journal.move(tracked.job_id, RunStage.EXPIRED, f"{job.status.value} on chain", reason="chain")
                report.ended.append(tracked.job_id)
            elif job.status is JobStatus.ACCEPTED and now > int(job.deadline.timestamp()):
                self.journal.move(tracked.job_id, RunStage.EXPIRED, "deadline passed unattested", reason="deadline")
                report.ended.append(tracked.job_id)
            elif tracked.stage is RunStage.PUBLISHED and job.settleable(now):
                ready.append(tracked.job_id)
        if ready:
            for settlement in self.rails.keeper.settle_many(ready):
                self.journal.move(
                    settlement.job_id,
                    RunStage.SETTLED,
                    f"settled by us: {settlement.provider_net} {settlement.token.symbol} net",
                    settle_tx=settlement.tx_hash,
                )
                report.settled.append(settlement.job_id)

    # ── 6. claim ──
    def _claim(self, report: PollReport) -> None:
        if self.policy.claim_interval is None:
            return
        now = time.time()
        last = float(self.journal.get_meta("last_claim_at") or 0)
        if now - last < self.policy.claim_interval.total_seconds():
            return
        claimable = self.rails.views.claimable_raw(self.address)
        for token, parts in claimable.items():
            raw = parts.get("escrow", 0)
            if not raw:
                continue
            amount = Decimal(raw) / Decimal(10**token.decimals)
            if amount < self.policy.claim_floor(token.address, token.symbol):
                continue
            payout = self.rails.client.withdraw(token.address)
            report.payouts.append(payout)
            self.note_withdrawn(token.address, payout.tx_hash)
        with self.journal.transaction() as db:
            JobJournal.set_meta(db, "last_claim_at", repr(now))

    def note_withdrawn(self, token: str, tx_hash: str) -> list[int]:
        """Someone withdrew the provider's escrow balance of `token`: its settled jobs paid in
        that token are claimed. Returns their ids."""
        moved = []
        with self.journal.transaction() as db:
            for tracked in self.journal.in_stage(RunStage.SETTLED):
                if tracked.token.lower() == token.lower():
                    JobJournal.move_in(db, tracked.job_id, RunStage.CLAIMED, f"withdrawn in {tx_hash}")
                    moved.append(tracked.job_id)
        return moved

    def deadline_risks(self, within: float) -> list[tuple[int, int]]:
        """Jobs this runner holds (accepted, not yet settled) whose deadline is less than
        `within` seconds away on the chain's clock: ``(job id, deadline)``. An accepted job that
        reaches its deadline unattested can be reclaimed, slashing its collateral and jailing
        the provider."""
        held = [t.job_id for t in self.journal.in_stage(RunStage.ACCEPTED, RunStage.COMPUTED, RunStage.PUBLISHED)]
        if not held:
            return []
        now = self.rails.now()
        risks = []
        for job_id, job in self._chain_jobs(held).items():
            deadline = int(job.deadline.timestamp())
            if job.status is JobStatus.ACCEPTED and deadline - now < within:
                risks.append((job_id, deadline))
        return risks

    # ── helpers ──
    def _chain_jobs(self, ids: Sequence[int]) -> dict[int, Job]:
        escrow = self.rails.escrow.address
        views = self.rails.rpc.run([self.rails.call("JobEscrow", escrow, "job", i) for i in ids])
        return {i: self.rails.views.job_from_view(v) for i, v in zip(ids, views)}


def _maybe_receipt(w3: Any, tx_hash: str) -> Any:
    from web3.exceptions import TransactionNotFound

    try:
        return w3.eth.get_transaction_receipt(tx_hash)
    except TransactionNotFound:
        return None


def _known(w3: Any, tx_hash: str) -> bool:
    from web3.exceptions import TransactionNotFound

    try:
        return w3.eth.get_transaction(tx_hash) is not None
    except TransactionNotFound:
        return False


# ───────────────────────────── the command ─────────────────────────────


def _amounts(values: Sequence[str], option: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for value in values:
        token, sep, amount = value.partition("=")
        try:
            out[token] = Decimal(amount)
        except ArithmeticError:
            sep = ""
        if not sep or not token:
            raise click.BadParameter(f"{value!r} is not TOKEN=AMOUNT (a token address or symbol)", param_hint=option)
    return out


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--rpc", required=True, help="the node's JSON-RPC URL")
@click.option("--deployment", required=True, type=click.Path(exists=True, dir_okay=False), help="deployment file")
@click.option("--key-env", required=True, help="name of the environment variable holding the provider's key")
@click.option("--state", required=True, type=click.Path(dir_okay=False), help="SQLite state file")
@click.option("--results", required=True, type=click.Path(file_okay=False), help="result store directory")
@click.option("--specs", required=True, type=click.Path(file_okay=False), help="published specs directory")
@click.option("--min-price", multiple=True, required=True, help="TOKEN=AMOUNT: least price per unit (repeatable)")
@click.option("--max-duration", type=int, default=86_400, show_default=True, help="longest job, in seconds")
@click.option("--capacity", type=int, default=4, show_default=True, help="most jobs held at once")
@click.option("--kinds", default=",".join(workloads.JOB_TYPES), show_default=True, help="job types run")
@click.option("--max-units", type=int, default=None, help="most units of work one job may take")
@click.option("--claim-interval", type=int, default=3_600, show_default=True, help="seconds between claims")
@click.option("--min-claim", multiple=True, help="TOKEN=AMOUNT: least balance worth a withdrawal (repeatable)")
@click.option("--interval", type=float, default=2.0, show_default=True, help="seconds between polls")
@click.option("--once", is_flag=True, help="one pass, then exit")
@click.pass_context
def cli(
    ctx: click.Context,
    rpc: str,
    deployment: str,
    key_env: str,
    state: str,
    results: str,
    specs: str,
    min_price: tuple[str, ...],
    max_duration: int,
    capacity: int,
    kinds: str,
    max_units: int | None,
    claim_interval: int,
    min_claim: tuple[str, ...],
    interval: float,
    once: bool,
) -> None:
    """Run the provider's per-job work: accept by policy, compute, publish by CID, settle,
    claim. Stops cleanly on SIGTERM or Ctrl-C (after the pass in progress)."""
    key = os.environ.get(key_env)
    if not key:
        raise click.UsageError(f"the environment variable {key_env} holds no key")
    try:
        policy = AcceptPolicy(
            min_unit_price=_amounts(min_price, "--min-price"),
            max_duration=timedelta(seconds=max_duration),
            capacity=capacity,
            kinds=frozenset(k.strip() for k in kinds.split(",") if k.strip()),
            max_units=max_units,
            claim_interval=timedelta(seconds=claim_interval),
            min_claim=_amounts(min_claim, "--min-claim"),
        )
    except ValidationError as e:
        raise click.UsageError(str(e)) from None
    rails = computerails.connect(rpc, deployment=deployment, account=key)
    runner = JobRunner(rails, state, ResultStore(results), policy, DirectorySpecSource(specs))
    prepare = ctx.obj
    if prepare is not None:
        prepare(runner)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        if once:
            runner.poll_once()
        else:
            runner.run(stop, interval)
    finally:
        runner.close()


def main(argv: Sequence[str] | None = None, prepare: Callable[[JobRunner], None] | None = None) -> int:
    """``python -m computerails.agent.jobs``; `prepare` sees the runner before its first pass."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cli.main(args=list(argv) if argv is not None else None, standalone_mode=False, obj=prepare)
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except ComputeRailsError as e:
        click.echo(f"error: {e}", err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
