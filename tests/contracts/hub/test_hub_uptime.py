"""submitUptimeReport: a quorum-signed report reaches the UptimeSlasher, once."""

import pytest

STAKE = 10**18


@pytest.fixture
def ended_epoch(protocol, registered_provider):
    return protocol.finish_epoch()


@pytest.fixture
def report(registered_provider, ended_epoch):
    """Provider at 90% uptime, below the 95% SLA."""
    return (registered_provider.address, ended_epoch, 9_000)


@pytest.mark.anvil
def test_report__valid_quorum__reaches_slasher(
    protocol, hub, slasher, staking, report, registered_provider, ended_epoch, relayer
):
    receipt = hub.submitUptimeReport(report, protocol.sign(protocol.report_digest(report)), sender=relayer)

    assert slasher.isReported(registered_provider, ended_epoch)
    # 5% of 10,000 stake = 500, at the cap; the relayer's 10% share is capped at 10.
    assert receipt.events.filter(slasher.UptimeReported) == [
        slasher.UptimeReported(
            provider=registered_provider.address,
            epoch=ended_epoch,
            relayer=relayer.address,
            uptimeBps=9_000,
            slashRequested=500 * STAKE,
            slashed=500 * STAKE,
            relayerReward=10 * STAKE,
        )
    ]
    assert staking.stakeOf(registered_provider) == 9_500 * STAKE
    assert staking.claimable(relayer) == 10 * STAKE


def test_report__within_sla__recorded_without_slash(protocol, hub, slasher, staking, registered_provider, ended_epoch):
    report = (registered_provider.address, ended_epoch, 9_900)

    hub.submitUptimeReport(report, protocol.sign(protocol.report_digest(report)), sender=protocol.oracles[0])

    assert slasher.isReported(registered_provider, ended_epoch)
    assert staking.stakeOf(registered_provider) == 10_000 * STAKE


@pytest.fixture
def report_reverts(reverts, hub, slasher, staking, registered_provider, ended_epoch, relayer):
    """Submits the report, expects exactly `error`, then checks nothing was applied."""

    def check(error, report, signatures, **inputs):
        with reverts(error, **inputs):
            hub.submitUptimeReport(report, signatures, sender=relayer)
        assert not slasher.isReported(registered_provider, ended_epoch)
        assert staking.stakeOf(registered_provider) == 10_000 * STAKE

    return check


def test_report__fewer_than_threshold__insufficient_signatures(
    quorum, protocol, hub, report_reverts, report, sorted_oracles
):
    signatures = quorum.sign(protocol.report_digest(report), sorted_oracles[:1])

    report_reverts(hub.InsufficientSignatures, report, signatures, required=2, provided=1)


def test_report__signer_outside_set__signer_not_oracle(
    quorum, protocol, hub, report_reverts, report, sorted_oracles, outsider
):
    signers = sorted([sorted_oracles[2], outsider], key=lambda s: int(s.address, 16))
    signatures = quorum.sign(protocol.report_digest(report), signers)

    report_reverts(hub.SignerNotOracle, report, signatures, signer=outsider.address)


def test_report__field_changed_after_signing__rejected(
    quorum, protocol, hub, report_reverts, report, sorted_oracles
):
    # Higher uptime signed, lower uptime submitted: the quorum does not carry over.
    signed = (report[0], report[1], 9_900)
    signatures = quorum.sign(protocol.report_digest(signed), sorted_oracles[:2])
    name, inputs = quorum.predict(protocol.report_digest(report), signatures, [o.address for o in sorted_oracles], 2)

    report_reverts(getattr(hub, name), report, signatures, **inputs)


def test_report__relayed_twice__report_already_applied(
    reverts, protocol, hub, slasher, staking, report, registered_provider, ended_epoch, relayer
):
    signatures = protocol.sign(protocol.report_digest(report))
    hub.submitUptimeReport(report, signatures, sender=relayer)

    with reverts(slasher.ReportAlreadyApplied, provider=registered_provider.address, epoch=ended_epoch):
        hub.submitUptimeReport(report, signatures, sender=relayer)

    assert staking.stakeOf(registered_provider) == 9_500 * STAKE  # slashed once only
