"""Hostile signatures: what an attacker can do with oracle signatures it saw, forged or bent.

All submissions go through the AttestationHub (`submitAttestation`, `submitUptimeReport`), sent
by the attacker. Each case asserts the exact named error AND that nothing moved: the jobs, the
escrow's USD and claimables, the provider's stake and jail state, the staking totals and the
slasher's once-only bits. The signature tools (`quorum`, `sorted_oracles`, `outsider`) are the
hub suite's, imported by tests/adversarial/conftest.py.
"""

from __future__ import annotations

import pytest
from eth_keys import keys
from eth_utils import keccak

from computerails import eip712
from tests.support.books import Status
from tests.support.deployment import deploy
from tests.support.protocol import Protocol
from tests.support.signatures import SECP256K1_N

ATTESTATION_FIELDS = ("jobId", "provider", "success", "units", "resultHash", "deadline")
REPORT_FIELDS = ("provider", "epoch", "uptimeBps", "relayer", "configVersion")


def state(p, job_ids=(), reports=(), parties=()):
    """Everything a forged submission could touch on deployment `p` (a Protocol)."""
    return (
        [p.escrow.job(j) for j in job_ids],
        p.usd.balanceOf(p.escrow),
        [p.escrow.claimable(a, p.usd) for a in parties],
        [p.staking.providerInfo(a) for a in parties],
        [p.staking.claimable(a) for a in parties],
        (p.staking.totalStaked(), p.staking.totalUnbonding(), p.staking.totalClaimable()),
        [p.slasher.isReported(provider, epoch) for provider, epoch in reports],
    )


@pytest.fixture
def parties(client, provider, other_provider, treasury, attacker):
    """Who a forged quorum could pay, refund, slash or reward (the attacker relays)."""
    return [client, provider, other_provider, treasury, attacker]


@pytest.fixture
def forged(reverts, protocol, parties, books):
    """``forged(error, submit, job_ids=..., reports=..., on=protocol, **inputs)``: `submit()` must
    revert with exactly `error(**inputs)` and leave `on`'s state as it was; the books hold."""

    def check(error, submit, *, job_ids=(), reports=(), on=None, **inputs):
        target = on or protocol
        before = state(target, job_ids, reports, parties)
        with reverts(error, **inputs):
            submit()
        assert state(target, job_ids, reports, parties) == before
        books()

    return check


@pytest.fixture
def attestation(protocol, accepted_job):
    """A success attestation of `accepted_job` for 60 of its 100 units, valid for an hour."""
    return protocol.attestation(accepted_job, units=60)


@pytest.fixture
def digest(protocol, attestation):
    return protocol.attestation_digest(attestation)


@pytest.fixture
def bad_report(protocol, registered_provider):
    """An uptime report of 0 % for the epoch that just ended, the first one wholly under the
    provider's SLA: a quorum of it slashes. It names the first oracle as relayer."""
    protocol.warp_past_sla_start(registered_provider)
    epoch = protocol.finish_epoch()
    return protocol.report(registered_provider, epoch, 0)


def next_config(protocol, statement):
    """`statement` (an attestation or report tuple, configVersion last) made for the oracle
    configuration the next governance change creates."""
    return (*statement[:-1], protocol.hub.configVersion() + 1)


def predicted(quorum, digest, signatures, hub):
    name, inputs = quorum.predict(digest, signatures, hub.oracles(), hub.threshold())
    return getattr(hub, name), inputs


# ─────────────────────────── replay elsewhere ───────────────────────────


def test_replay__quorum_from_first_deployment_on_second__rejected_both_untouched(
    quorum, forged, protocol, hub, governance, treasury, oracles, sorted_oracles, client, provider, chain, attacker
):
    # Same oracles, same job id, same parties: only the EIP-712 domain (hub address) differs.
    second = Protocol(deploy(governance, treasury=treasury, oracles=oracles), oracles, chain)
    for p in (protocol, second):
        p.register(provider)
    job = protocol.accepted_job(client, provider)
    assert second.accepted_job(client, provider) == job
    attestation = protocol.attestation(job, units=60)
    signatures = quorum.sign(protocol.attestation_digest(attestation), sorted_oracles[:2])
    error, inputs = predicted(quorum, second.attestation_digest(attestation), signatures, second.hub)
    assert error.abi.name in ("SignerNotOracle", "SignersNotAscending")
    first_before = state(protocol, [job])

    forged(
        error,
        lambda: second.hub.submitAttestation(attestation, signatures, sender=attacker),
        job_ids=[job],
        on=second,
        **inputs,
    )

    assert state(protocol, [job]) == first_before
    # The quorum was genuine where it was signed.
    hub.submitAttestation(attestation, signatures, sender=attacker)
    assert protocol.escrow.jobStatus(job) == Status.ATTESTED
    assert second.escrow.jobStatus(job) == Status.ACCEPTED


