"""Uptime probing (docs/ORACLE_NETWORK.md, "Uptime" steps 1–3): when to probe, one probe, what
was seen, and the prober that ties them together.

1. **Schedule.** :func:`probe_times` gives a provider's probe moments in an epoch from the node's
   :func:`probe_secret` (an HMAC of its private key): the node computes the same moments after a
   restart, nobody without its key can, so a provider cannot be up only when probed.
2. **Probe.** :func:`probe` asks ``GET {url}/v1/health?challenge=0x<32 random bytes>`` and counts
   the provider up only when the answer is the *registered* address's signature over the
   challenge on this chain (:func:`computerails.health.verify_health`) within the timeout. A
   timeout, a refused connection, a status other than 200, a body that is not a JSON object, a
   signature by another key (a proxy, a stand-in) or for another chain is down, with its reason.
3. **Observation.** :class:`ProbeLog` keeps every slot on disk (SQLite, WAL, a transaction per
   write). A slot is probed at most once: a restarted node skips what it recorded. A slot the node
   itself missed by more than ``max_lateness`` (it was down) is marked ``missed_by_node`` and not
   counted. :meth:`ProbeLog.uptime_bps` is up × 10,000 // counted probes, or ``None`` (abstain)
   below ``min_probes``.

:class:`Prober` plans each epoch's slots for the providers under the SLA
(:class:`~computerails.oracle_node.providers.ProviderDirectory`) and runs the due ones
concurrently, at most ``concurrency`` at a time; the node's loop calls :meth:`Prober.run_due`.
It is also the node's ``UptimeSource`` (:mod:`computerails.oracle_node.node`):
:meth:`Prober.subjects` and :meth:`Prober.observe` (step 3's observation, once every slot of the
ended epoch is settled).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import httpx
from sqlalchemy import Boolean, Column, Engine, Integer, MetaData, String, Table, and_, func, select, update
from sqlalchemy.dialects.sqlite import insert

from computerails import _http
from computerails._sqlite import durable_engine
from computerails.addresses import parse_address
from computerails.errors import PreconditionError
from computerails.health import verify_health
from computerails.oracle_node.providers import ProviderDirectory, ProviderEntry

log = logging.getLogger("computerails.oracle_node.probes")

SECRET_LABEL = b"computerails/probe-secret/v1"
SCHEDULE_LABEL = b"computerails/probe/v1"
#: The most of a health answer read: a real one is about 300 bytes.
MAX_ANSWER_BYTES = 16_384
BPS = 10_000


# ───────────────────────── 1. the schedule ─────────────────────────


def probe_secret(private_key: bytes) -> bytes:
    """The node's schedule secret: HMAC-SHA256(private key, ``computerails/probe-secret/v1``).

    Args:
        private_key: the node's 32-byte private key.
    """
    return hmac.new(private_key, SECRET_LABEL, hashlib.sha256).digest()


def probe_times(
    secret: bytes, chain_id: int, epoch: int, provider: str, epoch_start: int, epoch_length: int, n: int
) -> list[int]:
    """When the node probes `provider` in `epoch`: `n` unix times in
    ``[epoch_start, epoch_start + epoch_length)``, sorted (two may coincide).

    Offset i is HMAC-SHA256(secret, ``computerails/probe/v1`` ‖ chainId (32 bytes) ‖ epoch
    (32 bytes) ‖ provider (20 bytes) ‖ i (32 bytes)) as a big-endian integer, mod `epoch_length`.

    Raises:
        PreconditionError: `epoch_length` is not positive or `n` is negative.
        InvalidAddress: `provider` is not an address.
    """
    if epoch_length <= 0 or n < 0:
        raise PreconditionError(f"epoch_length must be positive and n at least 0, got {epoch_length} and {n}")
    prefix = (
        SCHEDULE_LABEL
        + chain_id.to_bytes(32, "big")
        + epoch.to_bytes(32, "big")
        + bytes.fromhex(parse_address(provider, "provider")[2:])
    )
    offsets = (
        int.from_bytes(hmac.new(secret, prefix + i.to_bytes(32, "big"), hashlib.sha256).digest(), "big") % epoch_length
        for i in range(n)
    )
    return sorted(epoch_start + offset for offset in offsets)


# ───────────────────────── 2. one probe ─────────────────────────


class ProbeReason(str, Enum):
    """Why a probe counted up or down (or was not made)."""

    UP = "up"
    TIMEOUT = "timeout"
    REFUSED = "connection refused"
    UNREACHABLE = "unreachable"  # another transport error: DNS, reset, TLS
    HTTP_STATUS = "non-200 status"
    MALFORMED = "malformed JSON"
    WRONG_SIGNER = "wrong signer"  # a proxy or another key
    WRONG_CHAIN = "wrong chain id"
    NO_URL = "no http(s) URL"  # the metadata URI cannot be probed
    MISSED_BY_NODE = "missed_by_node"  # the node was down at the slot: not counted


@dataclass(frozen=True)
class ProbeResult:
    """One probe's verdict.

    Attributes:
        up: the registered provider answered the challenge in time.
        reason: why up or down.
        latency: seconds from sending to the verdict.
        detail: what was seen, for the log (a status code, an address).
    """

    up: bool
    reason: ProbeReason
    latency: float
    detail: str = ""


async def probe(client: httpx.AsyncClient, url: str, provider: str, chain_id: int, timeout: float) -> ProbeResult:
    """Probe `provider` at `url` once: a fresh 32-byte challenge, the signed answer checked.

    Args:
        client: the HTTP client (its connection pool is reused across probes).
        url: the agent's base URL (``http://host:port``, maybe with a path).
        provider: the registered provider address the answer must be signed by.
        chain_id: the chain the signature must name.
        timeout: seconds for the whole exchange (connect, send, answer).

    Returns:
        The verdict; never raises for anything the far side does.
    """
    challenge = secrets.token_bytes(32)
    started = time.monotonic()

    def verdict(reason: ProbeReason, detail: str = "") -> ProbeResult:
        return ProbeResult(reason is ProbeReason.UP, reason, time.monotonic() - started, detail)

    try:
        request = _get(client, url.rstrip("/") + "/v1/health", {"challenge": "0x" + challenge.hex()})
        status, body = await asyncio.wait_for(request, timeout)
    except (asyncio.TimeoutError, httpx.TimeoutException):  # asyncio's is not the builtin before 3.11
        return verdict(ProbeReason.TIMEOUT, f"no answer within {timeout} s")
    except httpx.ConnectError as exc:
        refused = _caused_by(exc, ConnectionRefusedError)
        return verdict(ProbeReason.REFUSED if refused else ProbeReason.UNREACHABLE, _chain(exc))
    except httpx.HTTPError as exc:
        return verdict(ProbeReason.UNREACHABLE, f"{type(exc).__name__}: {exc}")
    if status != 200:
        return verdict(ProbeReason.HTTP_STATUS, f"HTTP {status}")
    if body is None:
        return verdict(ProbeReason.MALFORMED, f"answer longer than {MAX_ANSWER_BYTES} bytes")
    try:
        answer = json.loads(body)
    except ValueError:
        return verdict(ProbeReason.MALFORMED, "not JSON")
    if not isinstance(answer, dict):
        return verdict(ProbeReason.MALFORMED, "not a JSON object")
    if verify_health(answer, challenge, chain_id, provider):
        return verdict(ProbeReason.UP)
    claimed_chain = answer.get("chain_id")
    if claimed_chain != chain_id:
        return verdict(ProbeReason.WRONG_CHAIN, f"answered for chain {claimed_chain!r}, expected {chain_id}")
    return verdict(ProbeReason.WRONG_SIGNER, f"not signed by {provider} (claims {answer.get('provider')!r})")


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is in `exc`'s chain of causes (httpx wraps anyio's wrap of the OS error)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _chain(exc: BaseException) -> str:
    """The innermost cause's message: what the OS said."""
    while (inner := exc.__cause__ or exc.__context__) is not None:
        exc = inner
    return f"{type(exc).__name__}: {exc}"


