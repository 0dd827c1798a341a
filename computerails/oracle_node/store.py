"""The oracle node's state: one SQLite file, WAL, ``synchronous=FULL``, one transaction per write.

- ``seen``: ids of accepted gossip messages (a second one with the same id is a replay), kept
  for twice the freshness window;
- ``observations``: each node's uptime observation per (epoch, provider); ``equivocations``:
  nodes that sent two different ones for a subject (their observations of it are ignored);
- ``statements`` and ``signatures``: every statement seen (EIP-712 digest, round, kind, JSON) and
  the oracle signatures over it;
- ``rounds``: one per subject (``job:<id>``, ``uptime:<provider>:<epoch>``, ``fraud:<digest>``):
  open or done, the digest that became ready first and when;
- ``outbox``: the node's own messages of open rounds, re-sent every gossip interval;
- ``submissions``: every transaction the node signed for a round, journalled before broadcast
  (hash, nonce, raw bytes), and its outcome once seen;
- ``evidence``: what a fraud round is about (the receipt, the provider's signature, the request);
- ``meta``: small named values (block cursors).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert

from computerails._sqlite import UINT128_DIGITS, durable_engine, pad

metadata = MetaData()

seen = Table(
    "seen",
    metadata,
    Column("message_id", String(66), primary_key=True),
    Column("sender", String(42), nullable=False),
    Column("received_at", Integer, nullable=False, index=True),
)

observations = Table(
    "observations",
    metadata,
    Column("epoch", Integer, primary_key=True),
    Column("provider", String(42), primary_key=True),
    Column("node", String(42), primary_key=True),
    Column("uptime_bps", Integer, nullable=False),
    Column("probes", Integer, nullable=False),
    Column("received_at", Integer, nullable=False),
)

equivocations = Table(
    "equivocations",
    metadata,
    Column("epoch", Integer, primary_key=True),
    Column("provider", String(42), primary_key=True),
    Column("node", String(42), primary_key=True),
)

statements = Table(
    "statements",
    metadata,
    Column("digest", String(66), primary_key=True),
    Column("round", String(128), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", Integer, nullable=False),
)

signatures = Table(
    "signatures",
    metadata,
    Column("digest", String(66), primary_key=True),
    Column("signer", String(42), primary_key=True),
    Column("signature", String(132), nullable=False),
)

rounds = Table(
    "rounds",
    metadata,
    Column("round", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(8), nullable=False, index=True),  # open | done
    Column("ready_digest", String(66)),
    Column("ready_at", Float),
    Column("note", Text),
    Column("updated_at", Integer, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("round", String(128), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("body", Text, nullable=False),
)

submissions = Table(
    "submissions",
    metadata,
    Column("tx_hash", String(66), primary_key=True),
    Column("nonce", Integer, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("label", String(32), nullable=False),
    Column("rounds", Text, nullable=False),  # JSON list of round keys
    Column("status", String(16), nullable=False, index=True),  # pending | mined | reverted | dropped
    Column("created_at", Integer, nullable=False),
    Column("gas_cost", String(UINT128_DIGITS)),
)

evidence = Table(
    "evidence",
    metadata,
    Column("round", String(128), primary_key=True),
    Column("body", Text, nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

PENDING = "pending"
OPEN, DONE = "open", "done"


@dataclass(frozen=True)
class Observation:
    epoch: int
    provider: str
    node: str
    uptime_bps: int
    probes: int


@dataclass(frozen=True)
class Round:
    key: str
    kind: str
    status: str
    ready_digest: str | None
    ready_at: float | None


@dataclass(frozen=True)
class Submission:
    tx_hash: str
    nonce: int
    raw: bytes
    label: str
    rounds: list[str]
    status: str


class NodeStore:
    """The node's SQLite file.

    Args:
        path: the database file (its folder is created if missing).
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.engine: Engine = durable_engine(str(path))
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # ── replay protection ──

    def accept_message(self, message_id: str, sender: str, now: int, keep: float) -> bool:
        """Keep a message id; False when it was kept before (a replay). Forgets ids older than
        `keep` seconds in the same transaction."""
        with self.engine.begin() as conn:
            conn.execute(delete(seen).where(seen.c.received_at < now - keep))
            done = conn.execute(
                insert(seen).values(message_id=message_id, sender=sender, received_at=now).on_conflict_do_nothing()
            )
            return bool(done.rowcount)

    # ── observations ──

    def add_observation(self, o: Observation, now: int) -> str:
        """Keep a node's observation. Returns ``"new"``, ``"same"`` (already held) or
        ``"equivocation"`` (the node sent another value for the subject: it is ignored from now)."""
        with self.engine.begin() as conn:
            held = conn.execute(
                select(observations.c.uptime_bps).where(
                    observations.c.epoch == o.epoch,
                    observations.c.provider == o.provider,
                    observations.c.node == o.node,
                )
            ).scalar_one_or_none()
            if held is None:
                conn.execute(
                    insert(observations).values(
                        epoch=o.epoch,
                        provider=o.provider,
                        node=o.node,
                        uptime_bps=o.uptime_bps,
                        probes=o.probes,
                        received_at=now,
                    )
                )
                return "new"
            if held == o.uptime_bps:
                return "same"
            conn.execute(
                insert(equivocations).values(epoch=o.epoch, provider=o.provider, node=o.node).on_conflict_do_nothing()
            )
            return "equivocation"

    def observed_providers(self, epoch: int) -> set[str]:
        """The providers some node's observation of `epoch` names."""
        query = select(observations.c.provider).where(observations.c.epoch == epoch).distinct()
        with self.engine.connect() as conn:
            return {r.provider for r in conn.execute(query)}

    def observations(self, epoch: int, provider: str) -> list[Observation]:
        """The observations of a subject, without those of equivocating nodes."""
        liars = select(equivocations.c.node).where(equivocations.c.epoch == epoch, equivocations.c.provider == provider)
        query = select(observations).where(
            observations.c.epoch == epoch, observations.c.provider == provider, observations.c.node.not_in(liars)
        )
        with self.engine.connect() as conn:
            return [Observation(r.epoch, r.provider, r.node, r.uptime_bps, r.probes) for r in conn.execute(query)]

    # ── statements, signatures, rounds ──

    def add_statement(self, digest: str, round_key: str, kind: str, body: dict[str, Any], now: int) -> None:
        with self.engine.begin() as conn:
            _insert_statement(conn, digest, round_key, kind, body, now)

    def add_own_signature(
        self,
        digest: str,
        round_key: str,
        kind: str,
        body: dict[str, Any],
        signer: str,
        signature: str,
        outbox_key: str,
        message: dict[str, Any],
        now: int,
    ) -> None:
        """The node's own signature of a statement: the statement, its round, the signature and
        the gossip message carrying it (outbox), in one transaction."""
        with self.engine.begin() as conn:
            _insert_statement(conn, digest, round_key, kind, body, now)
            conn.execute(
                insert(signatures).values(digest=digest, signer=signer, signature=signature).on_conflict_do_nothing()
            )
            conn.execute(
                insert(outbox)
                .values(key=outbox_key, round=round_key, kind="signature", body=json.dumps(message))
                .on_conflict_do_nothing()
            )

    def open_round(self, key: str, kind: str, now: int) -> None:
        """Open a round (nothing if it exists, open or done)."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(rounds).values(round=key, kind=kind, status=OPEN, updated_at=now).on_conflict_do_nothing()
            )

    def statement(self, digest: str) -> tuple[str, str, dict[str, Any]] | None:
        """(round, kind, body) of a digest."""
        with self.engine.connect() as conn:
            row = conn.execute(select(statements).where(statements.c.digest == digest)).first()
        return None if row is None else (row.round, row.kind, json.loads(row.body))

    def add_signature(self, digest: str, signer: str, signature: str) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(
                insert(signatures).values(digest=digest, signer=signer, signature=signature).on_conflict_do_nothing()
            )
            return bool(done.rowcount)

    def signatures(self, digest: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(signatures).where(signatures.c.digest == digest))
            return {r.signer: r.signature for r in rows}

    def digests(self, round_key: str) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(statements.c.digest).where(statements.c.round == round_key).order_by(statements.c.created_at)
            )
            return [r.digest for r in rows]

    def open_rounds(self, kind: str | None = None) -> list[Round]:
        query = select(rounds).where(rounds.c.status == OPEN)
        if kind is not None:
            query = query.where(rounds.c.kind == kind)
        with self.engine.connect() as conn:
            return [_round(r) for r in conn.execute(query.order_by(rounds.c.round))]

    def round(self, key: str) -> Round | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(rounds).where(rounds.c.round == key)).first()
        return None if row is None else _round(row)

    def mark_ready(self, key: str, digest: str, at: float) -> None:
        """The first digest of a round to reach the quorum here, and when (kept once)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(rounds)
                .where(rounds.c.round == key, rounds.c.ready_digest.is_(None))
                .values(ready_digest=digest, ready_at=at, updated_at=int(at))
            )

    def close_round(self, key: str, note: str, kind: str = "") -> bool:
        """Mark a round done (its outbox emptied in the same transaction); False if it was."""
        now = int(time.time())
        with self.engine.begin() as conn:
            conn.execute(
                insert(rounds)
                .values(round=key, kind=kind or key.split(":")[0], status=OPEN, updated_at=now)
                .on_conflict_do_nothing()
            )
            done = conn.execute(
                update(rounds)
                .where(rounds.c.round == key, rounds.c.status == OPEN)
                .values(status=DONE, note=note, updated_at=now)
            )
            conn.execute(delete(outbox).where(outbox.c.round == key))
            return bool(done.rowcount)

    # ── the outbox ──

    def post(self, key: str, round_key: str, kind: str, body: dict[str, Any]) -> bool:
        """Keep one of the node's own messages for re-sending; False if it was kept already."""
        with self.engine.begin() as conn:
            done = conn.execute(
                insert(outbox)
                .values(key=key, round=round_key, kind=kind, body=json.dumps(body))
                .on_conflict_do_nothing()
            )
            return bool(done.rowcount)

    def outbox(self) -> list[tuple[str, dict[str, Any]]]:
        with self.engine.connect() as conn:
            return [(r.kind, json.loads(r.body)) for r in conn.execute(select(outbox).order_by(outbox.c.key))]

    def posted(self, key: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(outbox.c.key).where(outbox.c.key == key)).first() is not None

    # ── evidence ──

    def add_evidence(self, round_key: str, body: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(evidence).values(round=round_key, body=json.dumps(body)).on_conflict_do_nothing())

    def evidence(self, round_key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(evidence.c.body).where(evidence.c.round == round_key)).scalar_one_or_none()
        return None if value is None else dict(json.loads(value))

    # ── submissions ──

    def journal(self, tx_hash: str, nonce: int, raw: bytes, label: str, round_keys: Iterable[str]) -> None:
        row = {
            "tx_hash": tx_hash,
            "nonce": nonce,
            "raw": raw,
            "label": label,
            "rounds": json.dumps(sorted(round_keys)),
            "status": PENDING,
            "created_at": int(time.time()),
        }
        with self.engine.begin() as conn:
            conn.execute(insert(submissions).values(row).on_conflict_do_nothing())

    def pending(self) -> list[Submission]:
        return self.submissions(PENDING)

    def submissions(self, status: str | None = None) -> list[Submission]:
        query = select(submissions).order_by(submissions.c.nonce)
        if status is not None:
            query = query.where(submissions.c.status == status)
        with self.engine.connect() as conn:
            return [
                Submission(r.tx_hash, r.nonce, bytes(r.raw), r.label, json.loads(r.rounds), r.status)
                for r in conn.execute(query)
            ]

    def record(self, tx_hash: str, status: str, gas_cost: int) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(
                update(submissions)
                .where(submissions.c.tx_hash == tx_hash, submissions.c.status == PENDING)
                .values(status=status, gas_cost=pad(gas_cost, UINT128_DIGITS))
            )
            return bool(done.rowcount)

    def in_flight(self, round_key: str) -> bool:
        """A pending submission carries this round."""
        return any(round_key in s.rounds for s in self.pending())

    # ── meta ──

    def get_meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar_one_or_none()

    def set_meta(self, key: str, value: str) -> None:
        statement = insert(meta).values(key=key, value=value)
        with self.engine.begin() as conn:
            conn.execute(statement.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": value}))


def _round(row: Any) -> Round:
    return Round(row.round, row.kind, row.status, row.ready_digest, row.ready_at)


def _insert_statement(conn: Connection, digest: str, round_key: str, kind: str, body: dict[str, Any], now: int) -> None:
    """The statement and its round (open), each unless known already."""
    conn.execute(
        insert(statements)
        .values(digest=digest, round=round_key, kind=kind, body=json.dumps(body), created_at=now)
        .on_conflict_do_nothing()
    )
    conn.execute(
        insert(rounds).values(round=round_key, kind=kind, status=OPEN, updated_at=now).on_conflict_do_nothing()
    )