def test_replay__attestation_signed_for_other_chain_id__rejected_job_untouched(
    quorum, forged, protocol, hub, attestation, sorted_oracles, chain, attacker
):
    foreign = quorum.sign(protocol.attestation_digest(attestation, chain_id=chain.chain_id + 1), sorted_oracles[:2])
    error, inputs = predicted(quorum, protocol.attestation_digest(attestation), foreign, hub)

    forged(
        error, lambda: hub.submitAttestation(attestation, foreign, sender=attacker), job_ids=[attestation[0]], **inputs
    )


def test_replay__uptime_report_signed_for_other_chain_id__rejected_no_slash(
    quorum, forged, protocol, hub, bad_report, sorted_oracles, chain, attacker
):
    separator = eip712.domain_separator(chain.chain_id + 1, hub.address)
    foreign_digest = eip712.typed_digest(separator, eip712.uptime_report_struct_hash(*bad_report))
    foreign = quorum.sign(foreign_digest, sorted_oracles[:2])
    error, inputs = predicted(quorum, protocol.report_digest(bad_report), foreign, hub)

    forged(
        error,
        lambda: hub.submitUptimeReport(bad_report, foreign, sender=attacker),
        reports=[bad_report[:2]],
        **inputs,
    )


# ─────────────────────────── bent signatures ───────────────────────────


def test_malleability__high_s_twin_of_a_valid_signature__invalid_signature_job_untouched(
    quorum, forged, hub, attestation, digest, sorted_oracles, attacker
):
    first, second = (eip712.sign_digest(digest, o.private_key) for o in sorted_oracles[:2])
    twin = quorum.high_s_twin(second)
    r, s, v = int.from_bytes(twin[:32], "big"), int.from_bytes(twin[32:64], "big"), twin[64]
    assert s > SECP256K1_N // 2
    assert keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest).to_checksum_address() == (
        sorted_oracles[1].address
    )

    forged(
        hub.InvalidSignature,
        lambda: hub.submitAttestation(attestation, first + twin, sender=attacker),
        job_ids=[attestation[0]],
        index=1,
    )


def test_malleability__high_s_twin_on_uptime_report__invalid_signature_no_slash(
    quorum, forged, protocol, hub, bad_report, sorted_oracles, attacker
):
    digest = protocol.report_digest(bad_report)
    first, second = (eip712.sign_digest(digest, o.private_key) for o in sorted_oracles[:2])

    forged(
        hub.InvalidSignature,
        lambda: hub.submitUptimeReport(bad_report, quorum.high_s_twin(first) + second, sender=attacker),
        reports=[bad_report[:2]],
        index=0,
    )


def test_quorum__one_oracle_signature_duplicated__signers_not_ascending_job_untouched(
    quorum, forged, hub, attestation, digest, sorted_oracles, attacker
):
    # A single compromised (or bribed) oracle cannot fake a 2-of-3 quorum by signing twice.
    signer = sorted_oracles[0]
    signatures = quorum.sign(digest, [signer, signer])

    forged(
        hub.SignersNotAscending,
        lambda: hub.submitAttestation(attestation, signatures, sender=attacker),
        job_ids=[attestation[0]],
        previous=signer.address,
        signer=signer.address,
    )


def test_quorum__duplicate_padded_to_look_like_three__signers_not_ascending(
    quorum, forged, hub, attestation, digest, sorted_oracles, attacker
):
    low, high = sorted_oracles[0], sorted_oracles[2]
    signatures = quorum.sign(digest, [low, high, high])

    forged(
        hub.SignersNotAscending,
        lambda: hub.submitAttestation(attestation, signatures, sender=attacker),
        job_ids=[attestation[0]],
        previous=high.address,
        signer=high.address,
    )