async def _get(client: httpx.AsyncClient, url: str, params: dict[str, str]) -> tuple[int, bytes | None]:
    """The status and body (``None`` when longer than MAX_ANSWER_BYTES) of a GET."""
    async with client.stream("GET", url, params=params) as response:
        body = b""
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_ANSWER_BYTES:
                return response.status_code, None
        return response.status_code, body


# ───────────────────────── 3. the probe log ─────────────────────────

metadata = MetaData()

probes = Table(
    "probes",
    metadata,
    Column("epoch", Integer, primary_key=True),
    Column("provider", String(42), primary_key=True),
    Column("scheduled_at", Integer, primary_key=True),  # unix seconds: one slot of the schedule
    Column("probed_at", Integer),  # unix seconds, NULL until probed
    Column("up", Boolean),  # NULL until probed, and for a slot the node missed
    Column("reason", String(32)),  # a ProbeReason value; NULL: still to probe
    Column("latency_ms", Integer),
)

epochs = Table(
    "epochs",
    metadata,
    Column("number", Integer, primary_key=True),
    Column("start", Integer, nullable=False),  # unix seconds
    Column("length", Integer, nullable=False),
)

directory = Table(
    "providers",
    metadata,
    Column("address", String(42), primary_key=True),
    Column("metadata_uri", String, nullable=False),
    Column("block", Integer, nullable=False),  # the event that set the URI
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String, nullable=False),
)

