"""Following a deployment's events into the index: pages of ``eth_getLogs``, one database
transaction per page, reorg detection by block hash, and an adaptive page size.

The cursor (``meta.cursor``, the last indexed block) is written in the page's own transaction,
so a process killed at any moment resumes from the last committed page, with no duplicate rows.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak, to_checksum_address
from sqlalchemy import Connection, Engine, Table, delete, exists, select

from computerails.deployments import Deployment
from computerails.errors import RPCUnavailable
from computerails.indexer import schema as s
from computerails.indexer.apply import (
    JOB_EVENTS,
    TREASURY_KEY,
    State,
    apply_vetoes,
    derive_rows,
    prefetch,
    replay,
    unveto_above,
)
from computerails.indexer.decode import Decoder, Event
from computerails.indexer.rpc import IndexerError, JsonRpc, RangeTooLarge

#: Default (and largest) blocks per ``eth_getLogs``.
DEFAULT_PAGE = 2000
#: Successful pages in a row after which a shrunken page doubles again.
GROW_AFTER = 4
#: Stored blocks checked per request while looking for the common ancestor of a reorg.
ANCESTOR_BATCH = 64
#: The RewardsDistributor's immutables recorded in ``meta`` (key -> view function returning one word).
REWARDS_META = {
    "rewards:genesis": "genesis()",
    "rewards:epoch_length": "epochLength()",
    "rewards:token": "rewardToken()",
}


class ChainMoved(IndexerError):
    """The node's chain changed while a page was read (a reorg in progress): read it again."""


@dataclass
class Page:
    """What one committed page covered."""

    from_block: int
    to_block: int
    events: int


@dataclass
class Stats:
    """What an indexing run did."""

    pages: int = 0
    events: int = 0
    blocks: int = 0
    refusals: int = 0  # eth_getLogs ranges the node refused as too large
    reorgs: int = 0
    rolled_back: list[tuple[int, int]] = field(default_factory=list)  # (from cursor, to ancestor)


def _cursor_row(conn: Connection, key: str) -> str | None:
    row = conn.execute(select(s.meta.c.value).where(s.meta.c.key == key)).first()
    return None if row is None else str(row[0])


def _set_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(delete(s.meta).where(s.meta.c.key == key))
    conn.execute(s.meta.insert().values(key=key, value=value))


