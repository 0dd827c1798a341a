"""Applying decoded events to the index: the event-derived rows of each event, and the changes
to the current-state tables (``providers``, ``jobs``, ``escrow_accounts``, ``balances``,
``oracles``, ``rewards_accounts``).

One code path serves both indexing and the replay after a reorg rollback: :func:`derive_rows`
turns an event into rows, and :class:`State` applies it to the current state, reading what it
needs from the database once per page and writing back what changed at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, or_, select, tuple_, update

from computerails.indexer import schema as s
from computerails.indexer.decode import Event
from computerails.status import JobStatus

ZERO = "0x0000000000000000000000000000000000000000"

#: Events recorded in ``governance_changes`` (besides every role and timelock event).
GOVERNANCE = {
    "OracleAdded",
    "OracleRemoved",
    "OracleConfigChanged",
    "ThresholdSet",
    "FeeSet",
    "TermsSet",
    "WindowsSet",
    "DisputeBondSet",
    "ClientSlashShareSet",
    "PaymentTokenSet",
    "TreasurySet",
    "Paused",
    "Unpaused",
    "FraudTermsSet",
    "PeriodsSet",
    "MinStakeSet",
    "UnbondingDelaySet",
    "ReportWindowSet",
    "ParamsSet",
    "CalculatorParamsSet",
    "ScheduleSet",
    "RoleGranted",
    "RoleRevoked",
    "RoleAdminChanged",
    "EIP712DomainChanged",
    "CallScheduled",
    "CallExecuted",
    "CallSalt",
    "Cancelled",
    "MinDelayChange",
    "SignerAuthorized",
    "SignerRevoked",
    "SignerThawStarted",
    "SignerThawCancelled",
}

STAKE_MOVEMENTS = {
    "ProviderRegistered": ("amount", None),
    "StakeAdded": ("amount", "staked"),
    "UnbondRequested": ("amount", "unbonding"),
    "UnbondWithdrawn": ("amount", None),
    "CollateralLocked": ("amount", "locked"),
    "CollateralReleased": ("amount", "locked"),
    "ShortfallPaid": ("amount", "remaining"),
}

JOB_EVENTS = {
    "JobCreated",
    "JobAccepted",
    "JobAttested",
    "JobDisputed",
    "DisputeResolved",
    "JobSettled",
    "JobSettleSkipped",
    "JobRefunded",
    "JobCancelled",
}


def _int(v: Any) -> int:
    return int(v)


def _opt(args: dict[str, Any], key: str) -> int | None:
    return int(args[key]) if key in args else None


def derive_rows(ev: Event, staking_token: str, job_status: str) -> list[tuple[Table, dict[str, Any]]]:
    """The rows `ev` adds to the event-derived tables (besides its ``events`` row).

    Args:
        ev: the event.
        staking_token: the staking token (ProviderStaking's Claimed names none).
        job_status: the job's status after the event, for ``job_transitions``.
    """
    a, w, name = ev.args, ev.where, ev.event
    rows: list[tuple[Table, dict[str, Any]]] = []
    if ev.contract == "ProviderStaking" and name in STAKE_MOVEMENTS:
        amount_key, total_key = STAKE_MOVEMENTS[name]
        rows.append(
            (
                s.stake_movements,
                {
                    **w,
                    "provider": a["provider"],
                    "kind": name,
                    "amount": _int(a[amount_key]),
                    "total": _int(a[total_key]) if total_key else None,
                },
            )
        )
    if (ev.contract == "JobEscrow" and name in JOB_EVENTS) or name == "AttestationSkipped":
        actor = a.get("client") or a.get("provider") or a.get("arbitrator")
        amount = None
        if name == "JobCreated":
            amount = _int(a["unitPrice"]) * _int(a["maxUnits"])
        else:
            for key in ("collateral", "bond", "gross", "refund"):
                if key in a:
                    amount = _int(a[key])
                    break
        rows.append(
            (
                s.job_transitions,
                {
                    **w,
                    "job_id": _int(a["jobId"]),
                    "event": name,
                    "status": job_status,
                    "actor": actor,
                    "amount": amount,
                },
            )
        )
    if name == "JobAttested":
        rows.append(
            (
                s.attestations,
                {
                    **w,
                    "job_id": _int(a["jobId"]),
                    "success": a["success"],
                    "units": _int(a["units"]),
                    "result_hash": a["resultHash"],
                    "challenge_ends": _int(a["challengeEnds"]),
                },
            )
        )
    elif name == "JobDisputed":
        rows.append(
            (
                s.disputes,
                {
                    **w,
                    "job_id": _int(a["jobId"]),
                    "event": name,
                    "party": a["client"],
                    "bond": _int(a["bond"]),
                    "dispute_ends": _int(a["disputeEnds"]),
                    "upheld": None,
                },
            )
        )
    elif name == "DisputeResolved":
        rows.append(
            (
                s.disputes,
                {
                    **w,
                    "job_id": _int(a["jobId"]),
                    "event": name,
                    "party": a["arbitrator"],
                    "bond": None,
                    "dispute_ends": None,
                    "upheld": a["upheld"],
                },
            )
        )
    elif name in ("ProviderSlashed", "CollateralSlashed", "FraudSlashed"):
        slash: dict[str, Any] = {
            **w,
            "kind": name,
            "provider": a["provider"],
            "beneficiary": a["beneficiary"],
            "requested": _opt(a, "requested"),
            "from_free": _opt(a, "fromFree"),
            "from_unbonding": _opt(a, "fromUnbonding"),
            "from_locked": _opt(a, "fromLocked"),
            "deferred": _opt(a, "deferred"),
            "beneficiary_amount": _int(a["beneficiaryAmount"]),
            "treasury_amount": _opt(a, "treasuryAmount"),
            "epoch": None,
        }
        if name == "ProviderSlashed":
            slash["amount"] = _int(a["fromFree"]) + _int(a["fromUnbonding"])
        else:
            slash["amount"] = _int(a["amount"])
        if name == "CollateralSlashed":
            slash["from_locked"] = _int(a["amount"])
        if name == "FraudSlashed":
            slash["treasury_amount"] = _int(a["amount"]) - _int(a["beneficiaryAmount"])
        rows.append((s.slashes, slash))
    elif name == "UptimeReported":
        rows.append(
            (
                s.uptime,
                {
                    **w,
                    "provider": a["provider"],
                    "epoch": _int(a["epoch"]),
                    "relayer": a["relayer"],
                    "uptime_bps": _int(a["uptimeBps"]),
                    "slash_requested": _int(a["slashRequested"]),
                    "slashed": _int(a["slashed"]),
                    "relayer_reward": _int(a["relayerReward"]),
                },
            )
        )
        if _int(a["slashRequested"]) > 0:
            rows.append(
                (
                    s.slashes,
                    {
                        **w,
                        "kind": name,
                        "provider": a["provider"],
                        "beneficiary": a["relayer"],
                        "amount": _int(a["slashed"]),
                        "requested": _int(a["slashRequested"]),
                        "from_free": None,
                        "from_unbonding": None,
                        "from_locked": None,
                        "deferred": None,
                        "beneficiary_amount": _int(a["relayerReward"]),
                        "treasury_amount": None,
                        "epoch": _int(a["epoch"]),
                    },
                )
            )
    elif name in ("EscrowDeposited", "EscrowThawStarted", "EscrowThawCancelled", "EscrowWithdrawn"):
        rows.append(
            (
                s.escrow_movements,
                {
                    **w,
                    "kind": name,
                    "payer": a["payer"],
                    "provider": a["provider"],
                    "token": a["token"],
                    "funder": a.get("funder"),
                    "amount": _opt(a, "amount"),
                    "balance": _opt(a, "balance"),
                    "thaw_end": _opt(a, "thawEnd"),
                },
            )
        )
    elif name == "VoucherCollected":
        rows.append(
            (
                s.collections,
                {
                    **w,
                    "payer": a["payer"],
                    "provider": a["provider"],
                    "collection_id": a["collectionId"],
                    "token": a["token"],
                    "signer": a["signer"],
                    "gross": _int(a["gross"]),
                    "provider_net": _int(a["providerNet"]),
                    "fee": _int(a["fee"]),
                    "collected": _int(a["collected"]),
                    "outstanding": _int(a["outstanding"]),
                    "request_count": _int(a["requestCount"]),
                },
            )
        )
    elif name == "FraudPunished":
        rows.append(
            (
                s.fraud_attestations,
                {
                    **w,
                    "provider": a["provider"],
                    "payer": a["payer"],
                    "receipt_digest": a["receiptDigest"],
                    "request_index": _int(a["requestIndex"]),
                },
            )
        )
    elif ev.contract == "RewardsDistributor":
        rows.extend(_rewards_rows(ev))
    elif name in ("Claimed", "Withdrawn"):
        token = a.get("token", staking_token)
        rows.append(
            (
                s.payouts,
                {
                    **w,
                    "contract": ev.contract,
                    "event": name,
                    "account": a["account"],
                    "token": token,
                    "amount": _int(a["amount"]),
                },
            )
        )
    if name in GOVERNANCE:
        rows.append((s.governance_changes, {**w, "contract": ev.contract, "event": name, "args": a}))
    return rows


def _rewards_rows(ev: Event) -> list[tuple[Table, dict[str, Any]]]:
    """RootPosted, Claimed and Funded rows (a RootVetoed changes a row: :func:`apply_vetoes`)."""
    a, w = ev.args, ev.where
    if ev.event == "RootPosted":
        row = {
            **w,
            "root": a["root"],
            "total": _int(a["total"]),
            "through": _int(a["through"]),
            "released": _int(a["released"]),
            "fee_average": _int(a["feeAverage"]),
            "activates_at": _int(a["activatesAt"]),
            "vetoed": False,
            "vetoed_by": None,
            "veto_reason": None,
            "vetoed_block": None,
        }
        return [(s.rewards_roots, row)]
    if ev.event == "Claimed":
        row = {
            **w,
            "account": a["account"],
            "recipient": a["recipient"],
            "amount": _int(a["amount"]),
            "cumulative": _int(a["cumulative"]),
        }
        return [(s.rewards_claims, row)]
    if ev.event == "Funded":
        return [(s.rewards_funding, {**w, "funder": a["funder"], "amount": _int(a["amount"])})]
    return []


def apply_vetoes(conn: Connection, vetoes: Iterable[Event]) -> None:
    """Marks, for each RootVetoed, the latest ``rewards_roots`` row of its root posted before it
    (the same root may be posted again after a veto: the earlier post keeps its veto). Run after
    the page's rows are written, so a post and its veto in one page work too."""
    r = s.rewards_roots
    for ev in vetoes:
        before = or_(
            r.c.block_number < ev.block_number,
            and_(r.c.block_number == ev.block_number, r.c.log_index < ev.log_index),
        )
        latest = conn.execute(
            select(r.c.block_number, r.c.log_index)
            .where(r.c.root == ev.args["root"], before)
            .order_by(r.c.block_number.desc(), r.c.log_index.desc())
            .limit(1)
        ).first()
        if latest is None:
            raise KeyError(f"RootVetoed of {ev.args['root']} at block {ev.block_number}: no RootPosted of it indexed")
        conn.execute(
            update(r)
            .where(r.c.block_number == latest.block_number, r.c.log_index == latest.log_index)
            .values(vetoed=True, vetoed_by=ev.args["by"], veto_reason=ev.args["reason"], vetoed_block=ev.block_number)
        )


def unveto_above(conn: Connection, ancestor: int) -> None:
    """Clears the vetoes recorded above `ancestor` (a rollback: the RootVetoed is gone)."""
    r = s.rewards_roots
    conn.execute(
        update(r)
        .where(r.c.vetoed_block > ancestor)
        .values(vetoed=False, vetoed_by=None, veto_reason=None, vetoed_block=None)
    )


# ── current state ──

_KEYS: dict[str, tuple[str, ...]] = {
    "providers": ("address",),
    "jobs": ("job_id",),
    "escrow_accounts": ("payer", "provider", "token"),
    "balances": ("account", "token", "source"),
    "oracles": ("address",),
    "rewards_accounts": ("account",),
    "meta": ("key",),
}

#: meta keys that are state (rebuilt with it): each contract's treasury.
TREASURY_KEY = "treasury:"


class State:
    """The current-state rows a page touches: read once, changed in memory, written at :meth:`flush`.

    Args:
        conn: the page's transaction.
        staking_token: the deployment's staking token.
    """

    def __init__(self, conn: Connection, staking_token: str) -> None:
        self.conn = conn
        self.staking_token = staking_token
        self._rows: dict[tuple[str, tuple[Any, ...]], dict[str, Any] | None] = {}
        self._dirty: set[tuple[str, tuple[Any, ...]]] = set()
        self._tables = {t.name: t for t in (*s.STATE_TABLES, s.meta)}
        # table -> first-key-column values whose rows are all loaded (a miss there is "no row")
        self._loaded: dict[str, set[Any]] = {}

    def prefetch(self, table: str, values: Iterable[Any]) -> None:
        """Loads, in one query per 500 values, every row of `table` whose first key column is
        one of `values` (a page's state reads would otherwise be one query each)."""
        t = self._tables[table]
        column = t.c[_KEYS[table][0]]
        wanted = sorted(set(values) - self._loaded.get(table, set()), key=str)
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            for row in self.conn.execute(select(t).where(column.in_(chunk))).mappings():
                key = (table, tuple(row[c] for c in _KEYS[table]))
                self._rows.setdefault(key, dict(row))
            self._loaded.setdefault(table, set()).update(chunk)

    def get(self, table: str, *key: Any) -> dict[str, Any] | None:
        k = (table, key)
        if k not in self._rows:
            if key[0] in self._loaded.get(table, ()):
                return None
            t = self._tables[table]
            cond = and_(*(t.c[c] == v for c, v in zip(_KEYS[table], key)))
            row = self.conn.execute(select(t).where(cond)).mappings().first()
            self._rows[k] = dict(row) if row is not None else None
        return self._rows[k]

    def put(self, table: str, row: dict[str, Any]) -> None:
        k = (table, tuple(row[c] for c in _KEYS[table]))
        self._rows[k] = row
        self._dirty.add(k)

    def flush(self) -> None:
        """Writes every changed row (delete then insert: one portable upsert), a few statements
        per table."""
        keys: dict[str, list[tuple[Any, ...]]] = {}
        for table, key in sorted(self._dirty, key=lambda k: (k[0], tuple(str(v) for v in k[1]))):
            keys.setdefault(table, []).append(key)
        for table, found in keys.items():
            t = self._tables[table]
            columns = [t.c[c] for c in _KEYS[table]]
            for i in range(0, len(found), 300):
                chunk = found[i : i + 300]
                if len(columns) == 1:
                    self.conn.execute(delete(t).where(columns[0].in_([k[0] for k in chunk])))
                else:
                    self.conn.execute(delete(t).where(tuple_(*columns).in_(chunk)))
            rows = [r for r in (self._rows[(table, k)] for k in found) if r is not None]
            if rows:
                self.conn.execute(t.insert(), rows)
        self._dirty.clear()

    # ── helpers ──
    def treasury(self, contract: str) -> str:
        row = self.get("meta", TREASURY_KEY + contract)
        return str(row["value"]) if row else ZERO

    def credit(self, account: str, token: str, source: str, amount: int, block: int) -> None:
        if amount == 0:
            return
        row = self.get("balances", account, token, source) or {
            "account": account,
            "token": token,
            "source": source,
            "amount": 0,
        }
        self.put("balances", {**row, "amount": int(row["amount"]) + amount, "updated_block": block})

    def zero(self, account: str, token: str, source: str, block: int) -> None:
        row = self.get("balances", account, token, source)
        if row is not None:
            self.put("balances", {**row, "amount": 0, "updated_block": block})

    def job_status(self, job_id: int) -> str:
        job = self.get("jobs", job_id)
        return str(job["status"]) if job else JobStatus.NONE.value

    # ── applying one event ──
    def apply(self, ev: Event, timestamp: int) -> None:
        handler = _HANDLERS.get((ev.contract, ev.event))
        if ev.event == "TreasurySet":
            self.put("meta", {"key": TREASURY_KEY + ev.contract, "value": ev.args["treasury"]})
        if handler is not None:
            handler(self, ev, timestamp)


Handler = Callable[[State, Event, int], None]
_HANDLERS: dict[tuple[str, str], Handler] = {}


def _on(contract: str, *names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            _HANDLERS[(contract, name)] = fn
        return fn

    return register


# ProviderStaking


#: Marks the all-zero stand-in for an address that never registered (see :func:`_provider`).
_STRANGER = "_stranger"


def _provider(st: State, address: str) -> dict[str, Any]:
    row = st.get("providers", address)
    if row is None:
        # Never registered: on chain its record is all zeros, and what can happen to it (a fraud
        # slash of a stranger takes 0) changes nothing. Not a provider row.
        zero = dict.fromkeys(("staked", "locked", "unbonding", "shortfall", "total_slashed", "total_deposited"), 0)
        return {_STRANGER: True, "address": address, **zero}
    return dict(row)


def _put_provider(st: State, p: dict[str, Any], block: int) -> None:
    if p.get(_STRANGER):
        return
    p["free"] = int(p["staked"]) - int(p["locked"])
    p["updated_block"] = block
    st.put("providers", p)


@_on("ProviderStaking", "ProviderRegistered")
def _registered(st: State, ev: Event, ts: int) -> None:
    a = ev.args
    p = {
        "address": a["provider"],
        "metadata_uri": a["metadataURI"],
        "staked": 0,
        "locked": 0,
        "unbonding": 0,
        "unbonding_end": 0,
        "shortfall": 0,
        "jailed": False,
        "jailed_for_downtime": False,
        "left": False,
        "left_at": 0,
        "sla_from": ts,
        "total_deposited": 0,
        "total_slashed": 0,
        "registered_block": ev.block_number,
    }
    _put_provider(st, p, ev.block_number)


@_on("ProviderStaking", "ProviderMetadataUpdated")
def _metadata(st: State, ev: Event, ts: int) -> None:
    p = _provider(st, ev.args["provider"])
    p["metadata_uri"] = ev.args["metadataURI"]
    _put_provider(st, p, ev.block_number)


@_on("ProviderStaking", "StakeAdded")
def _stake_added(st: State, ev: Event, ts: int) -> None:
    p = _provider(st, ev.args["provider"])
    p["staked"] = int(ev.args["staked"])
    p["total_deposited"] = int(p["total_deposited"]) + int(ev.args["amount"])
    _put_provider(st, p, ev.block_number)


@_on("ProviderStaking", "UnbondRequested")
def _unbond(st: State, ev: Event, ts: int) -> None:
    p = _provider(st, ev.args["provider"])
    p["staked"] = int(p["staked"]) - int(ev.args["amount"])
    p["unbonding"] = int(ev.args["unbonding"])
    p["unbonding_end"] = int(ev.args["unbondingEnd"])
    _put_provider(st, p, ev.block_number)


@_on("ProviderStaking", "UnbondWithdrawn")
def _unbonded(st: State, ev: Event, ts: int) -> None:
    p = _provider(st, ev.args["provider"])
    p["unbonding"], p["unbonding_end"] = 0, 0
    _put_provider(st, p, ev.block_number)


@_on("ProviderStaking", "ProviderUnjailed")
def _unjailed(st: State, ev: Event, ts: int) -> None:
    p = _provider(st, ev.args["provider"])
    p["jailed"], p["jailed_for_downtime"] = False, False
    p["sla_from"] = int(ev.args["slaFrom"])
    _put_provider(st, p, ev.block_number)


@_on("ProviderStaking", "ProviderJailed")
def _jailed(st: State, ev: Event, ts: int) -> None:
    p = _provider(st, ev.args["provider"])
    p["jailed"] = True
    if ev.args["forDowntime"]:
        p["jailed_for_downtime"] = True
    _put_provider(st, p, ev.block_number)


@_on("ProviderStaking", "ProviderLeft")
def _left(st: State, ev: Event, ts: int) -> None:
    p = _provider(st, ev.args["provider"])
    p["left"], p["left_at"] = True, int(ev.args["leftAt"])
    _put_provider(st, p, ev.block_number)


@_on("ProviderStaking", "CollateralLocked", "CollateralReleased")
def _locked(st: State, ev: Event, ts: int) -> None:
    p = _provider(st, ev.args["provider"])
    p["locked"] = int(ev.args["locked"])
    _put_provider(st, p, ev.block_number)


@_on("ProviderStaking", "CollateralSlashed")
def _collateral_slashed(st: State, ev: Event, ts: int) -> None:
    a = ev.args
    p = _provider(st, a["provider"])
    amount = int(a["amount"])
    p["locked"] = int(p["locked"]) - amount
    p["staked"] = int(p["staked"]) - amount
    p["total_slashed"] = int(p["total_slashed"]) + amount
    _put_provider(st, p, ev.block_number)
    _share(st, ev, int(a["beneficiaryAmount"]), int(a["treasuryAmount"]))


@_on("ProviderStaking", "FraudSlashed")
def _fraud_slashed(st: State, ev: Event, ts: int) -> None:
    a = ev.args
    p = _provider(st, a["provider"])
    amount = int(a["amount"])
    p["locked"] = int(p["locked"]) - int(a["fromLocked"])
    p["staked"] = int(p["staked"]) - amount
    p["total_slashed"] = int(p["total_slashed"]) + amount
    _put_provider(st, p, ev.block_number)
    _share(st, ev, int(a["beneficiaryAmount"]), amount - int(a["beneficiaryAmount"]))


@_on("ProviderStaking", "ProviderSlashed")
def _slashed(st: State, ev: Event, ts: int) -> None:
    a = ev.args
    p = _provider(st, a["provider"])
    from_free, from_unbonding = int(a["fromFree"]), int(a["fromUnbonding"])
    p["staked"] = int(p["staked"]) - from_free
    p["unbonding"] = int(p["unbonding"]) - from_unbonding
    p["shortfall"] = int(p["shortfall"]) + int(a["deferred"])
    p["total_slashed"] = int(p["total_slashed"]) + from_free + from_unbonding
    _put_provider(st, p, ev.block_number)
    _share(st, ev, int(a["beneficiaryAmount"]), int(a["treasuryAmount"]))


def _share(st: State, ev: Event, beneficiary_amount: int, treasury_amount: int) -> None:
    block = ev.block_number
    st.credit(ev.args["beneficiary"], st.staking_token, "staking", beneficiary_amount, block)
    st.credit(st.treasury("ProviderStaking"), st.staking_token, "staking", treasury_amount, block)


@_on("ProviderStaking", "ShortfallPaid")
def _shortfall_paid(st: State, ev: Event, ts: int) -> None:
    a = ev.args
    p = _provider(st, a["provider"])
    paid = int(a["amount"])
    p["shortfall"] = int(a["remaining"])
    p["staked"] = int(p["staked"]) - paid
    p["total_slashed"] = int(p["total_slashed"]) + paid
    _put_provider(st, p, ev.block_number)
    st.credit(st.treasury("ProviderStaking"), st.staking_token, "staking", paid, ev.block_number)


@_on("ProviderStaking", "Claimed")
def _staking_claimed(st: State, ev: Event, ts: int) -> None:
    st.zero(ev.args["account"], st.staking_token, "staking", ev.block_number)


# JobEscrow


def _job(st: State, job_id: int) -> dict[str, Any]:
    row = st.get("jobs", job_id)
    if row is None:
        raise KeyError(f"job {job_id} has no JobCreated in the index")
    return dict(row)


def _put_job(st: State, job: dict[str, Any], block: int) -> None:
    job["updated_block"] = block
    st.put("jobs", job)


@_on("JobEscrow", "JobCreated")
def _created(st: State, ev: Event, ts: int) -> None:
    a = ev.args
    job = {
        **ev.where,
        "job_id": int(a["jobId"]),
        "created_at": ts,
        "client": a["client"],
        "provider": a["provider"],
        "token": a["token"],
        "unit_price": int(a["unitPrice"]),
        "max_units": int(a["maxUnits"]),
        "deadline": int(a["deadline"]),
        "accept_by": int(a["acceptBy"]),
        "fee_bps": int(a["feeBps"]),
        "spec_hash": a["specHash"],
        "status": JobStatus.OPEN.value,
        "collateral": 0,
        "units": 0,
        "success": None,
        "result_hash": None,
        "dispute_bond": 0,
        "bond_outstanding": 0,
        "gross": 0,
        "provider_net": 0,
        "fee": 0,
        "refund": 0,
        "collateral_slashed": 0,
    }
    _put_job(st, job, ev.block_number)


@_on("JobEscrow", "JobAccepted")
def _accepted(st: State, ev: Event, ts: int) -> None:
    job = _job(st, int(ev.args["jobId"]))
    job["status"], job["collateral"] = JobStatus.ACCEPTED.value, int(ev.args["collateral"])
    _put_job(st, job, ev.block_number)


@_on("JobEscrow", "JobAttested")
def _attested(st: State, ev: Event, ts: int) -> None:
    a = ev.args
    job = _job(st, int(a["jobId"]))
    job["status"] = JobStatus.ATTESTED.value
    job["units"], job["success"], job["result_hash"] = int(a["units"]), a["success"], a["resultHash"]
    _put_job(st, job, ev.block_number)


@_on("JobEscrow", "JobDisputed")
def _disputed(st: State, ev: Event, ts: int) -> None:
    job = _job(st, int(ev.args["jobId"]))
    bond = int(ev.args["bond"])
    job["status"], job["dispute_bond"], job["bond_outstanding"] = JobStatus.DISPUTED.value, bond, bond
    _put_job(st, job, ev.block_number)


@_on("JobEscrow", "DisputeResolved")
def _resolved(st: State, ev: Event, ts: int) -> None:
    job = _job(st, int(ev.args["jobId"]))
    if not ev.args["upheld"]:  # rejected: the provider gets the bond (upheld: the refund carries it)
        st.credit(job["provider"], job["token"], "escrow", int(job["bond_outstanding"]), ev.block_number)
        job["bond_outstanding"] = 0
    _put_job(st, job, ev.block_number)


@_on("JobEscrow", "JobSettled")
def _settled(st: State, ev: Event, ts: int) -> None:
    a = ev.args
    job = _job(st, int(a["jobId"]))
    block, token = ev.block_number, job["token"]
    lapsed_bond = int(job["bond_outstanding"])  # a dispute that lapsed: the bond goes home
    st.credit(a["provider"], token, "escrow", int(a["providerNet"]), block)
    st.credit(a["client"], token, "escrow", int(a["refund"]) + lapsed_bond, block)
    st.credit(st.treasury("JobEscrow"), token, "escrow", int(a["fee"]), block)
    job.update(
        status=JobStatus.SETTLED.value,
        gross=int(a["gross"]),
        provider_net=int(a["providerNet"]),
        fee=int(a["fee"]),
        refund=int(a["refund"]),
        bond_outstanding=0,
    )
    _put_job(st, job, block)


@_on("JobEscrow", "JobRefunded")
def _refunded(st: State, ev: Event, ts: int) -> None:
    a = ev.args
    job = _job(st, int(a["jobId"]))
    st.credit(a["client"], job["token"], "escrow", int(a["refund"]), ev.block_number)
    job.update(
        status=JobStatus.from_int(int(a["status"])).value,
        refund=int(a["refund"]),
        collateral_slashed=int(a["collateralSlashed"]),
        bond_outstanding=0,
    )
    _put_job(st, job, ev.block_number)


@_on("JobEscrow", "JobCancelled")
def _cancelled(st: State, ev: Event, ts: int) -> None:
    a = ev.args
    job = _job(st, int(a["jobId"]))
    st.credit(a["client"], job["token"], "escrow", int(a["refund"]), ev.block_number)
    job.update(status=JobStatus.CANCELLED.value, refund=int(a["refund"]))
    _put_job(st, job, ev.block_number)


@_on("JobEscrow", "Withdrawn")
def _withdrawn(st: State, ev: Event, ts: int) -> None:
    st.zero(ev.args["account"], ev.args["token"], "escrow", ev.block_number)


# MeteredEscrow


def _account(st: State, a: dict[str, Any]) -> dict[str, Any]:
    row = st.get("escrow_accounts", a["payer"], a["provider"], a["token"])
    return (
        dict(row)
        if row
        else {
            "payer": a["payer"],
            "provider": a["provider"],
            "token": a["token"],
            "thawing": 0,
            "thaw_end": 0,
            "balance": 0,
        }
    )


@_on("MeteredEscrow", "EscrowDeposited")
def _deposited(st: State, ev: Event, ts: int) -> None:
    acct = _account(st, ev.args)
    acct.update(balance=int(ev.args["balance"]), updated_block=ev.block_number)
    st.put("escrow_accounts", acct)


@_on("MeteredEscrow", "EscrowThawStarted")
def _thaw(st: State, ev: Event, ts: int) -> None:
    acct = _account(st, ev.args)
    acct.update(thawing=int(ev.args["amount"]), thaw_end=int(ev.args["thawEnd"]), updated_block=ev.block_number)
    st.put("escrow_accounts", acct)


@_on("MeteredEscrow", "EscrowThawCancelled")
def _thaw_cancelled(st: State, ev: Event, ts: int) -> None:
    acct = _account(st, ev.args)
    acct.update(thawing=0, thaw_end=0, updated_block=ev.block_number)
    st.put("escrow_accounts", acct)


@_on("MeteredEscrow", "EscrowWithdrawn")
def _escrow_withdrawn(st: State, ev: Event, ts: int) -> None:
    acct = _account(st, ev.args)
    acct.update(balance=int(ev.args["balance"]), thawing=0, thaw_end=0, updated_block=ev.block_number)
    st.put("escrow_accounts", acct)


@_on("MeteredEscrow", "VoucherCollected")
def _collected(st: State, ev: Event, ts: int) -> None:
    a = ev.args
    acct = _account(st, a)
    left = int(acct["balance"]) - int(a["gross"])
    acct.update(balance=left, thawing=min(int(acct["thawing"]), left), updated_block=ev.block_number)
    st.put("escrow_accounts", acct)
    st.credit(a["provider"], a["token"], "metered", int(a["providerNet"]), ev.block_number)
    st.credit(ZERO, a["token"], "metered_fees", int(a["fee"]), ev.block_number)


@_on("MeteredEscrow", "Claimed")
def _metered_claimed(st: State, ev: Event, ts: int) -> None:
    a = ev.args
    st.zero(a["account"], a["token"], "metered", ev.block_number)
    if a["account"] == st.treasury("MeteredEscrow"):
        st.zero(ZERO, a["token"], "metered_fees", ev.block_number)


# AttestationHub


@_on("AttestationHub", "OracleAdded")
def _oracle_added(st: State, ev: Event, ts: int) -> None:
    st.put("oracles", {"address": ev.args["oracle"], "active": True, "since_block": ev.block_number})


@_on("AttestationHub", "OracleRemoved")
def _oracle_removed(st: State, ev: Event, ts: int) -> None:
    st.put("oracles", {"address": ev.args["oracle"], "active": False, "since_block": ev.block_number})


# RewardsDistributor


def _rewards_account(st: State, account: str) -> dict[str, Any]:
    row = st.get("rewards_accounts", account)
    return dict(row) if row else {"account": account, "recipient": account, "claimed": 0}


@_on("RewardsDistributor", "Claimed")
def _rewards_claimed(st: State, ev: Event, ts: int) -> None:
    acct = _rewards_account(st, ev.args["account"])
    acct.update(claimed=int(ev.args["cumulative"]), updated_block=ev.block_number)
    st.put("rewards_accounts", acct)


@_on("RewardsDistributor", "RecipientSet")
def _recipient_set(st: State, ev: Event, ts: int) -> None:
    acct = _rewards_account(st, ev.args["account"])
    acct.update(recipient=ev.args["recipient"], updated_block=ev.block_number)
    st.put("rewards_accounts", acct)


def prefetch(st: State, events: Sequence[Event]) -> None:
    """Loads the state rows `events` can touch in a few queries: every address and job id they
    name, and each contract's treasury."""
    addresses: set[str] = set()
    jobs: set[int] = set()
    for ev in events:
        for value in ev.args.values():
            if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
                addresses.add(value)
        if "jobId" in ev.args:
            jobs.add(int(ev.args["jobId"]))
    st.prefetch("meta", [TREASURY_KEY + c for c in ("JobEscrow", "MeteredEscrow", "ProviderStaking")])
    addresses |= {st.treasury(c) for c in ("JobEscrow", "MeteredEscrow", "ProviderStaking")} | {ZERO}
    st.prefetch("providers", addresses)
    st.prefetch("balances", addresses)
    st.prefetch("escrow_accounts", addresses)
    st.prefetch("oracles", addresses)
    st.prefetch("rewards_accounts", addresses)
    st.prefetch("jobs", jobs)


def replay(conn: Connection, staking_token: str, events: Iterable[tuple[Event, int]]) -> None:
    """Applies `events` (with their block timestamps) to the current state and writes it."""
    st = State(conn, staking_token)
    events = list(events)
    prefetch(st, [ev for ev, _ in events])
    for ev, ts in events:
        st.apply(ev, ts)
    st.flush()