_CURSOR = "directory_next_block"


@dataclass(frozen=True)
class Epoch:
    """An uptime epoch as the chain defines it (UptimeSlasher ``epochStart``, epoch length)."""

    number: int
    start: int
    length: int


@dataclass(frozen=True, order=True)
class Slot:
    """One scheduled probe."""

    scheduled_at: int
    epoch: int
    provider: str


@dataclass(frozen=True)
class ProbeCounts:
    """A provider's slots in an epoch, by outcome: the probe load figures."""

    planned: int = 0
    up: int = 0
    down: int = 0
    missed: int = 0  # the node was down at the slot: not counted
    pending: int = 0  # not yet due, or due now

    @property
    def counted(self) -> int:
        return self.up + self.down


class ProbeLog:
    """The node's probes on disk: one SQLite file, WAL, ``synchronous=FULL``, one transaction per
    write (a write that returned is on disk). It also keeps the provider directory and its block
    cursor (:class:`~computerails.oracle_node.providers.DirectoryStore`), so a restarted node
    resumes reading events where it stopped.

    Args:
        path: the database file (its folder is created if missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = durable_engine(str(self.path))
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # ── slots ──

    def note_epoch(self, epoch: Epoch) -> None:
        """Keep an epoch's times (its first note stands)."""
        with self.engine.begin() as conn:
            row = {"number": epoch.number, "start": epoch.start, "length": epoch.length}
            conn.execute(insert(epochs).values(row).on_conflict_do_nothing())

    def epoch(self, number: int) -> Epoch | None:
        """An epoch noted by :meth:`note_epoch`."""
        with self.engine.connect() as conn:
            row = conn.execute(select(epochs).where(epochs.c.number == number)).first()
        return None if row is None else Epoch(row.number, row.start, row.length)

    def plan(self, epoch: int, provider: str, times: Iterable[int]) -> int:
        """Add a provider's slots for an epoch (slots already there stay as they are).

        Returns:
            How many slots were new.
        """
        rows = [{"epoch": epoch, "provider": provider, "scheduled_at": t} for t in sorted(set(times))]
        if not rows:
            return 0
        with self.engine.begin() as conn:
            result = conn.execute(insert(probes).values(rows).on_conflict_do_nothing())
        return int(result.rowcount)

    def due(self, now: int, max_lateness: int) -> list[Slot]:
        """The slots to probe now: scheduled at most `max_lateness` seconds before `now` (and not
        after it), not yet probed; earliest first. Slots older than that, never probed, are marked
        ``missed_by_node`` first (the node was not running then): they are skipped, not probed late.
        """
        with self.engine.begin() as conn:
            conn.execute(
                update(probes)
                .where(and_(probes.c.reason.is_(None), probes.c.scheduled_at < now - max_lateness))
                .values(reason=ProbeReason.MISSED_BY_NODE.value)
            )
            rows = conn.execute(
                select(probes.c.scheduled_at, probes.c.epoch, probes.c.provider)
                .where(and_(probes.c.reason.is_(None), probes.c.scheduled_at <= now))
                .order_by(probes.c.scheduled_at, probes.c.provider)
            ).all()
        return [Slot(r.scheduled_at, r.epoch, r.provider) for r in rows]

    def record(self, slot: Slot, result: ProbeResult, probed_at: int) -> bool:
        """Keep a probe's verdict (committed when this returns).

        Returns:
            False when the slot was already recorded (or marked missed): nothing changed.
        """
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(probes)
                .where(
                    and_(
                        probes.c.epoch == slot.epoch,
                        probes.c.provider == slot.provider,
                        probes.c.scheduled_at == slot.scheduled_at,
                        probes.c.reason.is_(None),
                    )
                )
                .values(
                    probed_at=probed_at,
                    up=result.up,
                    reason=result.reason.value,
                    latency_ms=round(result.latency * 1000),
                )
            )
        return bool(changed.rowcount)

    def counts(self, epoch: int) -> dict[str, ProbeCounts]:
        """Every provider's slots in `epoch`, by outcome."""
        query = (
            select(probes.c.provider, probes.c.reason, probes.c.up, func.count())
            .where(probes.c.epoch == epoch)
            .group_by(probes.c.provider, probes.c.reason, probes.c.up)
        )
        tally: dict[str, Counter[str]] = {}
        with self.engine.connect() as conn:
            for provider, reason, up, count in conn.execute(query):
                kind = (
                    "pending"
                    if reason is None
                    else "missed"
                    if reason == ProbeReason.MISSED_BY_NODE.value
                    else "up"
                    if up
                    else "down"
                )
                tally.setdefault(provider, Counter())[kind] += count
        return {
            provider: ProbeCounts(planned=sum(c.values()), **{k: c[k] for k in ("up", "down", "missed", "pending")})
            for provider, c in tally.items()
        }

    def uptime_bps(self, epoch: int, provider: str, min_probes: int) -> int | None:
        """The node's observation: up × 10,000 // probes made (missed slots not counted), or
        ``None`` (abstain) when fewer than `min_probes` were made."""
        counts = self.counts(epoch).get(provider, ProbeCounts())
        if counts.counted < max(min_probes, 1):
            return None
        return counts.up * BPS // counts.counted

    def results(self, epoch: int, provider: str) -> list[tuple[int, ProbeReason | None]]:
        """A provider's slots in `epoch`: (scheduled_at, reason or None while pending), in time order."""
        query = (
            select(probes.c.scheduled_at, probes.c.reason)
            .where(and_(probes.c.epoch == epoch, probes.c.provider == provider))
            .order_by(probes.c.scheduled_at)
        )
        with self.engine.connect() as conn:
            return [(r.scheduled_at, None if r.reason is None else ProbeReason(r.reason)) for r in conn.execute(query)]

    def forget(self, before_epoch: int) -> int:
        """Delete the slots of epochs before `before_epoch` (their reports' window has closed).

        Returns:
            How many slots were deleted.
        """
        with self.engine.begin() as conn:
            return int(conn.execute(probes.delete().where(probes.c.epoch < before_epoch)).rowcount)

    # ── the provider directory (DirectoryStore) ──

    def load_directory(self) -> tuple[dict[str, ProviderEntry], int | None]:
        """The providers kept and the next block to read (``None``: never read)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(directory)).all()
            entries = {r.address: ProviderEntry(r.address, r.metadata_uri, r.block) for r in rows}
            cursor = conn.execute(select(meta.c.value).where(meta.c.key == _CURSOR)).scalar_one_or_none()
        return entries, None if cursor is None else int(cursor)

    def save_directory(self, entries: Iterable[ProviderEntry], next_block: int) -> None:
        """Keep changed providers and the block cursor together, in one transaction."""
        rows = [{"address": e.address, "metadata_uri": e.metadata_uri, "block": e.block} for e in entries]
        with self.engine.begin() as conn:
            if rows:
                statement = insert(directory).values(rows)
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=[directory.c.address],
                        set_={"metadata_uri": statement.excluded.metadata_uri, "block": statement.excluded.block},
                    )
                )
            statement = insert(meta).values(key=_CURSOR, value=str(next_block))
            conn.execute(statement.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": str(next_block)}))


# ───────────────────────── the prober ─────────────────────────


@dataclass(frozen=True)
class ProbeOutcome:
    """A slot probed by :meth:`Prober.run_due`."""

    slot: Slot
    result: ProbeResult


class Prober:
    """Plans each epoch's slots for the providers under the SLA and probes the due ones.

    Args:
        directory: the providers (refreshed by the caller).
        log: where slots and verdicts are kept.
        secret: :func:`probe_secret` of the node's key.
        chain_id: the chain the providers must sign for.
        probes_per_epoch: slots per provider and epoch.
        probe_timeout: seconds one probe may take.
        max_lateness: a slot is probed up to this many seconds after its time; later it counts as
            missed by the node (it was not running). A few times the loop's interval plus
            `probe_timeout`: a busy loop must not miss slots, a node back from a crash must not
            probe a provider long after the moment it was due.
        min_probes: fewer counted probes of a provider in an epoch: the node abstains.
        concurrency: probes in flight at most.
        status_ttl: seconds :meth:`subjects` reuses the providers' SLA status read from chain.
        client: the HTTP client (default: one owned by the prober, closed by :meth:`aclose`).
    """

    def __init__(
        self,
        directory: ProviderDirectory,
        log: ProbeLog,
        *,
        secret: bytes,
        chain_id: int,
        probes_per_epoch: int,
        probe_timeout: float,
        max_lateness: int,
        min_probes: int = 1,
        concurrency: int = 16,
        status_ttl: float = 60.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if min(probes_per_epoch, min_probes, concurrency) < 1 or probe_timeout <= 0 or max_lateness < 0:
            raise PreconditionError(
                "probes_per_epoch, min_probes and concurrency must be at least 1, probe_timeout positive, "
                "max_lateness at least 0"
            )
        self.directory = directory
        self.log = log
        self.secret = secret
        self.chain_id = chain_id
        self.probes_per_epoch = probes_per_epoch
        self.probe_timeout = probe_timeout
        self.max_lateness = max_lateness
        self.min_probes = min_probes
        self.concurrency = concurrency
        self.status_ttl = status_ttl
        self._subjects: dict[int, tuple[float, list[str]]] = {}  # epoch -> (when read, providers)
        self._owns_client = client is None
        self.client = client or _http.async_client(
            trust_env=False,  # never through a proxy from the environment: the provider itself answers
            follow_redirects=False,
            limits=httpx.Limits(max_connections=concurrency),
        )
        self._planned: set[tuple[int, str]] = set()
        self._unprobeable: dict[str, str] = {}  # provider -> the URI already logged as unprobeable
        #: Verdicts since start, by reason (for metrics).
        self.made: Counter[ProbeReason] = Counter()
        #: The clock value of the last pass of :meth:`run_due` that finished: every slot due by then
        #: is recorded (None before the first pass).
        self.probed_until: int | None = None

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    def plan(self, epoch: Epoch) -> int:
        """Add `epoch`'s slots for every known provider the SLA applies to in it (once per
        provider and epoch in this process; idempotent across restarts). Reads the chain.

        Returns:
            How many slots were new.
        """
        added = 0
        self._planned = {key for key in self._planned if key[0] >= epoch.number - 1}  # older epochs are done
        self.log.note_epoch(epoch)
        for entry in self.directory.providers():
            key = (epoch.number, entry.address)
            if key in self._planned:
                continue
            # Once out of the SLA for an epoch, always out for it: unjail and registration move
            # sla_from to now, after the epoch's start; leaving only ends later epochs.
            if self.directory.sla_applies(entry.address, epoch.start):
                times = probe_times(
                    self.secret,
                    self.chain_id,
                    epoch.number,
                    entry.address,
                    epoch.start,
                    epoch.length,
                    self.probes_per_epoch,
                )
                added += self.log.plan(epoch.number, entry.address, times)
            self._planned.add(key)
        return added

    async def run_due(self, now: int, epoch: Epoch | None = None) -> list[ProbeOutcome]:
        """Plan `epoch` (when given; chain reads run in a thread), then probe every due slot,
        at most ``concurrency`` at a time, recording each verdict as it comes.

        Args:
            now: unix seconds (chain time or wall time: the schedule's clock).
            epoch: the epoch `now` is in.

        Returns:
            The slots probed, in slot order.
        """
        if epoch is not None:
            await asyncio.to_thread(self.plan, epoch)
        slots = self.log.due(now, self.max_lateness)
        gate = asyncio.Semaphore(self.concurrency)

        async def one(slot: Slot) -> ProbeOutcome:
            async with gate:
                result = await self._probe(slot)
            if self.log.record(slot, result, int(time.time())):
                self.made[result.reason] += 1
            return ProbeOutcome(slot, result)

        outcomes = list(await asyncio.gather(*(one(slot) for slot in slots)))
        self.probed_until = now
        return outcomes

    async def _probe(self, slot: Slot) -> ProbeResult:
        entry = self.directory.entry(slot.provider)
        uri = entry.metadata_uri if entry is not None else ""
        url = self.directory.url(slot.provider)
        if url is None:
            if self._unprobeable.get(slot.provider) != uri:
                self._unprobeable[slot.provider] = uri
                log.warning("provider %s cannot be probed: metadata URI %r is not an http(s) URL", slot.provider, uri)
            return ProbeResult(False, ProbeReason.NO_URL, 0.0, f"metadata URI {uri!r}")
        result = await probe(self.client, url, slot.provider, self.chain_id, self.probe_timeout)
        if not result.up:
            log.info("probe %s at %s: down (%s) %s", slot.provider, url, result.reason.value, result.detail)
        return result

    def load(self, epoch: int) -> dict[str, ProbeCounts]:
        """Probe load figures: every provider's slots in `epoch`, by outcome."""
        return self.log.counts(epoch)

    # ── the node's UptimeSource (computerails.oracle_node.node) ──

    def subjects(self, epoch: int) -> list[str]:
        """Providers under the SLA in `epoch`: those planned for it whose SLA still applies (a
        downtime jail since suspends it; the chain would refuse their reports). Reads the chain
        at most every ``status_ttl`` seconds per epoch."""
        kept = self._subjects.get(epoch)
        if kept is not None and time.monotonic() - kept[0] < self.status_ttl:
            return kept[1]
        known = self.log.epoch(epoch)
        planned = sorted(self.log.counts(epoch))
        found = [p for p in planned if known is None or self.directory.sla_applies(p, known.start)]
        self._subjects[epoch] = (time.monotonic(), found)  # one entry an epoch: an hour's worth of bytes
        return found

    def observe(self, epoch: int, provider: str) -> tuple[int, int] | None:
        """The node's observation of `provider` in an ended `epoch`: (uptime in bps, probes
        counted), or ``None``: abstain (fewer than ``min_probes`` counted), or not yet (a slot is
        still to be probed or to expire: :meth:`run_due` settles it within ``max_lateness``)."""
        counts = self.log.counts(epoch).get(provider, ProbeCounts())
        if counts.pending:
            return None
        uptime = self.log.uptime_bps(epoch, provider, self.min_probes)
        return None if uptime is None else (uptime, counts.counted)
