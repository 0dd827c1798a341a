"""submitAttestation: which quorums the hub accepts and the exact error for each it rejects.

The session deployment has oracles accounts[17..19] with threshold 2. Every rejection also
checks that the job is left exactly as it was (still Accepted, nothing recorded).
"""

import pytest
from ape import project
from eth_keys import keys
from eth_utils import keccak

from computerails import eip712
from tests.support.deployment import deploy
from tests.support.protocol import Protocol

JOB_ACCEPTED, JOB_ATTESTED = 2, 3  # IJobEscrow.JobStatus
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

# ─────────────────────────── accepted quorums ───────────────────────────


def test_submit__threshold_signers_ascending__job_attested(
    quorum, protocol, hub, escrow, attestation, digest, sorted_oracles, relayer
):
    signatures = quorum.sign(digest, sorted_oracles[:2])
    assert quorum.predict(digest, signatures, hub.oracles(), hub.threshold()) is None

    receipt = hub.submitAttestation(attestation, signatures, sender=relayer)

    job = escrow.job(attestation[0])
    assert job.status == JOB_ATTESTED
    assert job.units == 60
    assert receipt.events == [
        escrow.JobAttested(
            jobId=attestation[0],
            success=True,
            units=60,
            resultHash=attestation[4],
            challengeEnds=receipt.timestamp + escrow.challengeWindow(),
        )
    ]


def test_submit__more_signers_than_threshold__job_attested(
    quorum, hub, escrow, attestation, digest, sorted_oracles, relayer
):
    hub.submitAttestation(attestation, quorum.sign(digest, sorted_oracles), sender=relayer)

    assert escrow.jobStatus(attestation[0]) == JOB_ATTESTED


def test_submit__any_relayer__job_attested(protocol, hub, escrow, attestation, digest, attacker):
    # Relaying is permissionless: the quorum, not the sender, is what counts.
    hub.submitAttestation(attestation, protocol.sign(digest), sender=attacker)

    assert escrow.jobStatus(attestation[0]) == JOB_ATTESTED


def test_check_attestation__valid_quorum__returns_nothing(protocol, hub, attestation, digest):
    assert hub.checkAttestation(attestation, protocol.sign(digest)) is None


def test_check_attestation__invalid_quorum__reverts_like_submit(
    quorum, reverts, hub, attestation, digest, sorted_oracles
):
    with reverts(hub.InsufficientSignatures, required=2, provided=1):
        hub.checkAttestation(attestation, quorum.sign(digest, sorted_oracles[:1]))


# ─────────────────────────── rejected quorums ───────────────────────────


QUORUM_ERRORS = {
    "SignatureLengthInvalid",
    "InsufficientSignatures",
    "InvalidSignature",
    "SignersNotAscending",
    "SignerNotOracle",
}


@pytest.fixture
def submit_reverts(quorum, reverts, hub, escrow, relayer):
    """``submit_reverts(error, attestation, signatures, **inputs)``: submits, expects exactly
    that error, then checks the attested job (or `job_id`) did not move.

    For quorum errors it also checks that the Python model of the quorum check
    (``quorum.predict``) predicts the same error: the tests that change a signed field rely on
    that model to name the error, so every fixed case here keeps it honest."""

    def check(error, attestation, signatures, *, job_id=None, target_hub=None, **inputs):
        target = target_hub or hub
        job_id = attestation[0] if job_id is None else job_id
        job_escrow = escrow if target_hub is None else project.JobEscrow.at(target.escrow())
        before = job_escrow.job(job_id)
        assert before.status == JOB_ACCEPTED
        if error.abi.name in QUORUM_ERRORS:
            digest = target.attestationDigest(attestation)
            predicted = quorum.predict(digest, signatures, target.oracles(), target.threshold())
            assert predicted == (error.abi.name, inputs)

        with reverts(error, **inputs):
            target.submitAttestation(attestation, signatures, sender=relayer)

        assert job_escrow.job(job_id) == before

    return check


def test_submit__fewer_than_threshold__insufficient_signatures(
    quorum, submit_reverts, hub, attestation, digest, sorted_oracles
):
    signatures = quorum.sign(digest, sorted_oracles[:1])

    submit_reverts(hub.InsufficientSignatures, attestation, signatures, required=2, provided=1)