class Indexer:
    """Indexes one deployment into one database.

    Args:
        rpc: the node.
        deployment: the contracts to follow (their addresses and deploy block).
        engine: the index (see :func:`computerails.indexer.open_index`), already migrated.
        page: blocks per ``eth_getLogs`` (the most; shrunk while the node refuses ranges).
        confirmations: blocks behind the head to stay (0: index up to the head).
        start_block: where a new index starts (default: the deployment's deploy block; 0 gives
            the same index, read from genesis).
    """

    def __init__(
        self,
        rpc: JsonRpc,
        deployment: Deployment,
        engine: Engine,
        *,
        page: int = DEFAULT_PAGE,
        confirmations: int = 0,
        start_block: int | None = None,
    ) -> None:
        if page < 1:
            raise IndexerError(f"page must be at least 1 block, not {page}")
        if confirmations < 0:
            raise IndexerError(f"confirmations must be 0 or more, not {confirmations}")
        self.rpc = rpc
        self.deployment = deployment
        self.engine = engine
        self.max_page = page
        self.page = page
        self.confirmations = confirmations
        self.decoder = Decoder(deployment)
        self.start_block = deployment.deploy_block if start_block is None else start_block
        if not 0 <= self.start_block <= deployment.deploy_block:
            raise IndexerError(
                f"start block {self.start_block} is not within 0..{deployment.deploy_block} (deploy block)"
            )
        self.staking_token = deployment.staking_token
        self.stats = Stats()
        self._streak = 0
        self._identity = json.dumps(
            {"chainId": deployment.chain_id, "contracts": {n: a for n, a in sorted(self.decoder.names.items())}},
            sort_keys=True,
        )
        self.reindexed = False  # set when an index from before a contract was followed is read again
        self._claim_identity()
        self._record_rewards_immutables()

    # ── identity and cursor ──
    def _claim_identity(self) -> None:
        with self.engine.begin() as conn:
            known = _cursor_row(conn, "deployment")
            if known is None:
                _set_meta(conn, "deployment", self._identity)
                _set_meta(conn, "cursor", str(self.start_block - 1))
            elif known != self._identity:
                if not self._follows_more_of(known):
                    raise IndexerError(
                        f"this index was built for another deployment ({known}); give a new --db for chain "
                        f"{self.deployment.chain_id} with these contracts"
                    )
                # Built by an indexer that followed fewer of this deployment's contracts (the
                # RewardsDistributor before 0002): their past events were never read, so read the
                # deployment again from the start, in this same transaction.
                for table in (*s.EVENT_TABLES, s.blocks, *s.STATE_TABLES):
                    conn.execute(delete(table))
                conn.execute(delete(s.meta).where(s.meta.c.key.like(TREASURY_KEY + "%")))
                _set_meta(conn, "deployment", self._identity)
                _set_meta(conn, "cursor", str(self.start_block - 1))
                self.reindexed = True

    def _follows_more_of(self, known: str) -> bool:
        """Whether the identity `known` is this deployment's with a subset of the contracts."""
        try:
            old = json.loads(known)
        except ValueError:
            return False
        if not isinstance(old, dict) or old.get("chainId") != self.deployment.chain_id:
            return False
        contracts = old.get("contracts")
        return isinstance(contracts, dict) and contracts.items() <= self.decoder.names.items()

    def _record_rewards_immutables(self) -> None:
        """The RewardsDistributor's genesis, epoch length and reward token into ``meta`` (once:
        immutables), so that readers can map block times to reward epochs."""
        address = next((a for a, n in self.decoder.names.items() if n == "RewardsDistributor"), None)
        if address is None:
            return
        with self.engine.connect() as conn:
            missing = [k for k in REWARDS_META if _cursor_row(conn, k) is None]
        if not missing:
            return
        calls = [
            ("eth_call", [{"to": address, "data": "0x" + keccak(text=REWARDS_META[k])[:4].hex()}, "latest"])
            for k in missing
        ]
        answers = [str(w or "0x") for w in self.rpc.batch(calls)]
        if any(len(a) != 66 for a in answers):
            raise IndexerError(
                f"the deployment's RewardsDistributor {address} does not answer genesis(), epochLength() and "
                "rewardToken() (no contract there on this chain?)"
            )
        words = [int(a, 16) for a in answers]
        with self.engine.begin() as conn:
            for key, word in zip(missing, words):
                value = to_checksum_address(word.to_bytes(32, "big")[12:]) if key == "rewards:token" else str(word)
                _set_meta(conn, key, value)

    def cursor(self) -> int:
        """The last block indexed (the deploy block - 1 before the first page)."""
        with self.engine.connect() as conn:
            value = _cursor_row(conn, "cursor")
        return int(value) if value is not None else self.start_block - 1

    def target(self) -> int:
        """The highest block to index now: the head less the confirmations."""
        return self.rpc.block_number() - self.confirmations

    # ── pages ──
    def step(self, target: int) -> Page | None:
        """Indexes the next page up to `target` (or rolls back a reorg it finds first).

        Returns:
            The page committed, or None when nothing was (already at `target`, or a rollback).
        """
        cursor = self.cursor()
        if cursor >= target:
            # Nothing new to read; but a reorg onto a shorter chain leaves the head at or below
            # the cursor: the cursor block must still be the chain's.
            if cursor >= self.start_block and self._cursor_replaced(cursor):
                self.rollback()
            return None
        first = cursor + 1
        while True:
            last = min(first + self.page - 1, target)
            ends = self.rpc.headers([first, last])
            if any(h is None for h in ends):
                raise ChainMoved(f"block {first} or {last} is no longer on the node's chain")
            if cursor >= self.start_block and self._reorged(cursor, str(ends[0]["parentHash"])):  # type: ignore[index]
                self.rollback()
                return None
            try:
                logs = self.rpc.logs(self.decoder.addresses, first, last)
            except RangeTooLarge:
                self.stats.refusals += 1
                if last == first:
                    raise
                self.page = max(1, (last - first + 1) // 2)
                self._streak = 0
                continue
            break
        self._grow()
        return self._commit(first, last, ends[1], logs)  # type: ignore[arg-type]

    def _grow(self) -> None:
        self._streak += 1
        if self.page < self.max_page and self._streak >= GROW_AFTER:
            self.page = min(self.max_page, self.page * 2)
            self._streak = 0

    def _cursor_replaced(self, cursor: int) -> bool:
        header = self.rpc.headers([cursor])[0]
        return header is None or self._reorged(cursor, str(header["hash"]))

    def _reorged(self, cursor: int, parent_hash: str) -> bool:
        with self.engine.connect() as conn:
            stored = conn.execute(select(s.blocks.c.hash).where(s.blocks.c.number == cursor)).first()
        return stored is not None and str(stored[0]) != parent_hash.lower()

    def _commit(self, first: int, last: int, last_header: dict[str, Any], logs: list[dict[str, Any]]) -> Page:
        decoded = sorted(
            (e for e in (self.decoder.decode(log) for log in logs if not log.get("removed")) if e is not None),
            key=lambda e: (e.block_number, e.log_index),
        )
        numbers = sorted({e.block_number for e in decoded} - {last})
        headers = dict(zip(numbers, self.rpc.headers(numbers)))
        confirm = self.rpc.headers([last])[0]
        if confirm is None or confirm["hash"] != last_header["hash"]:
            raise ChainMoved(f"block {last} changed while page {first}-{last} was read")
        headers[last] = last_header
        for e in decoded:
            h = headers.get(e.block_number)
            if h is None or str(h["hash"]).lower() != e.block_hash:
                raise ChainMoved(f"block {e.block_number} changed while page {first}-{last} was read")
        block_rows: list[dict[str, Any]] = [
            {
                "number": n,
                "hash": str(h["hash"]).lower(),
                "parent_hash": str(h["parentHash"]).lower(),
                "timestamp": int(h["timestamp"], 16),
            }
            for n, h in sorted(headers.items())
            if h is not None
        ]
        times: dict[int, int] = {int(r["number"]): int(r["timestamp"]) for r in block_rows}
        with self.engine.begin() as conn:
            self._write(conn, decoded, times)
            # The previous page's end block was kept only for this page's parent-hash check: drop
            # it unless it holds events, so that ``blocks`` is the event blocks and the cursor
            # block whatever the page sizes were (a rebuild equals an incremental build).
            conn.execute(
                delete(s.blocks).where(
                    s.blocks.c.number == first - 1,
                    ~exists().where(s.events.c.block_number == first - 1),
                )
            )
            conn.execute(s.blocks.insert(), block_rows)
            _set_meta(conn, "cursor", str(last))
        self.stats.pages += 1
        self.stats.events += len(decoded)
        self.stats.blocks += last - first + 1
        return Page(first, last, len(decoded))

    def _write(self, conn: Connection, decoded: list[Event], times: dict[int, int]) -> None:
        st = State(conn, self.staking_token)
        prefetch(st, decoded)
        vetoes = [e for e in decoded if e.contract == "RewardsDistributor" and e.event == "RootVetoed"]
        rows: dict[str, list[dict[str, Any]]] = {}
        tables: dict[str, Table] = {}
        for e in decoded:
            st.apply(e, times[e.block_number])
            rows.setdefault("events", []).append(
                {**e.where, "contract": e.contract, "address": e.address, "event": e.event, "args": e.args}
            )
            status = ""
            if (e.contract == "JobEscrow" and e.event in JOB_EVENTS) or e.event == "AttestationSkipped":
                status = st.job_status(int(e.args["jobId"]))
            for table, row in derive_rows(e, self.staking_token, status):
                tables[table.name] = table
                rows.setdefault(table.name, []).append(row)
        st.flush()
        tables["events"] = s.events
        for name, batch in rows.items():
            conn.execute(tables[name].insert(), batch)
        apply_vetoes(conn, vetoes)

    # ── reorgs ──
    def _stored_blocks(self, conn: Connection) -> Iterator[list[tuple[int, str]]]:
        below: int | None = None
        while True:
            q = select(s.blocks.c.number, s.blocks.c.hash).order_by(s.blocks.c.number.desc()).limit(ANCESTOR_BATCH)
            if below is not None:
                q = q.where(s.blocks.c.number < below)
            chunk = [(int(n), str(h)) for n, h in conn.execute(q).all()]
            if not chunk:
                return
            yield chunk
            below = chunk[-1][0]

    def rollback(self) -> int:
        """Rolls the index back to the newest stored block still on the node's chain (the common
        ancestor), in one transaction: rows above it deleted, the current state replayed from
        the events that remain. Returns the ancestor."""
        with self.engine.begin() as conn:
            cursor = int(_cursor_row(conn, "cursor") or self.start_block - 1)
            ancestor = self.start_block - 1
            for chunk in self._stored_blocks(conn):
                chain = self.rpc.headers([n for n, _ in chunk])
                match = next(
                    (n for (n, h), c in zip(chunk, chain) if c is not None and str(c["hash"]).lower() == h), None
                )
                if match is not None:
                    ancestor = match
                    break
            for table in s.EVENT_TABLES:
                conn.execute(delete(table).where(table.c.block_number > ancestor))
            unveto_above(conn, ancestor)
            conn.execute(delete(s.blocks).where(s.blocks.c.number > ancestor))
            rebuild_state(conn, self.staking_token)
            _set_meta(conn, "cursor", str(ancestor))
        self.stats.reorgs += 1
        self.stats.rolled_back.append((cursor, ancestor))
        self.page = self.max_page
        return ancestor

    # ── loops ──
    def _pages(self, target: int, stop: threading.Event | None, on_page: Callable[[Page], None] | None) -> None:
        """Pages up to `target` (rolling back any reorg found on the way, or at the cursor
        when already there), until caught up or `stop` is set."""
        moved = 0
        while stop is None or not stop.is_set():
            try:
                page = self.step(target)
            except ChainMoved:
                moved += 1
                if moved > 10:
                    raise
                continue
            if page is not None:
                if on_page is not None:
                    on_page(page)
            elif self.cursor() >= target:
                return

    def run_until(self, target: int, on_page: Callable[[Page], None] | None = None) -> Stats:
        """Indexes up to `target` (a rollback on the way is followed by the re-indexing)."""
        self._pages(target, None, on_page)
        return self.stats

    def run_until_head(self, on_page: Callable[[Page], None] | None = None) -> Stats:
        """Indexes up to the head less the confirmations, once."""
        return self.run_until(self.target(), on_page)

    def follow(self, stop: threading.Event, poll: float = 2.0, on_page: Callable[[Page], None] | None = None) -> Stats:
        """Follows the head until `stop` is set: index what is confirmed, wait `poll` seconds,
        again. A page under way when `stop` is set is finished (it is one transaction)."""
        while not stop.is_set():
            try:
                self._pages(self.target(), stop, on_page)
            except (ChainMoved, RPCUnavailable):
                pass  # the chain is reorganising, or the node restarting: look again after the poll
            stop.wait(poll)
        return self.stats


def rebuild_state(conn: Connection, staking_token: str) -> None:
    """Empties the current-state tables and replays every indexed event into them."""
    for table in s.STATE_TABLES:
        conn.execute(delete(table))
    conn.execute(delete(s.meta).where(s.meta.c.key.like(TREASURY_KEY + "%")))
    q = (
        select(s.events, s.blocks.c.timestamp)
        .join(s.blocks, s.blocks.c.number == s.events.c.block_number)
        .order_by(s.events.c.block_number, s.events.c.log_index)
    )

    def stream() -> Iterator[tuple[Event, int]]:
        for r in conn.execute(q).mappings():
            yield Event.from_row(r), int(r["timestamp"])

    replay(conn, staking_token, list(stream()))