def test_quorum__attacker_key_completes_the_quorum__signer_not_oracle_job_untouched(
    quorum, forged, hub, attestation, digest, sorted_oracles, outsider, attacker
):
    signers = sorted([sorted_oracles[0], outsider], key=lambda s: int(s.address, 16))
    signatures = quorum.sign(digest, signers)

    forged(
        hub.SignerNotOracle,
        lambda: hub.submitAttestation(attestation, signatures, sender=attacker),
        job_ids=[attestation[0]],
        signer=outsider.address,
    )


def test_quorum__oracle_removed_after_signing__signer_not_oracle_job_untouched(
    quorum, forged, protocol, hub, attestation, digest, sorted_oracles, governance, attacker
):
    # A key governance revoked (e.g. leaked) stops counting at once, even for old signatures.
    # Whoever holds the key can also sign for the configuration the removal creates: that
    # statement is current once the key is removed, and only the membership check refuses it.
    signatures = quorum.sign(digest, sorted_oracles[:2])
    ahead = next_config(protocol, attestation)
    signatures_ahead = quorum.sign(protocol.attestation_digest(ahead), sorted_oracles[:2])
    hub.removeOracle(sorted_oracles[1], sender=governance)

    forged(
        hub.StaleOracleConfig,
        lambda: hub.submitAttestation(attestation, signatures, sender=attacker),
        job_ids=[attestation[0]],
        current=ahead[-1],
        signed=attestation[-1],
    )
    forged(
        hub.SignerNotOracle,
        lambda: hub.submitAttestation(ahead, signatures_ahead, sender=attacker),
        job_ids=[attestation[0]],
        signer=sorted_oracles[1].address,
    )


def test_quorum__removed_oracle_on_uptime_report__signer_not_oracle_no_slash(
    quorum, forged, protocol, hub, bad_report, sorted_oracles, governance, attacker
):
    signatures = quorum.sign(protocol.report_digest(bad_report), sorted_oracles[:2])
    ahead = next_config(protocol, bad_report)
    signatures_ahead = quorum.sign(protocol.report_digest(ahead), sorted_oracles[:2])
    hub.removeOracle(sorted_oracles[0], sender=governance)

    forged(
        hub.StaleOracleConfig,
        lambda: hub.submitUptimeReport(bad_report, signatures, sender=attacker),
        reports=[bad_report[:2]],
        current=ahead[-1],
        signed=bad_report[-1],
    )
    forged(
        hub.SignerNotOracle,
        lambda: hub.submitUptimeReport(ahead, signatures_ahead, sender=attacker),
        reports=[bad_report[:2]],
        signer=sorted_oracles[0].address,
    )


def test_quorum__fewer_than_threshold__insufficient_signatures_job_untouched(
    quorum, forged, hub, attestation, digest, sorted_oracles, attacker
):
    signatures = quorum.sign(digest, sorted_oracles[:1])

    forged(
        hub.InsufficientSignatures,
        lambda: hub.submitAttestation(attestation, signatures, sender=attacker),
        job_ids=[attestation[0]],
        required=2,
        provided=1,
    )


def test_quorum__threshold_raised_after_signing__insufficient_signatures_job_untouched(
    quorum, forged, protocol, hub, attestation, digest, sorted_oracles, governance, attacker
):
    # Old signatures are stale; two signatures made for the new configuration fall short of it.
    signatures = quorum.sign(digest, sorted_oracles[:2])
    ahead = next_config(protocol, attestation)
    signatures_ahead = quorum.sign(protocol.attestation_digest(ahead), sorted_oracles[:2])
    hub.setThreshold(3, sender=governance)

    forged(
        hub.StaleOracleConfig,
        lambda: hub.submitAttestation(attestation, signatures, sender=attacker),
        job_ids=[attestation[0]],
        current=ahead[-1],
        signed=attestation[-1],
    )
    forged(
        hub.InsufficientSignatures,
        lambda: hub.submitAttestation(ahead, signatures_ahead, sender=attacker),
        job_ids=[attestation[0]],
        required=3,
        provided=2,
    )


