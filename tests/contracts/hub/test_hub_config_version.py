"""Issue 9, item 7: signatures do not outlive the oracle configuration they were made under.

Every statement carries the `configVersion` its signers were under; addOracle, removeOracle and
setThreshold each bump it by one (OracleConfigChanged), and the hub refuses any other version
with StaleOracleConfig(current, signed) before it looks at the signatures. Without it, lowering
the threshold turned a lone dissenting signature into a quorum, and removing then re-adding an
oracle revived its old signatures.

The session deployment has oracles accounts[17..19] with threshold 2, at configVersion 1.
"""

import pytest
from eth_utils import keccak

from computerails import eip712

STAKE = 10**18
JOB_ACCEPTED, JOB_ATTESTED, JOB_SETTLED = 2, 3, 5  # IJobEscrow.JobStatus


def quorum_is_valid(quorum, digest, signatures, hub):
    """The signatures are a quorum of the current oracle set over `digest` (so only the
    version can be what the hub refuses)."""
    return quorum.predict(digest, signatures, hub.oracles(), hub.threshold()) is None


def provider_state(staking, escrow, usd, provider, client, treasury, job_id):
    """What a wrongly accepted failure attestation would change: the job, the provider's stake,
    lock and jail, and every slash or refund claim."""
    return (
        escrow.job(job_id),
        staking.providerInfo(provider),
        staking.isActive(provider),
        [staking.claimable(a) for a in (client, treasury, provider)],
        [escrow.claimable(a, usd) for a in (client, treasury, provider)],
    )


# ─────────────────────────── the version and its bumps ───────────────────────────


def test_config_version__deployed__one_with_event(chain, hub, oracles):
    assert hub.configVersion() == 1
    # the constructor's event is the first OracleConfigChanged the hub ever emitted
    first = next(iter(hub.OracleConfigChanged.range(0, chain.blocks.head.number + 1)))
    assert first == hub.OracleConfigChanged(configVersion=1, oracleCount=len(oracles), threshold=2)


@pytest.mark.parametrize("method", ["addOracle", "removeOracle", "setThreshold"])
def test_config_change__each_governance_setter__bumps_version_by_one_with_event(
    hub, governance, oracles, outsider, method
):
    argument, first_event, count, threshold = {
        "addOracle": (outsider.address, hub.OracleAdded(oracle=outsider.address, oracleCount=4), 4, 2),
        "removeOracle": (oracles[0].address, hub.OracleRemoved(oracle=oracles[0].address, oracleCount=2), 2, 2),
        # Even a threshold set to its current value is a new configuration.
        "setThreshold": (2, hub.ThresholdSet(threshold=2), 3, 2),
    }[method]

    receipt = getattr(hub, method)(argument, sender=governance)

    assert receipt.events == [
        first_event,
        hub.OracleConfigChanged(configVersion=2, oracleCount=count, threshold=threshold),
    ]
    assert hub.configVersion() == 2


def test_config_change__setters_in_sequence__one_version_each(hub, governance, oracles, outsider):
    hub.addOracle(outsider.address, sender=governance)
    hub.setThreshold(3, sender=governance)
    receipt = hub.removeOracle(oracles[1], sender=governance)

    assert receipt.events.filter(hub.OracleConfigChanged) == [
        hub.OracleConfigChanged(configVersion=4, oracleCount=3, threshold=3)
    ]
    assert hub.configVersion() == 4


# ─────────────────────────── the attacks of the issue ───────────────────────────


def test_threshold_lowered__lone_dissenting_failure_relayed__stale_oracle_config_provider_keeps_collateral(
    quorum,
    reverts,
    error_data,
    protocol,
    hub,
    escrow,
    staking,
    usd,
    governance,
    client,
    treasury,
    registered_provider,
    accepted_job,
    sorted_oracles,
    attacker,
):
    # One of three oracles signs "failure" for an honest provider's job; under threshold 2 it is
    # no quorum. The attacker keeps the signature until governance lowers the threshold to 1.
    dissenter = sorted_oracles[0]
    failure = protocol.attestation(accepted_job, success=False, units=0)
    signature = quorum.sign(protocol.attestation_digest(failure), [dissenter])
    with reverts(hub.InsufficientSignatures, required=2, provided=1):
        hub.submitAttestation(failure, signature, sender=attacker)
    collateral = escrow.job(accepted_job).collateral
    assert collateral > 0
    assert staking.providerInfo(registered_provider).locked == collateral

    hub.setThreshold(1, sender=governance)
    assert hub.configVersion() == 2
    # By the numbers alone, one oracle's signature is now a quorum: only the version stands in
    # the way.
    assert quorum_is_valid(quorum, hub.attestationDigest(failure), signature, hub)
    before = provider_state(staking, escrow, usd, registered_provider, client, treasury, accepted_job)

    with reverts(hub.StaleOracleConfig, current=2, signed=1):
        hub.submitAttestation(failure, signature, sender=attacker)
    receipt = hub.submitAttestations([failure], [signature], sender=attacker)

    assert receipt.events == [
        hub.AttestationSkipped(jobId=accepted_job, reason=error_data(hub.StaleOracleConfig, current=2, signed=1))
    ]
    assert provider_state(staking, escrow, usd, registered_provider, client, treasury, accepted_job) == before
    info = staking.providerInfo(registered_provider)
    assert not info.jailed and info.totalSlashed == 0

    # The honest provider's job goes on to be paid under the new configuration, and its
    # collateral comes back whole.
    protocol.attest(accepted_job, success=True, units=100)
    protocol.warp_to(escrow.job(accepted_job).challengeEnds)
    escrow.settle(accepted_job, sender=registered_provider)

    assert escrow.jobStatus(accepted_job) == JOB_SETTLED
    info = staking.providerInfo(registered_provider)
    assert (info.staked, info.locked, info.jailed, info.totalSlashed) == (10_000 * STAKE, 0, False, 0)
    assert staking.claimable(client) == 0


