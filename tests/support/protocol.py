"""Test driver: the user-level steps tests repeat (fund, register, create, attest, report).

It signs exactly as oracles do, through ``computerails.eip712``, so the contract tests also
exercise the SDK's digests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from computerails import eip712

USD = 10**6
STAKE = 10**18
RESULT_HASH = b"\x42" * 32
SPEC_HASH = b"\x07" * 32


class Protocol:
    """Wraps one deployment with helpers that do what a user would do, in one call each."""

    def __init__(self, deployment: Any, oracles: Sequence[Any], chain: Any) -> None:
        self.deployment = deployment
        self.staking = deployment.staking
        self.escrow = deployment.escrow
        self.hub = deployment.hub
        self.slasher = deployment.slasher
        self.usd = deployment.payment_tokens[0]
        self.stake_token = deployment.staking_token
        self.oracles = list(oracles)
        self.chain = chain

    # ── time ──
    def now(self) -> int:
        return self.chain.pending_timestamp

    def warp(self, seconds: int) -> None:
        """Move the next block's timestamp forward by `seconds` and mine it."""
        self.chain.pending_timestamp += seconds
        self.chain.mine()

    def warp_to(self, timestamp: int) -> None:
        """Make the next transaction run at exactly `timestamp`."""
        self.chain.pending_timestamp = timestamp

    # ── tokens ──
    def fund_usd(self, account: Any, amount: int, approve_to: Any = None) -> None:
        self.usd.mint(account.address, amount, sender=account)
        self.usd.approve((approve_to or self.escrow).address, 2**256 - 1, sender=account)

    def fund_stake(self, account: Any, amount: int) -> None:
        self.stake_token.mint(account.address, amount, sender=account)
        self.stake_token.approve(self.staking.address, 2**256 - 1, sender=account)

    # ── providers ──
    def register(self, provider: Any, amount: int = 10_000 * STAKE, uri: str = "ipfs://provider-meta") -> Any:
        self.fund_stake(provider, amount)
        return self.staking.register(uri, amount, sender=provider)

    # ── jobs ──
    def create_job(
        self,
        client: Any,
        provider: Any,
        *,
        unit_price: int = USD // 10,
        max_units: int = 100,
        deadline: int | None = None,
        spec_hash: bytes = SPEC_HASH,
        token: Any = None,
    ) -> int:
        """Fund `client`, create a job and return its id (read from the JobCreated event)."""
        token = token or self.usd
        if token.address == self.usd.address:
            self.fund_usd(client, unit_price * max_units)
        deadline = deadline if deadline is not None else self.now() + 86_400
        receipt = self.escrow.createJob(
            provider.address, token.address, unit_price, max_units, deadline, spec_hash, sender=client
        )
        return receipt.events.filter(self.escrow.JobCreated)[-1].jobId

    def accepted_job(self, client: Any, provider: Any, **kwargs: Any) -> int:
        job_id = self.create_job(client, provider, **kwargs)
        self.escrow.accept(job_id, sender=provider)
        return job_id

    # ── oracles ──
    def attestation(
        self,
        job_id: int,
        *,
        success: bool = True,
        units: int = 100,
        result_hash: bytes = RESULT_HASH,
        deadline: int | None = None,
        provider: str | None = None,
        config_version: int | None = None,
    ) -> tuple:
        provider = provider or self.escrow.job(job_id).provider
        deadline = deadline if deadline is not None else self.now() + 3_600
        version = config_version if config_version is not None else self.hub.configVersion()
        return (job_id, provider, success, units, result_hash, deadline, version)

    def attestation_digest(self, attestation: tuple, hub: Any = None, chain_id: int | None = None) -> bytes:
        hub = hub or self.hub
        separator = eip712.domain_separator(chain_id or self.chain.chain_id, hub.address)
        return eip712.typed_digest(separator, eip712.attestation_struct_hash(*attestation))

    def report_digest(self, report: tuple) -> bytes:
        separator = eip712.domain_separator(self.chain.chain_id, self.hub.address)
        return eip712.typed_digest(separator, eip712.uptime_report_struct_hash(*report))

    def sign(self, digest: bytes, signers: Sequence[Any] | None = None) -> bytes:
        """Signatures of `signers` (default: the first `threshold` oracles), properly ordered."""
        signers = signers if signers is not None else self.oracles[: self.hub.threshold()]
        return eip712.sign_all(digest, [s.private_key for s in signers])

    def attest(self, job_id: int, *, sender: Any = None, signers: Sequence[Any] | None = None, **kwargs: Any) -> Any:
        attestation = self.attestation(job_id, **kwargs)
        signatures = self.sign(self.attestation_digest(attestation), signers)
        return self.hub.submitAttestation(attestation, signatures, sender=sender or self.oracles[0])

    def report(
        self, provider: Any, epoch: int, uptime_bps: int, *, relayer: Any = None, config_version: int | None = None
    ) -> tuple:
        """An UptimeReport tuple; the relayer the oracles name defaults to the first oracle."""
        relayer = relayer if relayer is not None else self.oracles[0]
        relayer = relayer if isinstance(relayer, str) else relayer.address
        version = config_version if config_version is not None else self.hub.configVersion()
        address = provider if isinstance(provider, str) else provider.address
        return (address, epoch, uptime_bps, relayer, version)

    def report_uptime(
        self,
        provider: Any,
        epoch: int,
        uptime_bps: int,
        *,
        sender: Any = None,
        signers: Sequence[Any] | None = None,
        relayer: Any = None,
    ) -> Any:
        """Sign and relay a report. The named relayer defaults to the sender (first oracle)."""
        sender = sender or self.oracles[0]
        report = self.report(provider, epoch, uptime_bps, relayer=relayer if relayer is not None else sender)
        signatures = self.sign(self.report_digest(report), signers)
        return self.hub.submitUptimeReport(report, signatures, sender=sender)

    def finish_epoch(self) -> int:
        """Warp into the next epoch and return the number of the epoch that just ended."""
        current = self.slasher.currentEpoch()
        self.warp_to(self.slasher.epochEnd(current))
        self.chain.mine()
        return current

    def warp_past_sla_start(self, provider: Any) -> None:
        """Move to the start of the first epoch fully under `provider`'s SLA (registration or
        unjail starts it from the next epoch), so that the next `finish_epoch` ends an epoch
        the provider can be reported for."""
        sla_from = self.staking.providerInfo(provider).slaFrom
        epoch = self.slasher.currentEpoch()
        if self.slasher.epochStart(epoch) < sla_from:
            self.warp_to(self.slasher.epochEnd(epoch))
            self.chain.mine()
