"""Read-only views for dashboards: jobs, providers, balances, parameters, the oracle set.

Addresses passed in are checked by :func:`computerails.addresses.parse_address`: a mistyped
one (wrong EIP-55 checksum) raises :class:`~computerails.errors.InvalidAddress`."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from computerails import shared
from computerails.addresses import parse_address
from computerails.session import ERC20, Session
from computerails.types import Epochs, EpochWindow, Job, JobStage, JobStatus, ProviderStatus, TokenInfo, from_raw, utc

#: Epoch windows a connection keeps at most (cleared when full).
_WINDOW_MEMORY = 4_096


class Views:
    """Reads only; works on a connection without an account."""

    def __init__(self, session: Session) -> None:
        self._s = session
        #: Epoch windows read, by (the slasher's schedules, epoch): the slasher computes an
        #: epoch's start, end and deadline from its schedules alone, so an entry never goes stale.
        self._windows: dict[tuple[tuple[tuple[int, ...], ...], int], tuple[int, int, int]] = {}

    # ── jobs ──
    def job(self, job_id: int, spec_hash: str | None = None) -> Job:
        """A job's current state. Raises ``KeyError`` for an id that was never created."""
        return shared.job(self._s, job_id, spec_hash)

    def job_from_view(self, v: Any, spec_hash: str | None = None) -> Job:
        """A :class:`Job` from the escrow's ``job(id)`` struct (for callers that batch that read)."""
        return shared.job_from_view(self._s, v, spec_hash)

    def jobs_by_id(self, job_ids: Iterable[int]) -> list[Job]:
        """The current state of each job in `job_ids`, in that order (an id given twice is read
        once and answered twice), read in one JSON-RPC batch (not one call per job). Raises
        ``KeyError`` for an id that was never created."""
        ids = list(job_ids)
        read = {job.id: job for job in shared.jobs_by_id(self._s, dict.fromkeys(ids))}
        return [read[i] for i in ids]

    def job_status(self, job_id: int) -> JobStatus:
        return JobStatus.from_int(self._s.read("JobEscrow", self._s.escrow.address, "jobStatus", job_id))

    def job_count(self) -> int:
        return int(self._s.read("JobEscrow", self._s.escrow.address, "jobCount"))

    def jobs(
        self,
        client: str | None = None,
        provider: str | None = None,
        status: JobStatus | Iterable[JobStatus] | None = None,
    ) -> list[Job]:
        """Jobs from JobCreated events since the deploy block, filtered by party and current
        status (one status or several), in their current state. The jobs' states are read in
        JSON-RPC batches, not one call per job."""
        return shared.jobs(self._s, client=client, provider=provider, status=status)

    def jobs_by_stage(
        self, client: str | None = None, provider: str | None = None, *, ended: bool = False
    ) -> dict[JobStage, list[Job]]:
        """A party's jobs grouped by :class:`JobStage` at the chain's current time, in stage
        order, empty stages left out (``ended=True`` keeps the ended jobs too)."""
        jobs = shared.jobs(self._s, client=client, provider=provider)
        now = self._s.now()
        groups: dict[JobStage, list[Job]] = {stage: [] for stage in JobStage}
        for job in jobs:
            groups[job.stage(now)].append(job)
        if not ended:
            groups[JobStage.ENDED] = []
        return {stage: found for stage, found in groups.items() if found}

    def job_with_spec(self, job_id: int) -> Job:
        """A job's current state with the spec hash it was created with (from its JobCreated
        event). Raises ``KeyError`` for an id that was never created."""
        job = shared.job(self._s, job_id)
        return job.model_copy(update={"spec_hash": shared.spec_hash(self._s, job_id)})

    # ── providers ──
    def provider(self, address: str) -> ProviderStatus:
        """Stake, locked collateral, unbonding, jail and what the provider can claim."""
        return shared.provider_status(self._s, address)

    # ── balances ──
    def claimable(self, account: str) -> dict[TokenInfo, Decimal]:
        """What `account` can withdraw: each payment token from the escrow, and the staking
        token from slash proceeds (escrow and staking claimables of the same token add up)."""
        return shared.claimable(self._s, account)

    def claimable_raw(self, account: str) -> dict[TokenInfo, dict[str, int]]:
        """Raw claimable amounts: token -> {"escrow": n, "staking": n}."""
        return shared.claimable_raw(self._s, account)

    def wallet(self, account: str, token: str | None = None) -> Decimal:
        """Token balance of a wallet (default token: the first payment token)."""
        info = self._s.token(token)
        raw = self._s.read(ERC20, info.address, "balanceOf", parse_address(account, "account"))
        return from_raw(raw, info.decimals)

    def balances(self, account: str) -> dict[str, dict[str, Decimal]]:
        """Wallet and claimable balances of every protocol token, by symbol."""
        claimable = self.claimable(account)
        tokens = self.payment_tokens() + [self._s.staking_token]
        return {
            t.symbol: {"wallet": self.wallet(account, t.address), "claimable": claimable.get(t, Decimal(0))}
            for t in tokens
        }

    # ── protocol ──
    def payment_tokens(self, fresh: bool = False) -> list[TokenInfo]:
        """Every payment token the escrow ever allowlisted (cached for the connection's
        ``cache_ttl``; ``fresh=True`` reads it now)."""
        return shared.payment_tokens(self._s, fresh)

    def payment_token(self, token: str, fresh: bool = False) -> dict[str, Any]:
        """A token's allowlist entry (cached for the connection's ``cache_ttl``; ``fresh=True``
        reads it now)."""
        return shared.payment_token(self._s, token, fresh)

    #: ``params()``'s reads: (section, contract, name in the answer, view function).
    _PARAMS = (
        ("escrow", "JobEscrow", "fee_bps", "feeBps"),
        ("escrow", "JobEscrow", "accept_window", "acceptWindow"),
        ("escrow", "JobEscrow", "challenge_window", "challengeWindow"),
        ("escrow", "JobEscrow", "dispute_timeout", "disputeTimeout"),
        ("escrow", "JobEscrow", "max_job_duration", "maxJobDuration"),
        ("escrow", "JobEscrow", "dispute_bond_bps", "disputeBondBps"),
        ("escrow", "JobEscrow", "client_slash_share_bps", "clientSlashShareBps"),
        ("escrow", "JobEscrow", "treasury", "treasury"),
        ("escrow", "JobEscrow", "paused", "paused"),
        ("staking", "ProviderStaking", "min_stake", "minStake"),
        ("staking", "ProviderStaking", "unbonding_delay", "unbondingDelay"),
        ("staking", "ProviderStaking", "treasury", "treasury"),
    )
    #: The fields of ``UptimeSlasher.params()``, in order.
    _UPTIME_PARAMS = (
        "epoch_length",
        "statute_epochs",
        "sla_bps",
        "uptime_slash_bps",
        "uptime_slash_cap",
        "relayer_reward_bps",
        "relayer_reward_cap",
    )

    def params(self) -> dict[str, Any]:
        """Every governance parameter, raw, by contract: read in one JSON-RPC batch (services
        call this every pass; one web3 call per value cost two round trips each)."""
        s = self._s
        to = {
            "JobEscrow": s.escrow.address,
            "ProviderStaking": s.staking.address,
            "UptimeSlasher": s.slasher.address,
        }
        requests = [s.call(contract, to[contract], fn) for _section, contract, _name, fn in self._PARAMS]
        requests += [s.call("UptimeSlasher", to["UptimeSlasher"], "params"), *self._oracle_set_requests()]
        values = s.rpc.run(requests)
        answer: dict[str, Any] = {"escrow": {}, "staking": {}}
        for (section, _contract, name, _fn), value in zip(self._PARAMS, values):
            answer[section][name] = value
        rest = values[len(self._PARAMS) :]
        answer["uptime"] = self._uptime_params(rest[0])
        answer["oracles"] = self._oracle_set(rest[1:])
        return answer

    def uptime_params(self) -> dict[str, Any]:
        """The uptime slasher's parameters, :meth:`params`'s ``"uptime"`` part alone (one call)."""
        s = self._s
        return self._uptime_params(s.read("UptimeSlasher", s.slasher.address, "params"))

    @classmethod
    def _uptime_params(cls, value: Any) -> dict[str, Any]:
        return dict(zip(cls._UPTIME_PARAMS, value, strict=True))

    def oracle_set(self) -> dict[str, Any]:
        """The attestation hub's oracles, threshold and configuration version (one batch)."""
        return self._oracle_set(self._s.rpc.run(self._oracle_set_requests()))

    def _oracle_set_requests(self) -> list[Any]:
        s = self._s
        return [s.call("AttestationHub", s.hub.address, fn) for fn in ("oracles", "threshold", "configVersion")]

    @staticmethod
    def _oracle_set(values: list[Any]) -> dict[str, Any]:
        oracles, threshold, config_version = values
        return {"oracles": list(oracles), "threshold": int(threshold), "config_version": int(config_version)}

    def epochs(self) -> Epochs:
        """The uptime clock: the current epoch (start, end, reporting deadline) and the ended
        epochs oracles can still report on, with their deadlines, oldest first."""
        s = self._s
        slasher = s.slasher.address
        now, current, schedules = s.rpc.run(
            [
                s.latest_time(),
                s.call("UptimeSlasher", slasher, "currentEpoch"),
                s.call("UptimeSlasher", slasher, "schedules"),
            ]
        )
        statute = max(int(schedule[3]) for schedule in schedules)  # a past schedule may allow longer
        numbers = list(range(max(0, current - statute - 1), current + 1))
        # Each epoch's window is read once per schedule list (a node's loop asks every pass; a
        # new epoch, or a schedule change, costs one more batch).
        plan = tuple(tuple(int(field) for field in schedule) for schedule in schedules)
        cached = ((e, self._windows.get((plan, e))) for e in numbers)  # another thread may clear it
        known = {e: window for e, window in cached if window is not None}
        missing = [e for e in numbers if e not in known]
        if missing:
            fns = ("epochStart", "epochEnd", "reportDeadline")
            values = s.rpc.run([s.call("UptimeSlasher", slasher, fn, e) for e in missing for fn in fns])
            read = {
                e: (int(values[3 * i]), int(values[3 * i + 1]), int(values[3 * i + 2])) for i, e in enumerate(missing)
            }
            if len(self._windows) + len(read) > _WINDOW_MEMORY:
                self._windows.clear()
            self._windows.update({(plan, e): window for e, window in read.items()})
            known |= read
        windows = [
            EpochWindow(epoch=e, start=utc(known[e][0]), end=utc(known[e][1]), report_deadline=utc(known[e][2]))
            for e in numbers
        ]
        moment = utc(now)
        return Epochs(
            now=moment,
            current=windows[-1],
            reportable=[w for w in windows[:-1] if w.report_deadline > moment],
        )

    def current_epoch(self) -> int:
        return int(self._s.read("UptimeSlasher", self._s.slasher.address, "currentEpoch"))

    def is_reported(self, provider: str, epoch: int) -> bool:
        provider = parse_address(provider, "provider")
        return bool(self._s.read("UptimeSlasher", self._s.slasher.address, "isReported", provider, epoch))

    def totals(self) -> dict[str, Decimal]:
        """Protocol-wide stake figures, in staking-token units."""
        d = self._s.staking_token.decimals
        s = self._s.staking.functions
        return {
            "staked": from_raw(s.totalStaked().call(), d),
            "unbonding": from_raw(s.totalUnbonding().call(), d),
            "claimable": from_raw(s.totalClaimable().call(), d),
        }
