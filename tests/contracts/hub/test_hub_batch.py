"""submitAttestations: a batch records every valid item and skips each invalid one with
AttestationSkipped(jobId, reason), `reason` being the exact revert data the item hit."""

import pytest
from eth_utils import keccak

JOB_OPEN, JOB_ACCEPTED, JOB_ATTESTED = 1, 2, 3  # IJobEscrow.JobStatus


@pytest.fixture
def accepted_jobs(protocol, client, registered_provider):
    return [protocol.accepted_job(client, registered_provider) for _ in range(3)]


def test_batch__all_valid__all_recorded(protocol, hub, escrow, accepted_jobs, relayer):
    attestations = [protocol.attestation(job, units=10 * (i + 1)) for i, job in enumerate(accepted_jobs)]
    signatures = [protocol.sign(protocol.attestation_digest(a)) for a in attestations]

    assert hub.submitAttestations.call(attestations, signatures) == 3
    receipt = hub.submitAttestations(attestations, signatures, sender=relayer)

    assert [log.jobId for log in receipt.events.filter(escrow.JobAttested)] == accepted_jobs
    assert list(receipt.events.filter(hub.AttestationSkipped)) == []
    assert [escrow.job(job).status for job in accepted_jobs] == [JOB_ATTESTED] * 3
    assert [escrow.job(job).units for job in accepted_jobs] == [10, 20, 30]


def test_batch__invalid_items__skipped_with_exact_reasons(
    quorum, protocol, hub, escrow, selector, error_data, client, registered_provider, sorted_oracles, relayer
):
    valid, unsigned, malleable, expiring = (protocol.accepted_job(client, registered_provider) for _ in range(4))
    still_open = protocol.create_job(client, registered_provider)
    items = {
        "valid": protocol.attestation(valid),
        "unsigned": protocol.attestation(unsigned),
        "malleable": protocol.attestation(malleable),
        "expiring": protocol.attestation(expiring, deadline=protocol.now() + 60),
        "still_open": protocol.attestation(still_open),
    }
    digests = {name: protocol.attestation_digest(a) for name, a in items.items()}
    signatures = {name: quorum.sign(d, sorted_oracles[:2]) for name, d in digests.items()}
    signatures["unsigned"] = quorum.sign(digests["unsigned"], sorted_oracles[:1])
    signatures["malleable"] = signatures["malleable"][:65] + quorum.high_s_twin(signatures["malleable"][65:])
    # The same valid item again at the end: by then its job is Attested.
    batch = list(items) + ["valid"]
    protocol.warp_to(items["expiring"][5] + 1)

    receipt = hub.submitAttestations([items[n] for n in batch], [signatures[n] for n in batch], sender=relayer)

    assert [log.jobId for log in receipt.events.filter(escrow.JobAttested)] == [valid]
    assert list(receipt.events.filter(hub.AttestationSkipped)) == [
        hub.AttestationSkipped(jobId=unsigned, reason=error_data(hub.InsufficientSignatures, required=2, provided=1)),
        hub.AttestationSkipped(jobId=malleable, reason=error_data(hub.InvalidSignature, index=1)),
        hub.AttestationSkipped(
            jobId=expiring,
            reason=error_data(hub.AttestationExpired, deadline=items["expiring"][5], nowTime=receipt.timestamp),
        ),
        hub.AttestationSkipped(
            jobId=still_open,
            reason=error_data(escrow.UnexpectedJobStatus, jobId=still_open, expected=JOB_ACCEPTED, actual=JOB_OPEN),
        ),
        hub.AttestationSkipped(
            jobId=valid,
            reason=error_data(escrow.UnexpectedJobStatus, jobId=valid, expected=JOB_ACCEPTED, actual=JOB_ATTESTED),
        ),
    ]
    assert escrow.jobStatus(valid) == JOB_ATTESTED
    assert [escrow.jobStatus(j) for j in (unsigned, malleable, expiring)] == [JOB_ACCEPTED] * 3
    assert escrow.jobStatus(still_open) == JOB_OPEN


def test_batch__skip_reason__starts_with_error_selector(
    quorum, protocol, hub, selector, accepted_jobs, sorted_oracles, relayer
):
    attestation = protocol.attestation(accepted_jobs[0])
    one_signature = quorum.sign(protocol.attestation_digest(attestation), sorted_oracles[:1])

    receipt = hub.submitAttestations([attestation], [one_signature], sender=relayer)

    (skipped,) = receipt.events.filter(hub.AttestationSkipped)
    assert skipped.reason[:4] == selector(hub.InsufficientSignatures)
    assert skipped.reason[:4] == keccak(text="InsufficientSignatures(uint256,uint256)")[:4]
    assert hub.submitAttestations.call([attestation], [one_signature]) == 0


def test_batch__lengths_differ__batch_length_mismatch(reverts, protocol, hub, escrow, accepted_jobs, relayer):
    attestations = [protocol.attestation(job) for job in accepted_jobs[:2]]
    signatures = [protocol.sign(protocol.attestation_digest(attestations[0]))]

    with reverts(hub.BatchLengthMismatch, attestations=2, signatures=1):
        hub.submitAttestations(attestations, signatures, sender=relayer)

    assert [escrow.jobStatus(job) for job in accepted_jobs] == [JOB_ACCEPTED] * 3


def test_batch__empty__empty_batch(reverts, hub, relayer):
    with reverts(hub.EmptyBatch):
        hub.submitAttestations([], [], sender=relayer)