def test_submit__no_signatures__insufficient_signatures(submit_reverts, hub, attestation):
    submit_reverts(hub.InsufficientSignatures, attestation, b"", required=2, provided=0)


def test_submit__same_signer_twice__signers_not_ascending(
    quorum, submit_reverts, hub, attestation, digest, sorted_oracles
):
    # One oracle cannot make up a quorum on its own by signing twice.
    signer = sorted_oracles[0]
    signatures = quorum.sign(digest, [signer, signer])

    submit_reverts(hub.SignersNotAscending, attestation, signatures, previous=signer.address, signer=signer.address)


def test_submit__signers_descending__signers_not_ascending(
    quorum, submit_reverts, hub, attestation, digest, sorted_oracles
):
    low, high = sorted_oracles[0], sorted_oracles[1]
    signatures = quorum.sign(digest, [high, low])

    submit_reverts(hub.SignersNotAscending, attestation, signatures, previous=high.address, signer=low.address)


def test_submit__signer_outside_set__signer_not_oracle(
    quorum, submit_reverts, hub, attestation, digest, sorted_oracles, outsider
):
    signers = sorted([sorted_oracles[0], outsider], key=lambda s: int(s.address, 16))
    signatures = quorum.sign(digest, signers)

    submit_reverts(hub.SignerNotOracle, attestation, signatures, signer=outsider.address)


def test_submit__signer_removed_after_signing__signer_not_oracle(
    quorum, submit_reverts, protocol, hub, accepted_job, sorted_oracles, governance
):
    # Signed for the configuration the removal creates, so that the statement is current when
    # relayed and only the membership check can refuse it. (Signatures under the configuration
    # before the removal are refused earlier, as stale: test_hub_config_version.py.)
    attestation = protocol.attestation(accepted_job, units=60, config_version=hub.configVersion() + 1)
    signatures = quorum.sign(protocol.attestation_digest(attestation), sorted_oracles[:2])
    hub.removeOracle(sorted_oracles[0], sender=governance)
    assert hub.configVersion() == attestation[6]

    submit_reverts(hub.SignerNotOracle, attestation, signatures, signer=sorted_oracles[0].address)


def test_submit__high_s_twin__invalid_signature(quorum, submit_reverts, hub, attestation, digest, sorted_oracles):
    first, second = (eip712.sign_digest(digest, o.private_key) for o in sorted_oracles[:2])
    twin = quorum.high_s_twin(second)
    # The twin is the same key's signature in secp256k1 terms: only the low-s rule rejects it.
    r, s, v = int.from_bytes(twin[:32], "big"), int.from_bytes(twin[32:64], "big"), twin[64]
    assert s > SECP256K1_N // 2
    assert keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest).to_checksum_address() == (
        sorted_oracles[1].address
    )

    submit_reverts(hub.InvalidSignature, attestation, first + twin, index=1)


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(bytes(65), id="all-zero"),
        pytest.param(b"\x11" * 32 + b"\x22" * 32 + bytes([29]), id="v-29"),
        pytest.param(b"\x11" * 32 + b"\x22" * 32 + bytes([0]), id="v-0"),
    ],
)
def test_submit__garbage_signature__invalid_signature(
    quorum, submit_reverts, hub, attestation, digest, sorted_oracles, garbage
):
    # ecrecover yields address(0) for these; the hub must not treat that as a signer.
    signatures = quorum.sign(digest, sorted_oracles[:1]) + garbage

    submit_reverts(hub.InvalidSignature, attestation, signatures, index=1)


@pytest.mark.parametrize("trim", [1, 64])
def test_submit__length_not_multiple_of_65__signature_length_invalid(
    quorum, submit_reverts, hub, attestation, digest, sorted_oracles, trim
):
    signatures = quorum.sign(digest, sorted_oracles)[:-trim]

    submit_reverts(hub.SignatureLengthInvalid, attestation, signatures, length=3 * 65 - trim)


ATTESTATION_FIELDS = ("jobId", "provider", "success", "units", "resultHash", "deadline")