def test_oracle_removed_and_re_added__its_old_quorum_relayed__stale_oracle_config_job_untouched(
    quorum,
    reverts,
    protocol,
    hub,
    escrow,
    staking,
    usd,
    governance,
    client,
    treasury,
    registered_provider,
    accepted_job,
    sorted_oracles,
    attacker,
):
    # A quorum that includes an oracle governance then removes (say, a key it distrusts) and
    # later re-adds: while it was out, its signature stopped counting; back in, the signatures
    # it made before must not count again.
    failure = protocol.attestation(accepted_job, success=False, units=0)
    signatures = quorum.sign(protocol.attestation_digest(failure), sorted_oracles[:2])
    hub.checkAttestation(failure, signatures)  # a full quorum when it was made
    hub.removeOracle(sorted_oracles[0], sender=governance)
    with reverts(hub.StaleOracleConfig, current=2, signed=1):
        hub.submitAttestation(failure, signatures, sender=attacker)
    hub.addOracle(sorted_oracles[0], sender=governance)
    assert hub.isOracle(sorted_oracles[0]) and hub.threshold() == 2
    assert quorum_is_valid(quorum, hub.attestationDigest(failure), signatures, hub)
    before = provider_state(staking, escrow, usd, registered_provider, client, treasury, accepted_job)

    with reverts(hub.StaleOracleConfig, current=3, signed=1):
        hub.submitAttestation(failure, signatures, sender=attacker)

    assert provider_state(staking, escrow, usd, registered_provider, client, treasury, accepted_job) == before
    assert escrow.jobStatus(accepted_job) == JOB_ACCEPTED


def test_oracle_removed_and_re_added__its_old_uptime_report_relayed__stale_oracle_config_no_slash(
    quorum,
    reverts,
    protocol,
    hub,
    slasher,
    staking,
    governance,
    ended_epoch,
    registered_provider,
    sorted_oracles,
    attacker,
):
    report = protocol.report(registered_provider, ended_epoch, 0, relayer=attacker)
    signatures = quorum.sign(protocol.report_digest(report), sorted_oracles[:2])
    hub.removeOracle(sorted_oracles[1], sender=governance)
    hub.addOracle(sorted_oracles[1], sender=governance)

    with reverts(hub.StaleOracleConfig, current=3, signed=1):
        hub.submitUptimeReport(report, signatures, sender=attacker)

    assert not slasher.isReported(registered_provider, ended_epoch)
    assert staking.stakeOf(registered_provider) == 10_000 * STAKE
    assert staking.claimable(attacker) == 0


# ─────────────────────────── every entry point refuses other versions ───────────────────────────


@pytest.fixture(params=["stale", "future", "zero"])
def versions(request, hub, governance):
    """(current, signed): a statement signed under the version before the current one, under
    the next one (not yet in force), or under 0 (never a version)."""
    if request.param == "stale":
        hub.setThreshold(2, sender=governance)  # same set and threshold, new version
        return 2, 1
    return 1, {"future": 2, "zero": 0}[request.param]


@pytest.fixture
def ended_epoch(protocol, registered_provider):
    """The first epoch wholly under the provider's SLA, just ended."""
    protocol.warp_past_sla_start(registered_provider)
    return protocol.finish_epoch()


def test_submit_attestation__other_config_version__stale_oracle_config_job_untouched(
    quorum, reverts, protocol, hub, escrow, accepted_job, sorted_oracles, relayer, versions
):
    current, signed = versions
    attestation = protocol.attestation(accepted_job, config_version=signed)
    signatures = quorum.sign(protocol.attestation_digest(attestation), sorted_oracles)
    assert quorum_is_valid(quorum, hub.attestationDigest(attestation), signatures, hub)
    before = escrow.job(accepted_job)

    with reverts(hub.StaleOracleConfig, current=current, signed=signed):
        hub.checkAttestation(attestation, signatures)
    with reverts(hub.StaleOracleConfig, current=current, signed=signed):
        hub.submitAttestation(attestation, signatures, sender=relayer)

    assert escrow.job(accepted_job) == before


