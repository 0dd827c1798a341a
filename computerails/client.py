"""The client role: lock payment for jobs, cancel, reclaim, dispute and withdraw."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Sequence

from eth_account import Account
from eth_utils import to_checksum_address

from web3.logs import DISCARD

from computerails import eip712
from computerails.errors import (
    InsufficientAllowance,
    InsufficientBalance,
    InvalidDeadline,
    NotAllowed,
    NothingClaimable,
    PreconditionError,
    TooEarly,
    WrongJobState,
)
from computerails.types import Amount, Job, JobStatus, Payout, from_raw, to_raw, to_timestamp, utc

if TYPE_CHECKING:
    from computerails.rails import ComputeRails

MAX_UINT = 2**256 - 1


class ClientAPI:
    """What a dApp does on behalf of a client who buys compute."""

    def __init__(self, rails: "ComputeRails") -> None:
        self._r = rails

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
            InsufficientBalance, InsufficientAllowance, InvalidDeadline, PreconditionError:
                before anything is sent.
            ContractRevert: the contract refused (e.g. ``TokenNotAllowed``).
        """
        info = self._r.token(token)
        price_raw = to_raw(unit_price, info.decimals)
        deadline_ts = self._deadline(deadline)
        spec = _bytes32(spec_hash, "spec_hash")
        amount = price_raw * max_units
        if price_raw == 0 or max_units <= 0:
            raise PreconditionError("unit_price and max_units must both be positive")
        self._check_allowlisted(info.address)
        fn = self._fund(info, amount, payment, lambda permit: (
            self._r.escrow.functions.createJobWithPermit(
                to_checksum_address(provider), info.address, price_raw, max_units, deadline_ts, spec, *permit
            )
            if permit
            else self._r.escrow.functions.createJob(
                to_checksum_address(provider), info.address, price_raw, max_units, deadline_ts, spec
            )
        ))
        sent = self._r.send(fn, "createJob")
        (event,) = self._r.escrow.events.JobCreated().process_receipt(sent.receipt, errors=DISCARD)
        return self._job_from_event(event.args, info)

    def create_jobs(self, requests: Sequence[dict[str, Any]], *, token: str | None = None) -> list[Job]:
        """Create many jobs in one transaction (one token transfer for all of them).

        Each request is a dict with ``provider, unit_price, max_units, deadline, spec_hash``.
        The allowance is approved for the total when it is short.
        """
        info = self._r.token(token)
        self._check_allowlisted(info.address)
        rows = []
        total = 0
        for q in requests:
            price = to_raw(q["unit_price"], info.decimals)
            rows.append((to_checksum_address(q["provider"]), info.address, price, int(q["max_units"]),
                         self._deadline(q["deadline"]), _bytes32(q["spec_hash"], "spec_hash")))
            total += price * int(q["max_units"])
        if not rows:
            raise PreconditionError("create_jobs needs at least one request")
        fn = self._fund(info, total, "approve", lambda _permit: self._r.escrow.functions.createJobs(rows))
        sent = self._r.send(fn, "createJobs")
        events = self._r.escrow.events.JobCreated().process_receipt(sent.receipt, errors=DISCARD)
        return [self._job_from_event(e.args, info) for e in events]

    def cancel(self, job_id: int) -> Job:
        """Cancel a job the provider has not accepted; the escrow becomes withdrawable."""
        job = self._own_job(job_id, JobStatus.OPEN, "cancel")
        self._r.send(self._r.escrow.functions.cancel(job_id), "cancel")
        return self._r.views.job(job.id)

    def reclaim_expired(self, job_id: int) -> Job:
        """End an accepted job whose deadline passed unattested: refund plus a collateral slash."""
        job = self._r.views.job(job_id)
        if job.status is not JobStatus.ACCEPTED:
            raise WrongJobState(f"job {job_id} is {job.status.value}; only an accepted, unattested job can expire")
        now = self._r.now()
        if now < int(job.deadline.timestamp()):  # the next block runs after the latest one
            raise TooEarly(f"job {job_id} expires after {job.deadline.isoformat()}; wait until then")
        self._r.send(self._r.escrow.functions.reclaimExpired(job_id), "reclaimExpired")
        return self._r.views.job(job_id)

    def dispute(self, job_id: int) -> Job:
        """Dispute a success attestation within the challenge window, posting the bond."""
        job = self._own_job(job_id, JobStatus.ATTESTED, "dispute")
        if job.challenge_ends and self._r.now() >= int(job.challenge_ends.timestamp()):
            raise WrongJobState(f"job {job_id}'s challenge window closed at {job.challenge_ends.isoformat()}")
        bond = self._r.escrow.functions.disputeBondFor(job_id).call()
        fn = self._fund(job.token, bond, "approve", lambda _p: self._r.escrow.functions.dispute(job_id))
        self._r.send(fn, "dispute")
        return self._r.views.job(job_id)

    def withdraw(self, token: str | None = None) -> Payout:
        """Withdraw everything claimable in `token` from the escrow, in one transfer."""
        info = self._r.token(token)
        raw = self._r.escrow.functions.claimable(self._r.address, info.address).call()
        if raw == 0:
            raise NothingClaimable(f"{self._r.address} has nothing claimable in {info.symbol}")
        sent = self._r.send(self._r.escrow.functions.withdraw(info.address), "withdraw")
        return Payout(token=info, amount=from_raw(raw, info.decimals), tx_hash=sent.tx_hash, source="escrow")

    def withdraw_all(self) -> list[Payout]:
        """Withdraw every claimable balance: refunds and bonds from the escrow, and the staking
        token a client receives when a provider's collateral is slashed for its job."""
        from computerails.provider import claim_everything

        return claim_everything(self._r)

    def job(self, job_id: int) -> Job:
        return self._r.views.job(job_id)

    def jobs(self, client: str | None = None) -> list[Job]:
        """This client's jobs (or another's), from JobCreated events."""
        return self._r.views.jobs(client=client or self._r.address)

    # ───────────────────────── helpers ─────────────────────────

    def _deadline(self, deadline: datetime | timedelta | int) -> int:
        now = self._r.now()
        ts = now + int(deadline.total_seconds()) if isinstance(deadline, timedelta) else to_timestamp(deadline)
        longest = self._r.escrow.functions.maxJobDuration().call()
        if ts <= now:
            raise InvalidDeadline(f"deadline {utc(ts).isoformat()} is not in the future (chain time {utc(now).isoformat()})")
        if ts > now + longest:
            raise InvalidDeadline(f"deadline is more than {longest // 86_400} days away, the longest a job may run")
        return ts

    def _check_allowlisted(self, token: str) -> None:
        if not self._r.views.payment_token(token)["allowed"]:
            raise PreconditionError(f"token {token} is not an allowed payment token (see views.payment_tokens())")

    def _own_job(self, job_id: int, status: JobStatus, action: str) -> Job:
        job = self._r.views.job(job_id)
        if job.client != self._r.address:
            raise NotAllowed(f"only job {job_id}'s client {job.client} can {action} it")
        if job.status is not status:
            raise WrongJobState(f"job {job_id} is {job.status.value}; {action} needs it {status.value}")
        return job

    def _fund(self, info: Any, amount: int, payment: str, build: Any) -> Any:
        """Make sure the escrow can pull `amount`; return the call to send (with a permit if used)."""
        me = self._r.address
        token = self._r.erc20(info.address)
        balance = token.functions.balanceOf(me).call()
        if balance < amount:
            raise InsufficientBalance(
                f"{me} holds {from_raw(balance, info.decimals)} {info.symbol}, needs {from_raw(amount, info.decimals)}"
            )
        spender = self._r.escrow.address
        if amount == 0 or token.functions.allowance(me, spender).call() >= amount:
            return build(None)
        if payment in ("auto", "permit") and self._supports_permit(token):
            return build(self._permit(token, info, amount))
        if payment in ("auto", "approve"):
            self._r.send(token.functions.approve(spender, amount), "approve")
            return build(None)
        raise InsufficientAllowance(
            f"the escrow may pull {from_raw(token.functions.allowance(me, spender).call(), info.decimals)} "
            f"{info.symbol} from {me} but needs {from_raw(amount, info.decimals)}: approve it or use payment='auto'"
        )

    @staticmethod
    def _supports_permit(token: Any) -> bool:
        try:
            token.functions.DOMAIN_SEPARATOR().call()
            token.functions.nonces("0x" + "00" * 20).call()
            return True
        except Exception:  # no EIP-2612 on this token
            return False

    def _permit(self, token: Any, info: Any, amount: int) -> tuple[int, int, bytes, bytes]:
        """Sign an EIP-2612 permit for the escrow: returns (deadline, v, r, s)."""
        me = self._r.address
        name, version, chain_id, verifying = token.functions.eip712Domain().call()[1:5]
        deadline = self._r.now() + 3_600
        typed = {
            "types": {
                "EIP712Domain": eip712.DOMAIN_FIELDS,
                "Permit": [
                    {"name": "owner", "type": "address"},
                    {"name": "spender", "type": "address"},
                    {"name": "value", "type": "uint256"},
                    {"name": "nonce", "type": "uint256"},
                    {"name": "deadline", "type": "uint256"},
                ],
            },
            "primaryType": "Permit",
            "domain": {"name": name, "version": version, "chainId": chain_id, "verifyingContract": verifying},
            "message": {
                "owner": me,
                "spender": self._r.escrow.address,
                "value": amount,
                "nonce": token.functions.nonces(me).call(),
                "deadline": deadline,
            },
        }
        signed = Account.sign_typed_data(self._r.require_account().key, full_message=typed)
        return deadline, signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")

    def _job_from_event(self, args: Any, info: Any) -> Job:
        return Job(
            id=args.jobId,
            status=JobStatus.OPEN,
            client=args.client,
            provider=args.provider,
            token=info,
            unit_price=from_raw(args.unitPrice, info.decimals),
            max_units=args.maxUnits,
            escrow=from_raw(args.unitPrice * args.maxUnits, info.decimals),
            units=0,
            fee_bps=args.feeBps,
            collateral=from_raw(0, self._r.staking_token.decimals),
            deadline=utc(args.deadline),
            accept_by=utc(args.acceptBy),
            spec_hash="0x" + bytes(args.specHash).hex(),
        )


def _bytes32(value: bytes | str, name: str) -> bytes:
    raw = bytes(value) if isinstance(value, (bytes, bytearray)) else bytes.fromhex(str(value).removeprefix("0x"))
    if len(raw) != 32:
        raise PreconditionError(f"{name} must be 32 bytes, got {len(raw)}")
    return raw
