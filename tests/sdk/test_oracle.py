"""OracleAPI: signing, quorum collection, relaying attestations and uptime reports."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from eth_account import Account
from web3.logs import DISCARD

from computerails import Attestation, JobStatus, UptimeReport, eip712, errors
from tests.support.sdk import RESULT, finish_sla_epoch, nonce_of


def _attestation(rails, job, units=80, success=True):
    return Attestation(
        job_id=job.id,
        provider=job.provider,
        success=success,
        units=units,
        result_hash=RESULT,
        deadline=rails.now() + 3_600,
    )


def test_sign_attestation__explicit_and_default_signer__recovers_to_signer(connect, relayer_rails, oracle_keys):
    att = Attestation(job_id=7, provider="0x" + "11" * 20, success=True, units=3, result_hash=RESULT, deadline=10**10)
    oracle = Account.from_key(oracle_keys[0])

    explicit = relayer_rails.oracle.sign_attestation(att, oracle_keys[0])
    default = connect(17).oracle.sign_attestation(att)

    assert explicit == default
    assert explicit.signer == oracle.address
    assert len(explicit.raw) == 65
    assert eip712.recover(relayer_rails.oracle.digest(att), explicit.raw) == oracle.address


def test_sign_uptime_report__oracle_key__recovers_to_signer(relayer_rails, oracle_keys):
    report = UptimeReport(provider="0x" + "22" * 20, epoch=5, uptime_bps=9_000, relayer=relayer_rails.address)

    sig = relayer_rails.oracle.sign_uptime_report(report, oracle_keys[1])

    assert sig.signer == Account.from_key(oracle_keys[1]).address
    # signed under the hub's current oracle configuration, filled in by the SDK
    prepared = relayer_rails.oracle.prepare(report)
    assert prepared.config_version == relayer_rails.hub.functions.configVersion().call() == 1
    assert eip712.recover(prepared.digest(relayer_rails.chain_id, relayer_rails.hub.address), sig.raw) == sig.signer


def test_collect_signatures__default_k__threshold_many_in_signer_order(relayer_rails, oracle_keys):
    report = UptimeReport(provider="0x" + "22" * 20, epoch=1, uptime_bps=0)

    sigs = relayer_rails.oracle.collect_signatures(report, oracle_keys)
    all_three = relayer_rails.oracle.collect_signatures(report, oracle_keys, k=3)

    assert [s.signer for s in sigs] == [Account.from_key(k).address for k in oracle_keys[:2]]
    assert len(all_three) == 3 and all_three[:2] == sigs
    with pytest.raises(errors.InvalidSignatures, match="need 2 signers, got 1"):
        relayer_rails.oracle.collect_signatures(report, oracle_keys[:1])


def test_submit_attestation__quorum__job_attested_by_relayer(relayer_rails, accepted_job, oracle_keys):
    att = _attestation(relayer_rails, accepted_job)
    sigs = relayer_rails.oracle.collect_signatures(att, reversed(oracle_keys))  # any order: sorted when packed
    before = nonce_of(relayer_rails)

    sent = relayer_rails.oracle.submit_attestation(att, sigs)

    assert nonce_of(relayer_rails) == before + 1 and sent.label == "submitAttestation"
    (event,) = relayer_rails.escrow.events.JobAttested().process_receipt(sent.receipt, errors=DISCARD)
    assert (event.args.jobId, event.args.success, event.args.units, event.args.resultHash) == (
        accepted_job.id,
        True,
        80,
        RESULT,
    )
    job = relayer_rails.views.job(accepted_job.id)
    assert (job.status, job.units) == (JobStatus.ATTESTED, 80)
    assert job.challenge_ends == datetime.fromtimestamp(relayer_rails.now() + 3_600, tz=timezone.utc)


def test_submit_attestations__one_item_for_open_job__skipped_other_recorded(
    relayer_rails, accepted_job, make_job, oracle_keys
):
    still_open = make_job()
    batch = []
    for job in (accepted_job, still_open):
        att = _attestation(relayer_rails, job)
        batch.append((att, relayer_rails.oracle.collect_signatures(att, oracle_keys)))

    sent, skipped = relayer_rails.oracle.submit_attestations(batch)

    assert skipped == [still_open.id]
    (event,) = relayer_rails.hub.events.AttestationSkipped().process_receipt(sent.receipt, errors=DISCARD)
    reason = errors.decode_revert(event.args.reason)
    assert isinstance(reason, errors.UnexpectedJobStatus)
    assert reason.args_dict == {"jobId": still_open.id, "expected": JobStatus.ACCEPTED, "actual": JobStatus.OPEN}
    assert relayer_rails.views.job_status(accepted_job.id) is JobStatus.ATTESTED
    assert relayer_rails.views.job_status(still_open.id) is JobStatus.OPEN


def test_submit_uptime_report__below_sla__provider_slashed_and_jailed(
    w3, relayer_rails, registered_provider, oracle_keys, stk
):
    epoch = finish_sla_epoch(w3, relayer_rails)
    report = UptimeReport(
        provider=registered_provider.address, epoch=epoch, uptime_bps=9_499, relayer=relayer_rails.address
    )
    sigs = relayer_rails.oracle.collect_signatures(report, oracle_keys)

    relayer_rails.oracle.submit_uptime_report(report, sigs)

    status = relayer_rails.views.provider(registered_provider.address)
    # 5 % of 2 000 staked = 100 slashed; the relayer gets 10 % of that, capped at 10
    assert (status.jailed, status.active, status.staked, status.total_slashed) == (
        True,
        False,
        Decimal(1_900),
        Decimal(100),
    )
    assert relayer_rails.views.claimable_raw(relayer_rails.address)[stk]["staking"] == 10 * 10**18
    assert relayer_rails.views.is_reported(registered_provider.address, epoch)


def test_submit_uptime_report__at_sla__recorded_without_slash(w3, relayer_rails, registered_provider, oracle_keys):
    report = UptimeReport(
        provider=registered_provider.address, epoch=finish_sla_epoch(w3, relayer_rails), uptime_bps=9_500
    )

    relayer_rails.oracle.submit_uptime_report(report, relayer_rails.oracle.collect_signatures(report, oracle_keys))

    status = relayer_rails.views.provider(registered_provider.address)
    assert (status.jailed, status.staked) == (False, Decimal(2_000))
    assert relayer_rails.views.is_reported(registered_provider.address, report.epoch)
    with pytest.raises(errors.PreconditionError, match="already applied"):
        relayer_rails.oracle.submit_uptime_report(report, relayer_rails.oracle.collect_signatures(report, oracle_keys))


def test_attest__failure__job_failed_and_collateral_slashed(
    relayer_rails, accepted_job, registered_provider, oracle_keys
):
    relayer_rails.oracle.attest(
        accepted_job.id, success=False, units=0, result_hash="0x" + "ee" * 32, signers=oracle_keys
    )

    assert relayer_rails.views.job_status(accepted_job.id) is JobStatus.FAILED
    status = registered_provider.provider.status()
    assert (status.jailed, status.staked, status.locked) == (True, Decimal(1_995), Decimal(0))


def test_threshold_and_oracles__local_deployment__two_of_three(readonly, oracle_keys):
    assert readonly.oracle.threshold() == 2
    assert readonly.oracle.oracles() == [Account.from_key(k).address for k in oracle_keys]
