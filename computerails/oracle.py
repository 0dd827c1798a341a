"""The oracle role: sign EIP-712 attestations and uptime reports, collect a quorum, relay it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

from eth_account import Account
from eth_account.signers.local import LocalAccount

from web3.logs import DISCARD

from computerails import eip712
from computerails.errors import InvalidSignatures, PreconditionError, WrongJobState
from computerails.tx import SentTransaction
from computerails.types import Attestation, JobStatus, Signature, UptimeReport

if TYPE_CHECKING:
    from computerails.rails import ComputeRails

Signer = LocalAccount | str | bytes
Statement = Attestation | UptimeReport


def _account(signer: Signer) -> LocalAccount:
    return signer if isinstance(signer, LocalAccount) else Account.from_key(signer)


class OracleAPI:
    """Signing needs no node access beyond the chain id and hub address of the connection."""

    def __init__(self, rails: "ComputeRails") -> None:
        self._r = rails

    # ───────────────────────── signing ─────────────────────────

    def digest(self, statement: Statement) -> bytes:
        """The EIP-712 digest of an attestation or report for this deployment's hub."""
        return statement.digest(self._r.chain_id, self._r.hub.address)

    def sign_attestation(self, attestation: Attestation, signer: Signer | None = None) -> Signature:
        """Sign a compute attestation (default signer: the connection's account)."""
        return self._sign(attestation, signer)

    def sign_uptime_report(self, report: UptimeReport, signer: Signer | None = None) -> Signature:
        """Sign an uptime report (default signer: the connection's account)."""
        return self._sign(report, signer)

    def collect_signatures(self, statement: Statement, signers: Iterable[Signer], k: int | None = None) -> list[Signature]:
        """Sign `statement` with the first `k` of `signers` (default k: the hub's threshold)."""
        k = k if k is not None else self.threshold()
        accounts = [_account(s) for s in signers]
        if len(accounts) < k:
            raise InvalidSignatures(f"need {k} signers, got {len(accounts)}")
        return [self._sign(statement, a) for a in accounts[:k]]

    # ───────────────────────── relaying ─────────────────────────

    def submit_attestation(self, attestation: Attestation, signatures: Sequence[Signature]) -> SentTransaction:
        """Relay a quorum-signed attestation (signatures are ordered here as the hub requires).

        Raises:
            InvalidSignatures: fewer than k, duplicated, not from current oracles, or not over
                this attestation: checked before sending.
            WrongJobState: the job is not accepted and waiting for its attestation.
        """
        packed = self._check_quorum(attestation, signatures)
        if attestation.deadline < self._r.now():
            raise PreconditionError(f"attestation deadline {attestation.deadline} has passed; sign a fresh one")
        status = self._r.views.job_status(attestation.job_id)
        if status is not JobStatus.ACCEPTED:
            raise WrongJobState(f"job {attestation.job_id} is {status.value}; only accepted jobs take an attestation")
        fn = self._r.hub.functions.submitAttestation(attestation.as_tuple(), packed)
        return self._r.send(fn, "submitAttestation")

    def submit_attestations(self, batch: Sequence[tuple[Attestation, Sequence[Signature]]]) -> tuple[SentTransaction, list[int]]:
        """Relay many attestations in one transaction. Items the hub rejects are skipped by the
        contract (AttestationSkipped); returns the transaction and the skipped job ids."""
        if not batch:
            raise PreconditionError("submit_attestations needs at least one attestation")
        attestations = [a.as_tuple() for a, _ in batch]
        packed = [eip712.pack_signatures((s.signer, s.raw) for s in sigs) for _, sigs in batch]
        sent = self._r.send(self._r.hub.functions.submitAttestations(attestations, packed), "submitAttestations")
        skipped = [e.args.jobId for e in self._r.hub.events.AttestationSkipped().process_receipt(sent.receipt, errors=DISCARD)]
        return sent, skipped

    def submit_uptime_report(self, report: UptimeReport, signatures: Sequence[Signature]) -> SentTransaction:
        """Relay a quorum-signed uptime report; the relayer earns a capped share of any slash."""
        packed = self._check_quorum(report, signatures)
        current = int(self._r.slasher.functions.currentEpoch().call())
        if report.epoch >= current:
            raise PreconditionError(f"epoch {report.epoch} has not ended (current epoch {current})")
        if self._r.views.is_reported(report.provider, report.epoch):
            raise PreconditionError(f"a report for {report.provider} in epoch {report.epoch} was already applied")
        fn = self._r.hub.functions.submitUptimeReport(report.as_tuple(), packed)
        return self._r.send(fn, "submitUptimeReport")

    def attest(
        self,
        job_id: int,
        *,
        success: bool,
        units: int,
        result_hash: bytes | str,
        signers: Iterable[Signer],
        valid_for: int = 3_600,
    ) -> SentTransaction:
        """Build, sign (k of `signers`) and relay an attestation for an accepted job."""
        job = self._r.views.job(job_id)
        attestation = Attestation(
            job_id=job_id,
            provider=job.provider,
            success=success,
            units=units,
            result_hash=result_hash,
            deadline=self._r.now() + valid_for,
        )
        return self.submit_attestation(attestation, self.collect_signatures(attestation, signers))

    # ───────────────────────── views ─────────────────────────

    def threshold(self) -> int:
        return int(self._r.hub.functions.threshold().call())

    def oracles(self) -> list[str]:
        return list(self._r.hub.functions.oracles().call())

    # ───────────────────────── helpers ─────────────────────────

    def _sign(self, statement: Statement, signer: Signer | None) -> Signature:
        account = _account(signer) if signer is not None else self._r.require_account()
        signature = eip712.sign_digest(self.digest(statement), account.key)
        return Signature(signer=account.address, signature="0x" + signature.hex())

    def _check_quorum(self, statement: Statement, signatures: Sequence[Signature]) -> bytes:
        digest = self.digest(statement)
        oracles = set(self.oracles())
        k = self.threshold()
        for s in signatures:
            try:
                recovered = eip712.recover(digest, s.raw)
            except ValueError as exc:  # wrong length, bad v, high s: the hub would reject it too
                raise InvalidSignatures(f"the signature claimed for {s.signer} is malformed: {exc}") from None
            if recovered != s.signer:
                raise InvalidSignatures(f"the signature claimed for {s.signer} recovers to {recovered}: wrong data or key")
            if s.signer not in oracles:
                raise InvalidSignatures(f"{s.signer} is not a current oracle")
        if len({s.signer for s in signatures}) < k:
            raise InvalidSignatures(f"need signatures from {k} distinct oracles, got {len({s.signer for s in signatures})}")
        try:
            return eip712.pack_signatures((s.signer, s.raw) for s in signatures)
        except ValueError as exc:
            raise InvalidSignatures(str(exc)) from None
