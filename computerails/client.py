"""The client role: lock payment for jobs, cancel, reclaim, dispute and withdraw."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from web3.datastructures import AttributeDict

from computerails import shared
from computerails.addresses import parse_address, parse_bytes32
from computerails.errors import (
    InvalidDeadline,
    InvalidSpec,
    NotAllowed,
    NothingClaimable,
    PreconditionError,
    TooEarly,
    WrongJobState,
)
from computerails.session import ERC20, Session
from computerails.tx import Call, Simulation
from computerails.types import Amount, Job, JobStatus, Payout, TokenInfo, from_raw, to_raw, to_timestamp, utc

MAX_UINT = 2**256 - 1


class ClientAPI:
    """What a dApp does on behalf of a client who buys compute."""

    def __init__(self, session: Session) -> None:
        self._s = session

    # ───────────────────────── jobs ─────────────────────────

    def create_job(
        self,
        provider: str,
        unit_price: Amount,
        max_units: int,
        deadline: datetime | timedelta | int,
        spec_hash: bytes | str,
        *,
        token: str | None = None,
        payment: str = "auto",
    ) -> Job:
        """Lock ``unit_price * max_units`` for a job and return it, read from JobCreated.

        Args:
            provider: who should do the work (must accept within the accept window).
            unit_price: price per unit in token units (``Decimal("0.10")``) or ``Raw``.
            max_units: most units the job may use.
            deadline: when the attestation is due: an aware datetime, a timedelta from now, or
                unix seconds.
            spec_hash: 32-byte commitment to the workload.
            token: payment token (default: the deployment's first).
            payment: "auto" (permit if the token supports it, else approve the exact amount),
                "permit", "approve", or "none" (require an existing allowance).

        Raises:
            InvalidAddress: `provider` or `token` is mistyped (wrong EIP-55 checksum) or not
                an address; checked before anything else.
            InvalidSpec: `spec_hash` is not 32 bytes of hex.
            InvalidToken: `token` holds no ERC-20 token.
            InvalidAmount: `unit_price` is negative or finer than the token's decimals.
            InsufficientBalance, InsufficientAllowance, InvalidDeadline, PreconditionError:
                before anything is sent.
            ContractRevert: the contract refused (e.g. ``TokenNotAllowed``).
        """
        provider = parse_address(provider, "provider")
        spec = _bytes32(spec_hash, "spec_hash")
        info = self._s.token(token)
        price_raw = to_raw(unit_price, info.decimals)
        amount = price_raw * max_units
        escrow = self._s.escrow.address
        encode = self._s.abi["JobEscrow"]["createJob"].encode

        def plain(deadline_ts: int) -> Call:
            return Call(escrow, encode(provider, info.address, price_raw, max_units, deadline_ts, spec), "createJob")

        # One round trip for the clock, the checks and (usually) the simulation: the plain
        # createJob is simulated along with the reads. With a relative deadline its call data
        # depends on the chain's clock, so it is prepared from the last timestamp this
        # connection saw and used only if the clock read in the same batch equals it.
        guess = self._s.last_seen_time if isinstance(deadline, timedelta) else 0
        speculative = simulation = None
        if guess is not None and price_raw > 0 and max_units > 0:
            speculative = plain(self._deadline_ts(deadline, guess))
            simulation = self._s.tx.simulation(speculative.address, speculative.data)
        reads = self._reads(info.address, amount, simulation)
        now, longest, allowed, balance, allowance = reads[:5]
        deadline_ts = self._checked_deadline(deadline, now, longest)
        if price_raw == 0 or max_units <= 0:
            raise PreconditionError("unit_price and max_units must both be positive")
        self._check_allowlisted(info.address, allowed)
        shared.check_balance(self._s, info, amount, balance)
        if amount == 0 or allowance >= amount:
            call = plain(deadline_ts)
            gas = None
            if simulation is not None and speculative is not None and speculative.data == call.data:
                gas = simulation.gas_limit(reads[5])  # raises the decoded revert: nothing is sent
            sent = self._s.tx.send(call, label="createJob", gas=gas)
        else:
            fn = shared.fund_short(
                self._s,
                self._s.escrow.address,
                info,
                amount,
                allowance,
                payment,
                lambda permit: (
                    Call(
                        escrow,
                        self._s.abi["JobEscrow"]["createJobWithPermit"].encode(
                            provider, info.address, price_raw, max_units, deadline_ts, spec, *permit
                        ),
                        "createJobWithPermit",
                    )
                    if permit
                    else plain(deadline_ts)
                ),
            )
            sent = self._s.tx.send(fn, label="createJob")
        (event,) = self._s.abi["JobEscrow"].events["JobCreated"].logs(sent.receipt, escrow)
        return self._job_from_event(event, info)

    def create_jobs(self, requests: Sequence[dict[str, Any]], *, token: str | None = None) -> list[Job]:
        """Create many jobs in one transaction (one token transfer for all of them).

        Each request is a dict with ``provider, unit_price, max_units, deadline, spec_hash``.
        The allowance is approved for the total when it is short.
        """
        info = self._s.token(token)
        escrow = self._s.escrow.address
        total = sum(to_raw(q["unit_price"], info.decimals) * int(q["max_units"]) for q in requests)
        now, longest, allowed, balance, allowance = self._reads(info.address, total, None)
        self._check_allowlisted(info.address, allowed)
        rows = []
        for q in requests:
            price = to_raw(q["unit_price"], info.decimals)
            rows.append(
                (
                    parse_address(q["provider"], "provider"),
                    info.address,
                    price,
                    int(q["max_units"]),
                    self._checked_deadline(q["deadline"], now, longest),
                    _bytes32(q["spec_hash"], "spec_hash"),
                )
            )
        if not rows:
            raise PreconditionError("create_jobs needs at least one request")
        shared.check_balance(self._s, info, total, balance)
        call = Call(escrow, self._s.abi["JobEscrow"]["createJobs"].encode(rows), "createJobs")
        if total != 0 and allowance < total:
            shared.fund_short(self._s, escrow, info, total, allowance, "approve", lambda _permit: call)
        sent = self._s.tx.send(call, label="createJobs")
        return [
            self._job_from_event(e, info)
            for e in self._s.abi["JobEscrow"].events["JobCreated"].logs(sent.receipt, escrow)
        ]

    def cancel(self, job_id: int) -> Job:
        """Cancel a job the provider has not accepted; the escrow becomes withdrawable."""
        job = self.check_cancel(job_id)
        self._s.send(self._s.escrow.functions.cancel(job_id), "cancel")
        return shared.job(self._s, job.id)

    def reclaim_expired(self, job_id: int) -> Job:
        """End an accepted job whose deadline passed unattested: refund plus a collateral slash."""
        job = shared.job(self._s, job_id)
        if job.status is not JobStatus.ACCEPTED:
            raise WrongJobState(f"job {job_id} is {job.status.value}; only an accepted, unattested job can expire")
        now = self._s.now()
        if now <= int(job.deadline.timestamp()):
            raise TooEarly(f"job {job_id} expires after {job.deadline.isoformat()}; wait until then")
        self._s.send(self._s.escrow.functions.reclaimExpired(job_id), "reclaimExpired")
        return shared.job(self._s, job_id)

    def check_cancel(self, job_id: int) -> Job:
        """The checks of :meth:`cancel` alone (nothing is sent): returns the job."""
        return self._own_job(job_id, JobStatus.OPEN, "cancel")

    def dispute(self, job_id: int) -> Job:
        """Dispute a success attestation within the challenge window, posting the bond."""
        job, bond = self._check_dispute(job_id)
        fn = shared.fund(
            self._s,
            self._s.escrow.address,
            job.token,
            bond,
            "approve",
            lambda _p: self._s.escrow.functions.dispute(job_id),
        )
        self._s.send(fn, "dispute")
        return shared.job(self._s, job_id)

    def check_dispute(self, job_id: int) -> tuple[Job, Decimal]:
        """The checks of :meth:`dispute` alone (nothing is sent): returns the job and the bond
        a dispute would post, in the payment token's units.

        Raises:
            KeyError: no job has this id.
            NotAllowed: the account is not the job's client.
            WrongJobState: the job is not attested, or its challenge window closed.
            InsufficientBalance: the account cannot pay the bond.
        """
        job, bond = self._check_dispute(job_id)
        balance = self._s.read(ERC20, job.token.address, "balanceOf", self._s.address)
        shared.check_balance(self._s, job.token, bond, balance)
        return job, from_raw(bond, job.token.decimals)

    def _check_dispute(self, job_id: int) -> tuple[Job, int]:
        s = self._s
        view, now, bond = s.rpc.run(
            [
                s.call("JobEscrow", s.escrow.address, "job", job_id),
                s.latest_time(),
                s.call("JobEscrow", s.escrow.address, "disputeBondFor", job_id),
            ]
        )
        job = self._owned(shared.job_from_view(s, view), JobStatus.ATTESTED, "dispute")
        if job.challenge_ends and now >= int(job.challenge_ends.timestamp()):
            raise WrongJobState(
                f"job {job_id}'s challenge window closed at {job.challenge_ends.isoformat()}; "
                "it can only be settled now",
                sdk=f"rails.keeper.settle({job_id})",
                cli=f"run `computerails job settle {job_id}`",
            )
        return job, int(bond)

    def withdraw(self, token: str | None = None) -> Payout:
        """Withdraw everything claimable in `token` from the escrow, in one transfer."""
        info = self._s.token(token)
        raw = self._s.read("JobEscrow", self._s.escrow.address, "claimable", self._s.address, info.address)
        if raw == 0:
            raise NothingClaimable(f"{self._s.address} has nothing claimable in {info.symbol}")
        sent = self._s.send(self._s.escrow.functions.withdraw(info.address), "withdraw")
        return Payout(token=info, amount=from_raw(raw, info.decimals), tx_hash=sent.tx_hash, source="escrow")

    def withdraw_all(self) -> list[Payout]:
        """Withdraw every claimable balance: refunds and bonds from the escrow, and the staking
        token a client receives when a provider's collateral is slashed for its job."""
        return shared.claim_everything(self._s)

    def job(self, job_id: int) -> Job:
        """A job's current state with the spec hash it was created with.

        Raises:
            KeyError: no job has this id.
        """
        job = shared.job(self._s, job_id)
        return job.model_copy(update={"spec_hash": shared.spec_hash(self._s, job_id)})

    def jobs(self, client: str | None = None) -> list[Job]:
        """This client's jobs (or another's), from JobCreated events."""
        return shared.jobs(self._s, client=client or self._s.address)

    # ───────────────────────── helpers ─────────────────────────

    @staticmethod
    def _deadline_ts(deadline: datetime | timedelta | int, now: int) -> int:
        return now + int(deadline.total_seconds()) if isinstance(deadline, timedelta) else to_timestamp(deadline)

    def _checked_deadline(self, deadline: datetime | timedelta | int, now: int, longest: int) -> int:
        """The deadline as unix seconds, checked against the chain's clock and maxJobDuration
        (a cached maxJobDuration is read again before it may refuse the deadline)."""
        ts = self._deadline_ts(deadline, now)
        if ts <= now:
            raise InvalidDeadline(
                f"deadline {utc(ts).isoformat()} is not in the future (chain time {utc(now).isoformat()})"
            )
        if ts > now + longest:
            longest = self._s.cached(
                "maxJobDuration",
                lambda: self._s.read("JobEscrow", self._s.escrow.address, "maxJobDuration"),
                fresh=True,
            )
            if ts > now + longest:
                raise InvalidDeadline(f"deadline is more than {longest // 86_400} days away, the longest a job may run")
        return ts

    def _reads(self, token: str, amount: int, simulation: Simulation | None) -> list[Any]:
        """[now, maxJobDuration, allowed, balance, allowance(, simulation)] in one round trip:
        the governance values from the TTL cache when fresh, the rest always read."""
        s, me = self._s, self._s.address
        escrow = s.escrow.address
        extra = [s.latest_time(), s.call(ERC20, token, "balanceOf", me), s.call(ERC20, token, "allowance", me, escrow)]
        if simulation is not None:
            extra.append(simulation.request)
        (longest, entry), (now, *rest) = s.cached_many(
            [
                ("maxJobDuration", s.call("JobEscrow", escrow, "maxJobDuration")),
                (("paymentToken", token), s.call("JobEscrow", escrow, "paymentToken", token)),
            ],
            extra,
        )
        return [now, longest, entry[2], *rest]

    def _check_allowlisted(self, token: str, allowed: bool | None = None) -> None:
        if allowed is None or not allowed:  # never refuse on a cached entry: read it again first
            allowed = shared.payment_token(self._s, token, fresh=True)["allowed"]
        if not allowed:
            raise PreconditionError(
                f"token {token} is not an allowed payment token",
                sdk="see views.payment_tokens()",
                cli="see `computerails params`",
            )

    def _own_job(self, job_id: int, status: JobStatus, action: str) -> Job:
        return self._owned(shared.job(self._s, job_id), status, action)

    def _owned(self, job: Job, status: JobStatus, action: str) -> Job:
        job_id = job.id
        if job.client != self._s.address:
            raise NotAllowed(f"only job {job_id}'s client {job.client} can {action} it")
        if job.status is not status:
            raise WrongJobState(f"job {job_id} is {job.status.value}; {action} needs it {status.value}")
        return job

    def _job_from_event(self, args: AttributeDict[str, Any], info: TokenInfo) -> Job:
        return Job(
            id=args["jobId"],
            status=JobStatus.OPEN,
            client=args["client"],
            provider=args["provider"],
            token=info,
            unit_price=from_raw(args["unitPrice"], info.decimals),
            max_units=args["maxUnits"],
            escrow=from_raw(args["unitPrice"] * args["maxUnits"], info.decimals),
            units=0,
            fee_bps=args["feeBps"],
            collateral=from_raw(0, self._s.staking_token.decimals),
            deadline=utc(args["deadline"]),
            accept_by=utc(args["acceptBy"]),
            spec_hash="0x" + bytes(args["specHash"]).hex(),
        )


def _bytes32(value: bytes | str, name: str) -> bytes:
    """32 bytes from bytes or 0x-hex.

    Raises:
        InvalidSpec: not hex, or not 32 bytes long.
    """
    return parse_bytes32(value, name, InvalidSpec)
