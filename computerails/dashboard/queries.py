"""The dashboard's reads over the index (:mod:`computerails.indexer.schema`), one method per page,
each returning the page's model (:mod:`computerails.dashboard.models`).

Amounts are stored as 78-digit text (exact on SQLite and PostgreSQL alike), so sums are done here
in Python over the selected rows, not in SQL. Token symbols and decimals are not events: they are
read once per token from the node when the dashboard is given one (``--rpc``); without a node an
amount is shown in the token's smallest unit, named by the token's short address.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_abi import decode
from eth_utils import keccak
from sqlalchemy import Engine, Row, create_engine, event, func, select
from sqlalchemy.engine import make_url

from computerails.addresses import parse_address as _parse_address
from computerails.dashboard.models import (
    Claimant,
    ClientPage,
    DayActivity,
    EarningPoint,
    EscrowAccountRow,
    FlywheelPoint,
    IndexHead,
    JobPage,
    JobRow,
    NetworkPage,
    OracleSet,
    ProviderPage,
    ProviderRow,
    RewardsPage,
    RewardsRootRow,
    SlashRow,
    SlashTotals,
    Transition,
    TxEvent,
    TxPage,
    UptimeEpoch,
)
from computerails.errors import InvalidAddress
from computerails.indexer import schema as s
from computerails.indexer.flywheel import flywheel_series, rewards_clock
from computerails.status import JobStatus
from computerails.types import from_raw

_TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
LIVE_STATUSES = tuple(st.value for st in JobStatus if st is not JobStatus.NONE and not st.ended)
#: slashes.kind -> what the dashboard calls it. UptimeReported rows repeat the ProviderSlashed
#: that moved the stake (see the schema): they give the reason, not an amount.
SLASH_KINDS = {"CollateralSlashed": "collateral", "ProviderSlashed": "uptime", "FraudSlashed": "fraud"}


class NotFound(LookupError):
    """Nothing indexed under the key asked for (answered 404 with this reason)."""

    def __str__(self) -> str:
        return str(self.args[0])


class BadInput(ValueError):
    """A malformed key (answered 422 with this reason)."""


def parse_address(value: str) -> str:
    """A checksummed address from a URL.

    Raises:
        BadInput: not 0x and 40 hex digits, or a mixed-case address with a wrong checksum.
    """
    try:
        return _parse_address(value, "account")
    except InvalidAddress as exc:
        raise BadInput(str(exc)) from None


def parse_job_id(value: str) -> int:
    """Raises:
    BadInput: not a non-negative decimal integer."""
    if not value.isdigit() or len(value) > 78:
        raise BadInput(f"job id {value!r} is not a number: expected a non-negative integer such as 42")
    return int(value)


def parse_tx_hash(value: str) -> str:
    """Raises:
    BadInput: not 0x and 64 hex digits."""
    if not _TX_HASH.fullmatch(value):
        raise BadInput(f"transaction hash {value!r} is not 32 bytes of hex: expected 0x followed by 64 hex digits")
    return value.lower()


# ───────────────────────── opening the index read-only ─────────────────────────


def readonly_engine(db: str | Path) -> Engine:
    """An engine on the index at `db` (a SQLite path, ``sqlite:///...`` or ``postgresql://...``)
    that cannot write: SQLite opened with ``mode=ro`` and ``query_only``, a PostgreSQL session
    with ``default_transaction_read_only``.

    Raises:
        BadInput: `db` names another kind of database, or a SQLite file that does not exist.
    """
    text = str(db)
    if "://" not in text or text.startswith("sqlite"):
        path = Path(make_url(text).database or "") if "://" in text else Path(text).expanduser()
        if not path.is_file():
            raise BadInput(f"--db {text}: no index there (run `computerails index --until-head --db {text}` first)")
        engine = create_engine(f"sqlite:///file:{path.resolve()}?mode=ro&uri=true")

        @event.listens_for(engine, "connect")
        def _query_only(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA query_only=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

        return engine
    url = make_url(text)
    if url.drivername not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise BadInput(f"--db {text!r}: the index is a SQLite file path or a postgresql:// URL")
    url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, pool_pre_ping=True, connect_args={"options": "-c default_transaction_read_only=on"})


# ───────────────────────── tokens ─────────────────────────


@dataclass(frozen=True)
class Token:
    address: str
    symbol: str
    decimals: int

    def units(self, raw: int | None) -> Decimal:
        return from_raw(int(raw or 0), self.decimals)


class TokenBook:
    """Symbols and decimals by token address, read from the node once per token (``--rpc``).

    Args:
        rpc: the node's URL, or None: amounts then stay in smallest units (decimals 0), named
            by the token's short address (as they do when the node is down or serves another
            chain than the index's).
    """

    def __init__(self, rpc: str | None = None) -> None:
        self.rpc = rpc
        #: The indexed chain's id (set by the reader): a node of another chain is not asked.
        self.chain_id: int | None = None
        self._node_checked = False
        self._known: dict[str, Token] = {}
        self._staking_token: dict[str, str] = {}

    def _request(self, method: str, params: list[Any]) -> Any:
        from computerails import _http

        assert self.rpc is not None
        answer = _http.post(self.rpc, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=10)
        body = answer.json()
        if "result" not in body:
            raise LookupError(f"{method}: {body.get('error')}")
        return body["result"]

    def _node(self) -> bool:
        """Whether a node is given, answers, and serves the indexed chain (checked once)."""
        if self.rpc is not None and not self._node_checked:
            self._node_checked = True
            try:
                if int(self._request("eth_chainId", []), 16) != self.chain_id:
                    self.rpc = None
            except (LookupError, OSError, ValueError):
                self.rpc = None
        return self.rpc is not None

    def _call(self, to: str, signature: str, kind: str) -> Any:
        data = "0x" + keccak(text=signature)[:4].hex()
        result = self._request("eth_call", [{"to": to, "data": data}, "latest"])
        return decode([kind], bytes.fromhex(result[2:]))[0]

    def token(self, address: str) -> Token:
        known = self._known.get(address)
        if known is not None:
            return known
        token = Token(address, f"{address[:6]}…{address[-4:]}", 0)
        if self._node():
            try:
                token = Token(
                    address,
                    str(self._call(address, "symbol()", "string")),
                    int(self._call(address, "decimals()", "uint8")),
                )
            except (LookupError, OSError, ValueError):
                pass  # not an ERC-20 with metadata, or the node is gone: smallest units
        self._known[address] = token
        return token

    def staking_token(self, staking: str) -> Token | None:
        """The token ProviderStaking holds (None without a node)."""
        if not self._node():
            return None
        if staking not in self._staking_token:
            try:
                raw = self._call(staking, "stakingToken()", "address")
            except (LookupError, OSError, ValueError):
                return None
            self._staking_token[staking] = _parse_address(str(raw))
        return self.token(self._staking_token[staking])


# ───────────────────────── the reader ─────────────────────────


def _time(timestamp: int | None) -> datetime:
    return datetime.fromtimestamp(int(timestamp or 0), tz=timezone.utc)


def _add(totals: dict[str, Decimal], token: Token, amount: Decimal) -> None:
    totals[token.symbol] = totals.get(token.symbol, Decimal(0)) + amount


class IndexReader:
    """Reads the index for the dashboard's pages.

    Args:
        engine: the index (see :func:`readonly_engine`).
        tokens: symbols and decimals of the tokens it names.
    """

    def __init__(self, engine: Engine, tokens: TokenBook | None = None) -> None:
        self.engine = engine
        self.tokens = tokens or TokenBook()

    @classmethod
    def open(cls, db: str | Path, rpc: str | None = None) -> IndexReader:
        return cls(readonly_engine(db), TokenBook(rpc))

    # ── shared reads ──
    def _rows(self, statement: Any) -> Sequence[Row[Any]]:
        with self.engine.connect() as conn:
            return conn.execute(statement).all()

    def _meta(self) -> dict[str, str]:
        return {r.key: r.value for r in self._rows(select(s.meta))}

    def head(self) -> IndexHead:
        meta = self._meta()
        if "deployment" not in meta:
            raise NotFound("the index is empty: `computerails index` has not indexed a deployment into it yet")
        chain_id = int(json.loads(meta["deployment"])["chainId"])
        self.tokens.chain_id = chain_id
        cursor = int(meta.get("cursor", 0))
        stamp = self._rows(
            select(s.blocks.c.timestamp).where(s.blocks.c.number <= cursor).order_by(s.blocks.c.number.desc()).limit(1)
        )
        return IndexHead(
            chain_id=chain_id,
            block=cursor,
            time=_time(stamp[0].timestamp) if stamp else None,
        )

    def _contracts(self) -> dict[str, str]:
        """Contract name -> address, from the deployment the index was built for."""
        named = json.loads(self._meta()["deployment"])["contracts"]
        return {name: address for address, name in named.items()}

    def _stake_token(self) -> Token:
        staking = self._contracts().get("ProviderStaking")
        token = self.tokens.staking_token(staking) if staking else None
        if token is not None:
            return token
        paid = self._rows(select(s.payouts.c.token).where(s.payouts.c.contract == "ProviderStaking").limit(1))
        if paid:
            return self.tokens.token(paid[0].token)
        return Token("", "stake (smallest units)", 0)

    def _block_times(self, numbers: Iterable[int]) -> dict[int, int]:
        wanted = sorted(set(numbers))
        if not wanted:
            return {}
        rows = self._rows(select(s.blocks.c.number, s.blocks.c.timestamp).where(s.blocks.c.number.in_(wanted)))
        return {r.number: r.timestamp for r in rows}

    def _job_row(self, r: Any) -> JobRow:
        token = self.tokens.token(r.token)
        return JobRow(
            id=r.job_id,
            status=r.status,
            client=r.client,
            provider=r.provider,
            token=token.symbol,
            escrow=token.units(int(r.unit_price) * int(r.max_units)),
            created=_time(r.created_at),
        )

    def _jobs(self, *where: Any) -> list[Any]:
        return list(self._rows(select(s.jobs).where(*where).order_by(s.jobs.c.job_id)))

    # ── network ──
    def network(self) -> NetworkPage:
        head = self.head()
        stake = self._stake_token()
        jobs = self._jobs()
        providers = self._rows(select(s.providers).order_by(s.providers.c.registered_block))
        collections = self._rows(
            select(s.collections).order_by(s.collections.c.block_number, s.collections.c.log_index)
        )

        escrow_tvl: dict[str, Decimal] = {}
        for j in jobs:
            token = self.tokens.token(j.token)
            held = int(j.bond_outstanding)
            if j.status in LIVE_STATUSES:
                held += int(j.unit_price) * int(j.max_units)
            _add(escrow_tvl, token, token.units(held))
        for a in self._rows(select(s.escrow_accounts)):
            token = self.tokens.token(a.token)
            _add(escrow_tvl, token, token.units(int(a.balance)))
        for b in self._rows(select(s.balances).where(s.balances.c.source.in_(("escrow", "metered", "metered_fees")))):
            token = self.tokens.token(b.token)
            _add(escrow_tvl, token, token.units(int(b.amount)))

        fees: dict[str, Decimal] = {}
        for j in jobs:
            token = self.tokens.token(j.token)
            _add(fees, token, token.units(int(j.fee)))
        for c in collections:
            token = self.tokens.token(c.token)
            _add(fees, token, token.units(int(c.fee)))

        created: dict[date, int] = defaultdict(int)
        for j in jobs:
            created[_time(j.created_at).date()] += 1
        requests = self._requests_per_day(collections)
        days = sorted(set(created) | set(requests))
        activity = [DayActivity(day=d, jobs=created.get(d, 0), paid_requests=requests.get(d, 0)) for d in days]

        by_status: dict[str, int] = defaultdict(int)
        for j in jobs:
            by_status[j.status] += 1
        jobs_of: dict[str, int] = defaultdict(int)
        for j in jobs:
            jobs_of[j.provider] += 1
        rows = [
            ProviderRow(
                address=p.address,
                status=_provider_status(p),
                staked=stake.units(int(p.staked)),
                jobs=jobs_of[p.address],
            )
            for p in providers
        ]
        provider_status: dict[str, int] = defaultdict(int)
        for row in rows:
            provider_status[row.status] += 1

        staked = sum((int(p.staked) for p in providers), 0)
        unbonding = sum((int(p.unbonding) for p in providers), 0)
        return NetworkPage(
            head=head,
            escrow_tvl=escrow_tvl,
            stake_token=stake.symbol,
            stake_tvl=stake.units(staked + unbonding),
            staked=stake.units(staked),
            unbonding=stake.units(unbonding),
            jobs_total=len(jobs),
            jobs_by_status=dict(sorted(by_status.items())),
            paid_requests_total=sum(requests.values()),
            activity=activity,
            fees=fees,
            slashes=self._slash_totals(stake),
            providers_by_status=dict(sorted(provider_status.items())),
            providers=rows,
            oracle_set=self._oracle_set(),
            flywheel=self.flywheel(),
        )

    # ── rewards ──
    def _reward_token(self) -> Token:
        token = self._meta().get("rewards:token")
        return self.tokens.token(token) if token else Token("", "reward (smallest units)", 0)

    def flywheel(self) -> list[FlywheelPoint]:
        """The flywheel curve by reward epoch, amounts in token units (see :mod:`computerails.indexer.flywheel`)."""
        with self.engine.connect() as conn:
            clock = rewards_clock(conn)
            if clock is None:
                return []
            tokens = {clock.token} | {
                str(t) for (t,) in conn.execute(select(s.jobs.c.token).union(select(s.collections.c.token)))
            }
            decimals = {t: self.tokens.token(t).decimals for t in tokens if t}
            series = flywheel_series(conn, decimals)
        reward = self.tokens.token(clock.token) if clock.token else Token("", "reward", 0)
        points = []
        for p in series:
            revenue: dict[str, Decimal] = {}
            for address, raw in p.fee_revenue.items():
                _add(revenue, self.tokens.token(address), self.tokens.token(address).units(raw))
            points.append(
                FlywheelPoint(
                    epoch=p.epoch,
                    start=_time(p.start),
                    subsidy=reward.units(p.subsidy),
                    fee_revenue=revenue,
                    subsidy_share=p.subsidy_share,
                )
            )
        return points

    def rewards(self) -> RewardsPage:
        """The distributor's books, its roots with their state, the top claimants and the flywheel."""
        head = self.head()
        meta = self._meta()
        deployed = "RewardsDistributor" in self._contracts()
        token = self._reward_token()
        r = s.rewards_roots
        roots = self._rows(select(r).order_by(r.c.block_number, r.c.log_index))
        times = self._block_times(x.block_number for x in roots)
        now = int(head.time.timestamp()) if head.time else 0
        live = [x for x in roots if not x.vetoed and x.activates_at <= now]
        active = (live[-1].block_number, live[-1].log_index) if live else None
        rows = []
        for x in roots:
            if x.vetoed:
                status = "vetoed"
            elif x.activates_at > now:
                status = "pending"
            elif (x.block_number, x.log_index) == active:
                status = "active"
            else:
                status = "superseded"
            rows.append(
                RewardsRootRow(
                    root=x.root,
                    status=status,
                    total=token.units(x.total),
                    through=x.through,
                    released=token.units(x.released),
                    activates_at=_time(x.activates_at),
                    vetoed_by=x.vetoed_by,
                    veto_reason=x.veto_reason,
                    time=_time(times.get(x.block_number)),
                    block=x.block_number,
                    tx_hash=x.tx_hash,
                )
            )
        standing = [x for x in roots if not x.vetoed]
        funded = sum((int(a) for (a,) in self._rows(select(s.rewards_funding.c.amount))), 0)
        claimed = sum((int(a) for (a,) in self._rows(select(s.rewards_claims.c.amount))), 0)
        accounts = sorted(self._rows(select(s.rewards_accounts)), key=lambda a: (-int(a.claimed), a.account))
        genesis = meta.get("rewards:genesis")
        length = meta.get("rewards:epoch_length")
        return RewardsPage(
            head=head,
            deployed=deployed,
            token=token.symbol,
            genesis=_time(int(genesis)) if genesis else None,
            epoch_seconds=int(length) if length else None,
            funded=token.units(funded),
            distributed=token.units(int(standing[-1].total) if standing else 0),
            claimed=token.units(claimed),
            held=token.units(funded - claimed),
            roots=list(reversed(rows)),
            top_claimants=[
                Claimant(account=a.account, recipient=a.recipient, claimed=token.units(int(a.claimed)))
                for a in accounts[:10]
                if int(a.claimed) > 0
            ],
            flywheel=self.flywheel(),
        )

    def _requests_per_day(self, collections: Sequence[Any]) -> dict[date, int]:
        """Requests paid per day: a voucher's request count is its collection's running total,
        so a collection's new requests are the rise since its previous voucher."""
        times = self._block_times(c.block_number for c in collections)
        last: dict[str, int] = {}
        per_day: dict[date, int] = defaultdict(int)
        for c in collections:
            count = int(c.request_count)
            per_day[_time(times.get(c.block_number)).date()] += count - last.get(c.collection_id, 0)
            last[c.collection_id] = count
        return per_day

    def _slash_totals(self, stake: Token) -> list[SlashTotals]:
        counts: dict[str, int] = defaultdict(int)
        amounts: dict[str, int] = defaultdict(int)
        for r in self._rows(select(s.slashes.c.kind, s.slashes.c.amount).where(s.slashes.c.kind.in_(SLASH_KINDS))):
            counts[SLASH_KINDS[r.kind]] += 1
            amounts[SLASH_KINDS[r.kind]] += int(r.amount)
        return [SlashTotals(kind=k, count=counts[k], amount=stake.units(amounts[k])) for k in sorted(counts)]

    def _oracle_set(self) -> OracleSet:
        active = self._rows(
            select(s.oracles.c.address).where(s.oracles.c.active).order_by(s.oracles.c.since_block, s.oracles.c.address)
        )
        threshold, version = 0, 0
        changes = self._rows(
            select(s.governance_changes.c.event, s.governance_changes.c.args)
            .where(s.governance_changes.c.event.in_(("ThresholdSet", "OracleConfigChanged")))
            .order_by(s.governance_changes.c.block_number, s.governance_changes.c.log_index)
        )
        for c in changes:
            args = c.args if isinstance(c.args, dict) else json.loads(c.args)
            threshold = int(args["threshold"])
            if c.event == "OracleConfigChanged":
                version = int(args["configVersion"])
        return OracleSet(oracles=[r.address for r in active], threshold=threshold, config_version=version)

    # ── provider ──
    def provider(self, address: str) -> ProviderPage:
        head = self.head()
        found = self._rows(select(s.providers).where(s.providers.c.address == address))
        if not found:
            raise NotFound(
                f"provider {address} has not registered (the index holds the chain up to block {head.block})"
            )
        p = found[0]
        stake = self._stake_token()
        return ProviderPage(
            head=head,
            address=address,
            status=_provider_status(p),
            stake_token=stake.symbol,
            metadata_uri=p.metadata_uri,
            staked=stake.units(int(p.staked)),
            locked=stake.units(int(p.locked)),
            free=stake.units(int(p.free)),
            unbonding=stake.units(int(p.unbonding)),
            unbonding_end=_time(p.unbonding_end) if int(p.unbonding) and p.unbonding_end else None,
            total_slashed=stake.units(int(p.total_slashed)),
            earnings_total=self._earnings_total(address),
            earnings=self._earnings(address),
            uptime=self._uptime(address, stake),
            slashes=self._slashes(address, stake),
            jobs=[self._job_row(j) for j in self._jobs(s.jobs.c.provider == address)],
        )

    def _earning_rows(self, address: str) -> list[tuple[int, int, str, str, Token, int]]:
        """(block, log index, tx, source, token, net) of every payment to the provider."""
        t = s.job_transitions
        settled = self._rows(
            select(t.c.block_number, t.c.log_index, t.c.tx_hash, s.jobs.c.token, s.jobs.c.provider_net)
            .join(s.jobs, s.jobs.c.job_id == t.c.job_id)
            .where(s.jobs.c.provider == address, t.c.event == "JobSettled")
        )
        c = s.collections
        collected = self._rows(
            select(c.c.block_number, c.c.log_index, c.c.tx_hash, c.c.token, c.c.provider_net).where(
                c.c.provider == address
            )
        )
        rows = [
            (r.block_number, r.log_index, r.tx_hash, "job", self.tokens.token(r.token), int(r.provider_net))
            for r in settled
        ]
        rows += [
            (r.block_number, r.log_index, r.tx_hash, "metered", self.tokens.token(r.token), int(r.provider_net))
            for r in collected
        ]
        return sorted(rows, key=lambda r: (r[0], r[1]))

    def _earnings_total(self, address: str) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for *_where, token, net in self._earning_rows(address):
            _add(totals, token, token.units(net))
        return totals

    def _earnings(self, address: str) -> list[EarningPoint]:
        """Cumulative net earnings in the first payment token the provider was paid in (a
        chart has one unit); every token's total is in ``earnings_total``."""
        rows = self._earning_rows(address)
        if not rows:
            return []
        first = rows[0][4]
        times = self._block_times(r[0] for r in rows)
        points, running = [], Decimal(0)
        for block, _log, tx, source, token, net in rows:
            if token != first:
                continue
            amount = token.units(net)
            running += amount
            points.append(
                EarningPoint(
                    time=_time(times.get(block)),
                    block=block,
                    tx_hash=tx,
                    source=source,
                    amount=amount,
                    cumulative=running,
                )
            )
        return points

    def _uptime(self, address: str, stake: Token) -> list[UptimeEpoch]:
        u = s.uptime
        rows = self._rows(select(u).where(u.c.provider == address).order_by(u.c.epoch))
        return [
            UptimeEpoch(epoch=r.epoch, uptime_bps=r.uptime_bps, slashed=stake.units(int(r.slashed)), tx_hash=r.tx_hash)
            for r in rows
        ]

    def _slashes(self, address: str, stake: Token) -> list[SlashRow]:
        sl = s.slashes
        rows = self._rows(select(sl).where(sl.c.provider == address).order_by(sl.c.block_number, sl.c.log_index))
        txs = {r.tx_hash for r in rows}
        times = self._block_times(r.block_number for r in rows)
        reports = (
            {
                u.tx_hash: u
                for u in self._rows(select(s.uptime).where(s.uptime.c.tx_hash.in_(txs), s.uptime.c.provider == address))
            }
            if txs
            else {}
        )
        frauds = (
            {
                f.tx_hash: f
                for f in self._rows(select(s.fraud_attestations).where(s.fraud_attestations.c.tx_hash.in_(txs)))
            }
            if txs
            else {}
        )
        jobs_in_tx: dict[str, list[Any]] = defaultdict(list)
        if txs:
            t = s.job_transitions
            for r in self._rows(
                select(t.c.tx_hash, t.c.log_index, t.c.job_id, t.c.status)
                .join(s.jobs, s.jobs.c.job_id == t.c.job_id)
                .where(t.c.tx_hash.in_(txs), s.jobs.c.provider == address)
            ):
                jobs_in_tx[r.tx_hash].append(r)
        out = []
        for r in rows:
            if r.kind not in SLASH_KINDS:
                continue
            job_id = None
            if r.kind == "CollateralSlashed":
                near = sorted(jobs_in_tx.get(r.tx_hash, []), key=lambda j: abs(j.log_index - r.log_index))
                job_id = near[0].job_id if near else None
                outcome = near[0].status if near else "failed"
                reason = f"job {outcome}: its collateral was slashed"
                if r.beneficiary and int(r.beneficiary, 16):
                    reason += f", {stake.units(int(r.beneficiary_amount or 0))} {stake.symbol} to its client"
            elif r.kind == "ProviderSlashed":
                report = reports.get(r.tx_hash)
                reason = (
                    f"uptime {report.uptime_bps / 100:.2f} % in epoch {report.epoch}, below the SLA"
                    if report is not None
                    else "uptime below the SLA"
                )
                if int(r.deferred or 0):
                    reason += f"; {stake.units(int(r.deferred))} {stake.symbol} owed as shortfall"
            else:
                fraud = frauds.get(r.tx_hash)
                reason = (
                    f"wrong answer to request {int(fraud.request_index)} of payer {fraud.payer} "
                    f"(receipt {fraud.receipt_digest[:10]}…)"
                    if fraud is not None
                    else "a wrong answer proven by a fraud attestation"
                )
            out.append(
                SlashRow(
                    kind=SLASH_KINDS[r.kind],
                    amount=stake.units(int(r.amount)),
                    reason=reason,
                    time=_time(times.get(r.block_number)),
                    block=r.block_number,
                    tx_hash=r.tx_hash,
                    job_id=job_id,
                )
            )
        return out

    # ── client ──
    def client(self, address: str) -> ClientPage:
        head = self.head()
        jobs = self._jobs(s.jobs.c.client == address)
        c = s.collections
        collections = self._rows(select(c).where(c.c.payer == address).order_by(c.c.block_number, c.c.log_index))
        accounts = self._rows(select(s.escrow_accounts).where(s.escrow_accounts.c.payer == address))
        compensated = self._rows(
            select(s.slashes).where(
                s.slashes.c.beneficiary == address, s.slashes.c.kind.in_(("CollateralSlashed", "FraudSlashed"))
            )
        )
        if not (jobs or collections or accounts or compensated):
            raise NotFound(
                f"{address} has no jobs, metered escrow or compensation "
                f"(the index holds the chain up to block {head.block})"
            )
        spend: dict[str, Decimal] = {}
        refunds: dict[str, Decimal] = {}
        locked: dict[str, Decimal] = {}
        for j in jobs:
            token = self.tokens.token(j.token)
            _add(spend, token, token.units(int(j.gross)))
            _add(refunds, token, token.units(int(j.refund)))
            if j.status in LIVE_STATUSES:
                _add(locked, token, token.units(int(j.unit_price) * int(j.max_units) + int(j.bond_outstanding)))
        spent: dict[tuple[str, str], int] = defaultdict(int)
        for col in collections:
            token = self.tokens.token(col.token)
            _add(spend, token, token.units(int(col.gross)))
            spent[(col.provider, col.token)] += int(col.gross)
        stake = self._stake_token()
        compensation: dict[str, Decimal] = {}
        for sl in compensated:
            _add(compensation, stake, stake.units(int(sl.beneficiary_amount or 0)))
        first_deposit = self._first_deposits(address)
        rows = []
        for a in accounts:
            token = self.tokens.token(a.token)
            used = spent.get((a.provider, a.token), 0)
            runway = None
            start = first_deposit.get((a.provider, a.token))
            if used and start is not None and head.time is not None:
                days = max((head.time - _time(start)) / timedelta(days=1), 1.0)
                runway = float(Decimal(int(a.balance)) / (Decimal(used) / Decimal(days)))
            rows.append(
                EscrowAccountRow(
                    provider=a.provider,
                    token=token.symbol,
                    balance=token.units(int(a.balance)),
                    thawing=token.units(int(a.thawing)),
                    spent=token.units(used),
                    runway_days=runway,
                )
            )
        all_jobs = [self._job_row(j) for j in jobs]
        return ClientPage(
            head=head,
            address=address,
            spend=spend,
            refunds=refunds,
            compensation=compensation,
            escrow_locked=locked,
            open_jobs=[j for j in all_jobs if j.status in LIVE_STATUSES],
            jobs=all_jobs,
            accounts=rows,
        )

    def _first_deposits(self, payer: str) -> dict[tuple[str, str], int]:
        m = s.escrow_movements
        rows = self._rows(
            select(m.c.provider, m.c.token, func.min(s.blocks.c.timestamp).label("first"))
            .join(s.blocks, s.blocks.c.number == m.c.block_number)
            .where(m.c.payer == payer, m.c.kind == "EscrowDeposited")
            .group_by(m.c.provider, m.c.token)
        )
        return {(r.provider, r.token): int(r.first) for r in rows}

    # ── job ──
    def job(self, job_id: int) -> JobPage:
        head = self.head()
        found = self._jobs(s.jobs.c.job_id == job_id)
        if not found:
            raise NotFound(f"no job {job_id} (the index holds the chain up to block {head.block})")
        j = found[0]
        token = self.tokens.token(j.token)
        stake = self._stake_token()
        t = s.job_transitions
        steps = self._rows(select(t).where(t.c.job_id == job_id).order_by(t.c.block_number, t.c.log_index))
        times = self._block_times(r.block_number for r in steps)
        atts = {
            (a.block_number, a.log_index): a
            for a in self._rows(select(s.attestations).where(s.attestations.c.job_id == job_id))
        }
        disputes = {
            (d.block_number, d.log_index): d
            for d in self._rows(select(s.disputes).where(s.disputes.c.job_id == job_id))
        }
        timeline = [
            Transition(
                event=r.event,
                status=r.status,
                time=_time(times.get(r.block_number)),
                block=r.block_number,
                tx_hash=r.tx_hash,
                detail=_detail(
                    r,
                    token,
                    stake,
                    atts.get((r.block_number, r.log_index)),
                    disputes.get((r.block_number, r.log_index)),
                ),
            )
            for r in steps
        ]
        return JobPage(
            head=head,
            job=self._job_row(j),
            unit_price=token.units(int(j.unit_price)),
            max_units=int(j.max_units),
            units=int(j.units),
            deadline=_time(j.deadline),
            spec_hash=j.spec_hash,
            timeline=timeline,
        )

    # ── transaction ──
    def tx(self, tx_hash: str) -> TxPage:
        head = self.head()
        e = s.events
        rows = self._rows(select(e).where(e.c.tx_hash == tx_hash).order_by(e.c.log_index))
        if not rows:
            raise NotFound(
                f"no protocol event in transaction {tx_hash} (the index holds the chain up to block {head.block})"
            )
        block = rows[0].block_number
        times = self._block_times([block])
        return TxPage(
            head=head,
            tx_hash=tx_hash,
            block=block,
            time=_time(times.get(block)),
            events=[
                TxEvent(
                    contract=r.contract,
                    event=r.event,
                    log_index=r.log_index,
                    args={k: str(v) for k, v in (r.args if isinstance(r.args, dict) else json.loads(r.args)).items()},
                )
                for r in rows
            ],
        )

    # ── listings (the static snapshot) ──
    def clients(self) -> list[str]:
        """Every address with a client page: jobs' clients, metered payers, compensated clients."""
        found: set[str] = {r.client for r in self._rows(select(s.jobs.c.client).distinct())}
        found |= {r.payer for r in self._rows(select(s.escrow_accounts.c.payer).distinct())}
        found |= {r.payer for r in self._rows(select(s.collections.c.payer).distinct())}
        return sorted(found)

    def job_ids(self) -> list[int]:
        return [r.job_id for r in self._rows(select(s.jobs.c.job_id).order_by(s.jobs.c.job_id))]

    # ── search ──
    def search(self, query: str) -> tuple[str, str]:
        """(kind, key) of the page `query` names.

        Raises:
            BadInput: `query` is neither an address, a job id nor a transaction hash.
            NotFound: it is one, but the index knows nothing under it.
        """
        q = query.strip()
        if q.startswith("#"):
            q = q[1:]
        if q.isdigit():
            job_id = parse_job_id(q)
            self.job(job_id)
            return "job", str(job_id)
        if _TX_HASH.fullmatch(q):
            tx_hash = parse_tx_hash(q)
            self.tx(tx_hash)
            return "tx", tx_hash
        if _ADDRESS.fullmatch(q):
            address = parse_address(q)
            if self._rows(select(s.providers.c.address).where(s.providers.c.address == address)):
                return "provider", address
            self.client(address)
            return "client", address
        raise BadInput(
            f"{query!r} is not an address (0x and 40 hex digits), a job id (a number) "
            "or a transaction hash (0x and 64 hex digits)"
        )


def _provider_status(p: Any) -> str:
    if p.left:
        return "left"
    if p.jailed:
        return "jailed"
    return "active"


def _detail(r: Any, token: Token, stake: Token, attestation: Any, dispute: Any) -> str:
    """One line on what a job event did."""
    amount = int(r.amount) if r.amount is not None else 0
    pay = f"{token.units(amount)} {token.symbol}"
    if r.event == "JobCreated":
        return f"escrow {pay} locked by the client"
    if r.event == "JobAccepted":
        return f"collateral {stake.units(amount)} {stake.symbol} locked by the provider"
    if r.event == "JobAttested" and attestation is not None:
        if not attestation.success:
            return "oracles attested failure: the client is refunded, the collateral slashed"
        ends = _time(attestation.challenge_ends)
        units = int(attestation.units)
        return f"oracles attested success, {units} units; challenge window until {ends:%Y-%m-%d %H:%M} UTC"
    if r.event == "JobDisputed" and dispute is not None:
        bond = f"{token.units(int(dispute.bond or 0))} {token.symbol}"
        return f"client posted a bond of {bond}; dispute open until {_time(dispute.dispute_ends):%Y-%m-%d %H:%M} UTC"
    if r.event == "DisputeResolved" and dispute is not None:
        return "arbitrator upheld the dispute" if dispute.upheld else "arbitrator rejected the dispute"
    if r.event == "JobSettled":
        return f"paid out {pay} gross"
    if r.event in ("JobRefunded", "JobCancelled"):
        return f"{pay} refunded to the client"
    return pay if amount else ""
