"""The oracle role: sign EIP-712 attestations, uptime reports and fraud attestations (a metered
request answered wrongly), collect a quorum, relay it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TypeVar

from eth_account import Account
from eth_account.signers.local import LocalAccount

from computerails import eip712, receipts, shared
from computerails.addresses import parse_address
from computerails.errors import (
    FraudNotProven,
    InvalidReceiptSignature,
    InvalidSignatures,
    NothingClaimable,
    PreconditionError,
    StaleSignatures,
    WrongJobState,
)
from computerails.receipts import FraudAttestation, ResponseReceipt
from computerails.session import Session
from computerails.tx import Call, SentTransaction
from computerails.types import (
    Attestation,
    FraudOutcome,
    JobStatus,
    Payout,
    Signature,
    UptimeOutcome,
    UptimeReport,
    from_raw,
)

Signer = LocalAccount | str | bytes
_SIGNED_MEMORY = 4_096  # own signatures remembered for the quorum check
Statement = Attestation | UptimeReport | FraudAttestation
#: A statement's own type, kept through prepare() and friends.
S = TypeVar("S", Attestation, UptimeReport, FraudAttestation, Statement)


def _account(signer: Signer) -> LocalAccount:
    return signer if isinstance(signer, LocalAccount) else Account.from_key(signer)


class OracleAPI:
    """Signing needs no node access beyond the chain id and hub address of the connection."""

    def __init__(self, session: Session) -> None:
        self._s = session
        self._signed: dict[tuple[bytes, bytes], str] = {}  # (digest, signature) -> signer, made here

    # ───────────────────────── signing ─────────────────────────

    def config_version(self, fresh: bool = False) -> int:
        """The hub's oracle configuration version: statements must be signed under it."""
        return self._quorum_rules(fresh=fresh)[2]

    def prepare(self, statement: S) -> S:
        """`statement` with ``config_version`` filled in (the hub's current one) if it is None."""
        if statement.config_version is not None:
            return statement
        return statement.model_copy(update={"config_version": self.config_version()})

    def digest(self, statement: Statement) -> bytes:
        """The EIP-712 digest of an attestation or report for this deployment's hub, or of a
        fraud attestation for its MeteredEscrow (a statement without a config version is signed
        under the hub's current one)."""
        statement = self.prepare(statement)
        if isinstance(statement, FraudAttestation):
            return statement.digest(shared.voucher_domain(self._s))
        if isinstance(statement, Attestation):
            struct = eip712.attestation_struct_hash(*statement.as_tuple())
        elif isinstance(statement, UptimeReport):
            struct = eip712.uptime_report_struct_hash(*statement.as_tuple())
        else:
            raise TypeError(f"the hub signs attestations and uptime reports, not {type(statement).__name__}")
        return eip712.typed_digest(self._separator(), struct)

    def _separator(self) -> bytes:
        """The hub's domain separator: fixed by chain id and hub address, computed once."""
        return self._s.forever(
            "domainSeparator", lambda: eip712.domain_separator(self._s.chain_id, self._s.hub.address)
        )

    def sign_attestation(self, attestation: Attestation, signer: Signer | None = None) -> Signature:
        """Sign a compute attestation (default signer: the connection's account)."""
        return self._sign(attestation, signer)

    def sign_uptime_report(self, report: UptimeReport, signer: Signer | None = None) -> Signature:
        """Sign an uptime report (default signer: the connection's account)."""
        return self._sign(report, signer)

    def fraud_attestation(
        self,
        receipt: ResponseReceipt,
        provider_signature: bytes | str,
        recomputed_response_hash: bytes | str,
        *,
        valid_for: int = 3_600,
        now: int | None = None,
    ) -> FraudAttestation:
        """A fraud attestation over `receipt`, checked off chain first: an oracle signs one only
        when the provider's own key signed the receipt and the recomputed answer differs.

        Raises:
            InvalidReceiptSignature: `provider_signature` is malformed or by another key than the
                receipt's provider (then it proves nothing against the provider).
            FraudNotProven: the recomputed answer equals the one the provider signed.
        """
        signature = (
            bytes.fromhex(provider_signature.removeprefix("0x"))
            if isinstance(provider_signature, str)
            else bytes(provider_signature)
        )
        domain = shared.voucher_domain(self._s)
        signer = receipts.recover(domain, receipt, signature)
        if signer != receipt.provider:
            raise InvalidReceiptSignature(
                f"the receipt is signed by {signer}, not by its provider {receipt.provider}: it proves nothing",
                collection_id=receipt.collection_id,
            )
        attestation = FraudAttestation(
            receipt=receipt,
            provider_signature=signature,
            recomputed_response_hash=recomputed_response_hash,
            deadline=(self._s.now() if now is None else now) + valid_for,
            config_version=self.config_version(),
        )
        if attestation.recomputed_response_hash == receipt.response_hash:
            raise FraudNotProven(
                f"request {receipt.request_index} of collection {receipt.collection_id}: the recomputed answer "
                "matches the one the provider signed",
            )
        return attestation

    def sign_fraud_attestation(self, attestation: FraudAttestation, signer: Signer | None = None) -> Signature:
        """Sign a fraud attestation (default signer: the connection's account)."""
        return self._sign(attestation, signer)

    def collect_signatures(
        self, statement: Statement, signers: Iterable[Signer], k: int | None = None
    ) -> list[Signature]:
        """Sign `statement` with the first `k` of `signers` (default k: the hub's threshold)."""
        k = k if k is not None else self._quorum_rules()[1]
        accounts = [_account(s) for s in signers]
        if len(accounts) < k:
            raise InvalidSignatures(f"need {k} signers, got {len(accounts)}")
        statement = self.prepare(statement)
        digest = self.digest(statement)
        return [self._sign_digest(digest, a, statement.config_version) for a in accounts[:k]]

    # ───────────────────────── relaying ─────────────────────────

    def submit_attestation(self, attestation: Attestation, signatures: Sequence[Signature]) -> SentTransaction:
        """Relay a quorum-signed attestation (signatures are ordered here as the hub requires).

        Raises:
            StaleSignatures: signed under an earlier oracle configuration.
            InvalidSignatures: fewer than k, duplicated, not from current oracles, or not over
                this attestation: checked before sending.
            WrongJobState: the job is not accepted and waiting for its attestation.
        """
        attestation = self._signed_statement(attestation, signatures)
        packed = self._check_quorum(attestation, signatures)
        s = self._s
        call = Call(
            s.hub.address,
            s.abi["AttestationHub"]["submitAttestation"].encode(attestation.as_tuple(), packed),
            "submitAttestation",
        )
        # One round trip: the clock, the job's state, the hub's oracle configuration and the
        # simulation (used only if the checks pass).
        simulation = s.tx.simulation(call.address, call.data)
        now, status, version, simulated = s.rpc.run(
            [
                s.latest_time(),
                s.call("JobEscrow", s.escrow.address, "jobStatus", attestation.job_id),
                s.call("AttestationHub", s.hub.address, "configVersion"),
                simulation.request,
            ]
        )
        self._require_version(attestation, version)
        if attestation.deadline < now:
            raise PreconditionError(f"attestation deadline {attestation.deadline} has passed; sign a fresh one")
        status = JobStatus.from_int(status)
        if status is not JobStatus.ACCEPTED:
            raise WrongJobState(f"job {attestation.job_id} is {status.value}; only accepted jobs take an attestation")
        return s.tx.send(call, label="submitAttestation", gas=simulation.gas_limit(simulated))

    def submit_attestations(
        self, batch: Sequence[tuple[Attestation, Sequence[Signature]]]
    ) -> tuple[SentTransaction, list[int]]:
        """Relay many attestations in one transaction. Items the hub rejects are skipped by the
        contract (AttestationSkipped); returns the transaction and the skipped job ids."""
        if not batch:
            raise PreconditionError("submit_attestations needs at least one attestation")
        attestations = [self._signed_statement(a, sigs).as_tuple() for a, sigs in batch]
        packed = [eip712.pack_signatures((s.signer, s.raw) for s in sigs) for _, sigs in batch]
        hub = self._s.abi["AttestationHub"]
        call = Call(self._s.hub.address, hub["submitAttestations"].encode(attestations, packed), "submitAttestations")
        sent = self._s.tx.send(call, label="submitAttestations")
        skipped = [e["jobId"] for e in hub.events["AttestationSkipped"].logs(sent.receipt, self._s.hub.address)]
        return sent, skipped

    def submit_uptime_report(self, report: UptimeReport, signatures: Sequence[Signature]) -> SentTransaction:
        """Relay a quorum-signed uptime report; the relayer it names (whoever sends it) earns a
        capped share of any slash.

        Raises:
            StaleSignatures: signed under an earlier oracle configuration.
            InvalidSignatures: as for :meth:`submit_attestation`.
            PreconditionError: the epoch has not ended, or was already reported.
        """
        report = self._signed_statement(report, signatures)
        packed = self._check_quorum(report, signatures)
        s = self._s
        call = Call(
            s.hub.address,
            s.abi["AttestationHub"]["submitUptimeReport"].encode(report.as_tuple(), packed),
            "submitUptimeReport",
        )
        slasher = s.slasher.address
        simulation = s.tx.simulation(call.address, call.data)
        current, reported, version, simulated = s.rpc.run(
            [
                s.call("UptimeSlasher", slasher, "currentEpoch"),
                s.call("UptimeSlasher", slasher, "isReported", report.provider, report.epoch),
                s.call("AttestationHub", s.hub.address, "configVersion"),
                simulation.request,
            ]
        )
        self._require_version(report, version)
        if report.epoch >= current:
            raise PreconditionError(f"epoch {report.epoch} has not ended (current epoch {current})")
        if reported:
            raise PreconditionError(f"a report for {report.provider} in epoch {report.epoch} was already applied")
        return s.tx.send(call, label="submitUptimeReport", gas=simulation.gas_limit(simulated))

    def submit_fraud_attestation(
        self, attestation: FraudAttestation, signatures: Sequence[Signature]
    ) -> SentTransaction:
        """Relay a quorum-signed fraud attestation to the MeteredEscrow, which slashes and jails
        the provider (read what it did with :meth:`fraud_outcome`).

        Raises:
            StaleSignatures: signed under an earlier oracle configuration.
            InvalidSignatures: as for :meth:`submit_attestation`.
            FraudNotProven: the recomputed answer equals the signed one.
            PreconditionError: the deadline has passed, or this request (or a later one of the
                collection) was already punished.
        """
        attestation = self._signed_statement(attestation, signatures)
        packed = self._check_quorum(attestation, signatures)
        r = attestation.receipt
        if attestation.recomputed_response_hash == r.response_hash:
            raise FraudNotProven(f"request {r.request_index}: the recomputed answer matches the signed one")
        s = self._s
        call = Call(
            s.metered,
            s.abi["MeteredEscrow"]["submitFraudAttestation"].encode(attestation.as_tuple(), packed),
            "submitFraudAttestation",
        )
        simulation = s.tx.simulation(call.address, call.data)
        now, collection, version, simulated = s.rpc.run(
            [
                s.latest_time(),
                s.call(
                    "MeteredEscrow",
                    s.metered,
                    "collection",
                    r.payer,
                    r.provider,
                    r.token,
                    bytes.fromhex(r.collection_id[2:]),
                ),
                s.call("AttestationHub", s.hub.address, "configVersion"),
                simulation.request,
            ]
        )
        self._require_version(attestation, version)
        if attestation.deadline < now:
            raise PreconditionError(f"fraud attestation deadline {attestation.deadline} has passed; sign a fresh one")
        _collected, _fee, _started, floor, *_ = collection
        if r.request_index < floor:
            raise PreconditionError(
                f"collection {r.collection_id} was already punished up to request {floor - 1}: "
                f"request {r.request_index} can no longer be"
            )
        return s.tx.send(call, label="submitFraudAttestation", gas=simulation.gas_limit(simulated))

    def fraud_outcome(self, sent: SentTransaction) -> FraudOutcome:
        """What a relayed fraud attestation did, from its receipt's events (staking-token units).

        Raises:
            PreconditionError: the transaction punished no receipt.
        """
        s = self._s
        punished = s.abi["MeteredEscrow"].events["FraudPunished"].logs(sent.receipt, s.metered)
        if not punished:
            raise PreconditionError(f"transaction {sent.tx_hash} punished no receipt")
        (p,) = punished
        (slash,) = s.abi["ProviderStaking"].events["FraudSlashed"].logs(sent.receipt, s.staking.address)
        jailed = s.abi["ProviderStaking"].events["ProviderJailed"].logs(sent.receipt, s.staking.address)
        token = s.staking_token
        d = token.decimals
        return FraudOutcome(
            provider=p["provider"],
            payer=p["payer"],
            receipt_digest="0x" + bytes(p["receiptDigest"]).hex(),
            request_index=p["requestIndex"],
            slashed=from_raw(slash["amount"], d),
            from_locked=from_raw(slash["fromLocked"], d),
            payer_amount=from_raw(slash["beneficiaryAmount"], d),
            jailed=bool(jailed),
            token=token,
            tx_hash=sent.tx_hash,
        )

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
        view, now = self._s.rpc.run(
            [self._s.call("JobEscrow", self._s.escrow.address, "job", job_id), self._s.latest_time()]
        )
        job = shared.job_from_view(self._s, view)
        attestation = Attestation(
            job_id=job_id,
            provider=job.provider,
            success=success,
            units=units,
            result_hash=result_hash,
            deadline=now + valid_for,
            config_version=self.config_version(),
        )
        return self.submit_attestation(attestation, self.collect_signatures(attestation, signers))

    def uptime_outcome(self, sent: SentTransaction) -> UptimeOutcome:
        """What a relayed uptime report did, read from its receipt's events: the slash, the
        shortfall deferred, the relayer's reward and whether it jailed the provider.

        Raises:
            PreconditionError: the transaction applied no uptime report.
        """
        s = self._s
        slasher, staking = s.slasher.address, s.staking.address
        reported = s.abi["UptimeSlasher"].events["UptimeReported"].logs(sent.receipt, slasher)
        if not reported:
            raise PreconditionError(f"transaction {sent.tx_hash} applied no uptime report")
        (r,) = reported
        slashes = s.abi["ProviderStaking"].events["ProviderSlashed"].logs(sent.receipt, staking)
        jailed = s.abi["ProviderStaking"].events["ProviderJailed"].logs(sent.receipt, staking)
        token = s.staking_token
        d = token.decimals
        return UptimeOutcome(
            provider=r["provider"],
            epoch=r["epoch"],
            uptime_bps=r["uptimeBps"],
            relayer=r["relayer"],
            slash_requested=from_raw(r["slashRequested"], d),
            slashed=from_raw(r["slashed"], d),
            shortfall=from_raw(sum(e["deferred"] for e in slashes), d),
            relayer_reward=from_raw(r["relayerReward"], d),
            jailed=any(e["provider"] == r["provider"] for e in jailed),
            token=token,
            tx_hash=sent.tx_hash,
        )

    # ───────────────────────── the relayer's reward ─────────────────────────

    def reward(self, address: str | None = None) -> Decimal:
        """Slash proceeds `address` (default: the connection's account) can claim from the
        staking contract, in staking-token units: a relayer's rewards for uptime reports (and
        any other share of slashes it received)."""
        who = parse_address(address, "relayer") if address else self._s.address
        raw = self._s.read("ProviderStaking", self._s.staking.address, "claimable", who)
        return from_raw(raw, self._s.staking_token.decimals)

    def claim_reward(self) -> Payout:
        """Claim the relayer's rewards (every slash proceed of the account) from the staking
        contract, in one transfer of the staking token.

        Raises:
            NothingClaimable: nothing is claimable.
        """
        me = self._s.address
        token = self._s.staking_token
        amount = self.reward()
        if amount == 0:
            raise NothingClaimable(f"{me} has no relayer reward (nor other slash proceeds) to claim in {token.symbol}")
        sent = self._s.send(self._s.staking.functions.claim(), "claim")
        return Payout(token=token, amount=amount, tx_hash=sent.tx_hash, source="staking")

    # ───────────────────────── views ─────────────────────────

    def threshold(self) -> int:
        return int(self._s.hub.functions.threshold().call())

    def oracles(self) -> list[str]:
        return list(self._s.hub.functions.oracles().call())

    # ───────────────────────── helpers ─────────────────────────

    def _sign(self, statement: Statement, signer: Signer | None) -> Signature:
        account = _account(signer) if signer is not None else self._s.require_account()
        statement = self.prepare(statement)
        return self._sign_digest(self.digest(statement), account, statement.config_version)

    def _signed_statement(self, statement: S, signatures: Sequence[Signature]) -> S:
        """The statement as its signatures were made: a statement left without a config version
        takes the one its signatures carry, so that a change of the hub's configuration between
        signing and relaying is reported as such (StaleSignatures), never as a bad signature."""
        if statement.config_version is not None:
            return statement
        versions = {s.config_version for s in signatures if s.config_version is not None}
        if len(versions) > 1:
            raise InvalidSignatures(
                f"the signatures were made under different oracle configurations {sorted(versions)}"
            )
        if versions:
            return statement.model_copy(update={"config_version": versions.pop()})
        return self.prepare(statement)

    def _sign_digest(self, digest: bytes, account: LocalAccount, config_version: int | None = None) -> Signature:
        signature = eip712.sign_digest(digest, account.key)
        # Remember who made it: _check_quorum need not recover a signature this connection made
        # itself over the same digest (recovery would return this very address).
        if len(self._signed) >= _SIGNED_MEMORY:
            self._signed.clear()
        self._signed[(digest, signature)] = account.address
        return Signature(signer=account.address, signature="0x" + signature.hex(), config_version=config_version)

    def _quorum_rules(self, fresh: bool = False) -> tuple[frozenset[str], int, int]:
        """(oracle set, threshold, config version), cached for the connection's ``cache_ttl``."""
        hub = self._s.hub.address

        def load() -> tuple[frozenset[str], int, int]:
            oracles, k, version = self._s.rpc.run(
                [
                    self._s.call("AttestationHub", hub, "oracles"),
                    self._s.call("AttestationHub", hub, "threshold"),
                    self._s.call("AttestationHub", hub, "configVersion"),
                ]
            )
            return frozenset(oracles), int(k), int(version)

        return self._s.cached("quorumRules", load, fresh=fresh)

    def _require_version(self, statement: Statement, version: int) -> None:
        """Refuse (before sending) a statement signed under another configuration than the hub's
        current one, and refresh the cached configuration so the next signature uses it."""
        if statement.config_version != version:
            self._quorum_rules(fresh=True)
            raise StaleSignatures(
                f"signed under oracle configuration {statement.config_version}, the hub is at {version} "
                "(the oracle set or threshold changed): sign the statement again"
            )

    def _check_quorum(self, statement: Statement, signatures: Sequence[Signature]) -> bytes:
        digest = self.digest(statement)
        oracles, k, version = self._quorum_rules()
        if statement.config_version != version:  # a change since the cache was filled, or stale signatures
            oracles, k, version = self._quorum_rules(fresh=True)
            if statement.config_version != version:
                raise StaleSignatures(
                    f"signed under oracle configuration {statement.config_version}, the hub is at {version} "
                    "(the oracle set or threshold changed): sign the statement again"
                )
        fresh = False  # a check that fails on the cached rules is repeated on fresh ones before raising
        for s in signatures:
            raw = s.raw
            try:
                recovered = self._signed.get((digest, raw)) or eip712.recover(digest, raw)
            except ValueError as exc:  # wrong length, bad v, high s: the hub would reject it too
                raise InvalidSignatures(f"the signature claimed for {s.signer} is malformed: {exc}") from None
            if recovered != s.signer:
                raise InvalidSignatures(
                    f"the signature claimed for {s.signer} recovers to {recovered}: wrong data or key"
                )
            if s.signer not in oracles and not fresh:
                (oracles, k, _), fresh = self._quorum_rules(fresh=True), True
            if s.signer not in oracles:
                raise InvalidSignatures(f"{s.signer} is not a current oracle")
        signers = {s.signer for s in signatures}
        if len(signers) < k and not fresh:
            oracles, k, _ = self._quorum_rules(fresh=True)
        if len(signers) < k:
            raise InvalidSignatures(f"need signatures from {k} distinct oracles, got {len(signers)}")
        try:
            return eip712.pack_signatures((s.signer, s.raw) for s in signatures)
        except ValueError as exc:
            raise InvalidSignatures(str(exc)) from None