def test_submit_attestations__other_config_version__skipped_with_stale_oracle_config(
    quorum, protocol, hub, escrow, error_data, client, registered_provider, sorted_oracles, relayer, versions
):
    current, signed = versions
    off, good = (protocol.accepted_job(client, registered_provider) for _ in range(2))
    items = [protocol.attestation(off, config_version=signed), protocol.attestation(good)]
    assert items[1][6] == current
    signatures = [quorum.sign(protocol.attestation_digest(a), sorted_oracles[:2]) for a in items]

    assert hub.submitAttestations.call(items, signatures) == 1
    receipt = hub.submitAttestations(items, signatures, sender=relayer)

    assert list(receipt.events.filter(hub.AttestationSkipped)) == [
        hub.AttestationSkipped(jobId=off, reason=error_data(hub.StaleOracleConfig, current=current, signed=signed))
    ]
    assert [log.jobId for log in receipt.events.filter(escrow.JobAttested)] == [good]
    assert escrow.jobStatus(off) == JOB_ACCEPTED
    assert escrow.jobStatus(good) == JOB_ATTESTED


def test_submit_uptime_report__other_config_version__stale_oracle_config_no_slash(
    quorum,
    reverts,
    protocol,
    hub,
    slasher,
    staking,
    registered_provider,
    ended_epoch,
    sorted_oracles,
    relayer,
    versions,
):
    current, signed = versions
    report = protocol.report(registered_provider, ended_epoch, 0, relayer=relayer, config_version=signed)
    signatures = quorum.sign(protocol.report_digest(report), sorted_oracles)
    assert quorum_is_valid(quorum, hub.uptimeReportDigest(report), signatures, hub)

    with reverts(hub.StaleOracleConfig, current=current, signed=signed):
        hub.submitUptimeReport(report, signatures, sender=relayer)

    assert not slasher.isReported(registered_provider, ended_epoch)
    assert staking.stakeOf(registered_provider) == 10_000 * STAKE
    assert staking.claimable(relayer) == 0


# ─────────────────────────── check order ───────────────────────────


def test_check_attestation__expired_and_stale__attestation_expired_first(
    reverts, protocol, hub, governance, accepted_job
):
    attestation = protocol.attestation(accepted_job, deadline=protocol.now() + 600)
    signatures = protocol.sign(protocol.attestation_digest(attestation))
    hub.setThreshold(2, sender=governance)
    protocol.warp_to(attestation[5] + 1)

    with reverts(hub.AttestationExpired, deadline=attestation[5], nowTime=attestation[5] + 1):
        hub.submitAttestation(attestation, signatures, sender=governance)


def test_submit_attestation__stale_and_short_of_quorum__stale_oracle_config_first(
    quorum, reverts, protocol, hub, governance, accepted_job, sorted_oracles, relayer
):
    attestation = protocol.attestation(accepted_job)
    hub.setThreshold(3, sender=governance)
    one = quorum.sign(protocol.attestation_digest(attestation), sorted_oracles[:1])

    with reverts(hub.StaleOracleConfig, current=2, signed=1):
        hub.submitAttestation(attestation, one, sender=relayer)


def test_submit_uptime_report__stale_for_unended_epoch__stale_oracle_config_before_slasher(
    reverts, protocol, hub, slasher, governance, registered_provider, relayer
):
    # The hub refuses the version before the slasher sees the report (which would say
    # EpochNotEnded): a stale quorum reaches nothing downstream.
    report = protocol.report(registered_provider, slasher.currentEpoch(), 0, relayer=relayer)
    signatures = protocol.sign(protocol.report_digest(report))
    hub.setThreshold(2, sender=governance)

    with reverts(hub.StaleOracleConfig, current=2, signed=1):
        hub.submitUptimeReport(report, signatures, sender=relayer)


# ─────────────────────────── the digests bind the version ───────────────────────────


def test_attestation_digest__config_version__bound_and_equals_sdk(hub, chain, escrow):
    separator = eip712.domain_separator(chain.chain_id, hub.address)
    digests = []
    for version in (1, 2):
        attestation = (7, escrow.address, False, 0, b"\x01" * 32, 2**40, version)
        digest = hub.attestationDigest(attestation)
        assert digest == eip712.typed_digest(separator, eip712.attestation_struct_hash(*attestation))
        digests.append(digest)

    assert digests[0] != digests[1]
    assert hub.ATTESTATION_TYPEHASH() == keccak(
        text="ComputeAttestation(uint256 jobId,address provider,bool success,uint256 units,bytes32 resultHash,"
        "uint256 deadline,uint256 configVersion)"
    )


def test_uptime_report_digest__relayer_and_config_version__bound_and_equal_sdk(hub, chain, escrow, relayer):
    separator = eip712.domain_separator(chain.chain_id, hub.address)
    digests = set()
    for named, version in ((relayer.address, 1), (relayer.address, 2), (escrow.address, 1)):
        report = (escrow.address, 5, 0, named, version)
        digest = hub.uptimeReportDigest(report)
        assert digest == eip712.typed_digest(separator, eip712.uptime_report_struct_hash(*report))
        digests.add(digest)

    assert len(digests) == 3
    assert hub.UPTIME_REPORT_TYPEHASH() == keccak(
        text="UptimeReport(address provider,uint256 epoch,uint256 uptimeBps,address relayer,uint256 configVersion)"
    )