@pytest.mark.parametrize(
    "field, value",
    [
        ("jobId", 2),
        ("provider", "0x000000000000000000000000000000000000dEaD"),
        ("success", False),
        ("units", 61),
        ("resultHash", keccak(text="another result")),
        ("deadline", "+1s"),
    ],
)
def test_submit__field_changed_after_signing__rejected(
    quorum, submit_reverts, protocol, hub, attestation, digest, sorted_oracles, field, value
):
    signatures = quorum.sign(digest, sorted_oracles[:2])
    changed = list(attestation)
    i = ATTESTATION_FIELDS.index(field)
    changed[i] = attestation[5] + 1 if value == "+1s" else value
    changed = tuple(changed)
    # Over the changed digest the signatures recover to unrelated addresses; which check trips
    # first depends on those addresses, so compute them and expect exactly that error.
    name, inputs = quorum.predict(
        protocol.attestation_digest(changed), signatures, [o.address for o in sorted_oracles], 2
    )
    assert name in ("SignerNotOracle", "SignersNotAscending")

    submit_reverts(getattr(hub, name), changed, signatures, job_id=attestation[0], **inputs)


def test_submit__quorum_for_another_deployment__rejected(
    quorum, submit_reverts, protocol, hub, governance, treasury, oracles, sorted_oracles, client, provider, chain
):
    protocol.register(provider)
    # A second, identical protocol with the same oracles and a job with the same id and parties.
    second = Protocol(deploy(governance, treasury=treasury, oracles=oracles), oracles, chain)
    second.register(provider)
    first_job = protocol.accepted_job(client, provider)
    second_job = second.accepted_job(client, provider)
    assert first_job == second_job
    attestation = protocol.attestation(first_job)
    signatures = quorum.sign(protocol.attestation_digest(attestation), sorted_oracles[:2])
    hub.checkAttestation(attestation, signatures)  # valid where it was signed

    name, inputs = quorum.predict(
        second.attestation_digest(attestation), signatures, [o.address for o in sorted_oracles], 2
    )
    assert name in ("SignerNotOracle", "SignersNotAscending")

    submit_reverts(getattr(second.hub, name), attestation, signatures, target_hub=second.hub, **inputs)


def test_submit__quorum_for_another_chain_id__rejected(
    quorum, submit_reverts, protocol, hub, attestation, sorted_oracles, chain
):
    foreign_digest = protocol.attestation_digest(attestation, chain_id=chain.chain_id + 1)
    signatures = quorum.sign(foreign_digest, sorted_oracles[:2])
    name, inputs = quorum.predict(
        protocol.attestation_digest(attestation), signatures, [o.address for o in sorted_oracles], 2
    )
    assert name in ("SignerNotOracle", "SignersNotAscending")

    submit_reverts(getattr(hub, name), attestation, signatures, **inputs)


# ─────────────────────────── deadline and once-only ───────────────────────────


def test_submit__one_second_after_deadline__attestation_expired(submit_reverts, protocol, hub, accepted_job):
    attestation = protocol.attestation(accepted_job, deadline=protocol.now() + 600)
    signatures = protocol.sign(protocol.attestation_digest(attestation))
    protocol.warp_to(attestation[5] + 1)

    submit_reverts(hub.AttestationExpired, attestation, signatures, deadline=attestation[5], nowTime=attestation[5] + 1)


def test_submit__exactly_at_deadline__job_attested(protocol, hub, escrow, accepted_job, relayer):
    attestation = protocol.attestation(accepted_job, deadline=protocol.now() + 600)
    signatures = protocol.sign(protocol.attestation_digest(attestation))
    protocol.warp_to(attestation[5])

    receipt = hub.submitAttestation(attestation, signatures, sender=relayer)

    assert receipt.timestamp == attestation[5]
    assert escrow.jobStatus(accepted_job) == JOB_ATTESTED


def test_submit__same_attestation_twice__escrow_rejects_second(
    reverts, protocol, hub, escrow, attestation, digest, relayer
):
    signatures = protocol.sign(digest)
    hub.submitAttestation(attestation, signatures, sender=relayer)
    attested = escrow.job(attestation[0])

    with reverts(escrow.UnexpectedJobStatus, jobId=attestation[0], expected=JOB_ACCEPTED, actual=JOB_ATTESTED):
        hub.submitAttestation(attestation, signatures, sender=relayer)

    assert escrow.job(attestation[0]) == attested