GARBAGE = [
    pytest.param(bytes(65), id="all-zero"),
    pytest.param(bytes(32) + b"\x22" * 32 + bytes([27]), id="r-zero"),
    pytest.param(b"\x11" * 32 + b"\x22" * 32 + bytes([29]), id="v-29"),
    pytest.param(b"\x11" * 32 + b"\x22" * 32 + bytes([1]), id="v-1"),
    pytest.param(b"\x11" * 32 + bytes(32) + bytes([28]), id="s-zero"),
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage__signature_recovering_to_zero_address_first__invalid_signature_job_untouched(
    quorum, forged, hub, attestation, digest, sorted_oracles, attacker, garbage
):
    # Placed first, an address(0) "signer" would compare equal to the initial `previous`; the
    # hub must report the signature itself, not count it or misreport the order.
    assert quorum.recover(digest, garbage) is None
    signatures = garbage + quorum.sign(digest, sorted_oracles[:2])

    forged(
        hub.InvalidSignature,
        lambda: hub.submitAttestation(attestation, signatures, sender=attacker),
        job_ids=[attestation[0]],
        index=0,
    )


# ─────────────────────────── statements changed after signing ───────────────────────────


@pytest.mark.parametrize(
    "field, value",
    [
        pytest.param("jobId", "other-job", id="relay-onto-another-job"),
        pytest.param("provider", "attacker", id="swap-in-attacker-as-provider"),
        pytest.param("success", False, id="client-flips-success-to-failure"),
        pytest.param("units", 100, id="provider-inflates-units"),
        pytest.param("resultHash", keccak(text="forged result"), id="substitute-result"),
        pytest.param("deadline", "+1 day", id="extend-deadline"),
    ],
)
def test_tamper__attestation_field_changed_after_signing__rejected_jobs_untouched(
    quorum, forged, protocol, hub, attestation, digest, sorted_oracles, client, provider, attacker, field, value
):
    other_job = protocol.accepted_job(client, provider)
    signatures = quorum.sign(digest, sorted_oracles[:2])
    changed = list(attestation)
    symbolic = {"other-job": other_job, "attacker": attacker.address, "+1 day": attestation[5] + 86_400}
    changed[ATTESTATION_FIELDS.index(field)] = symbolic.get(value, value) if isinstance(value, str) else value
    changed = tuple(changed)
    # Over the changed digest the oracles' signatures recover to unrelated addresses; the
    # model names which check trips first and with which arguments.
    error, inputs = predicted(quorum, protocol.attestation_digest(changed), signatures, hub)
    assert error.abi.name in ("SignerNotOracle", "SignersNotAscending")

    forged(
        error,
        lambda: hub.submitAttestation(changed, signatures, sender=attacker),
        job_ids=[attestation[0], other_job],
        **inputs,
    )


@pytest.mark.parametrize(
    "field, value",
    [
        pytest.param("provider", "other", id="slash-another-provider"),
        pytest.param("epoch", "next", id="relabel-epoch"),
        pytest.param("uptimeBps", 9_999, id="provider-lifts-uptime"),
        pytest.param("relayer", "attacker", id="attacker-names-itself-relayer"),
    ],
)
def test_tamper__uptime_report_field_changed_after_signing__rejected_no_slash(
    quorum, forged, protocol, hub, bad_report, sorted_oracles, other_provider, attacker, field, value
):
    protocol.register(other_provider)
    signatures = quorum.sign(protocol.report_digest(bad_report), sorted_oracles[:2])
    changed = list(bad_report)
    i = REPORT_FIELDS.index(field)
    symbolic = {"other": other_provider.address, "next": bad_report[1] + 1, "attacker": attacker.address}
    changed[i] = symbolic.get(value, value) if isinstance(value, str) else value
    changed = tuple(changed)
    error, inputs = predicted(quorum, protocol.report_digest(changed), signatures, hub)
    assert error.abi.name in ("SignerNotOracle", "SignersNotAscending")

    forged(
        error,
        lambda: hub.submitUptimeReport(changed, signatures, sender=attacker),
        reports=[bad_report[:2], changed[:2]],
        **inputs,
    )


# ─────────────────────────── expiry ───────────────────────────


def test_expiry__valid_quorum_relayed_after_its_deadline__attestation_expired_job_untouched(
    forged, protocol, hub, accepted_job, attacker
):
    # A relayer that sat on a success quorum cannot use it once its deadline passed, even
    # though the job itself is still Accepted and its own deadline is far away.
    attestation = protocol.attestation(accepted_job, units=100, deadline=protocol.now() + 600)
    signatures = protocol.sign(protocol.attestation_digest(attestation))
    protocol.warp_to(attestation[5] + 1)
    assert protocol.escrow.job(accepted_job).deadline > attestation[5] + 1

    forged(
        hub.AttestationExpired,
        lambda: hub.submitAttestation(attestation, signatures, sender=attacker),
        job_ids=[accepted_job],
        deadline=attestation[5],
        nowTime=attestation[5] + 1,
    )
