"""submitUptimeReport: a quorum-signed report reaches the UptimeSlasher, once, and the relayer
reward of a slash goes to the relayer the oracles named in it, whoever submits."""

import pytest

STAKE = 10**18
BPS = 10_000
ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture
def ended_epoch(protocol, registered_provider):
    """The first epoch wholly under the provider's SLA, just ended (the epoch it registered in
    is not: reports on it revert SlaNotInForce)."""
    protocol.warp_past_sla_start(registered_provider)
    return protocol.finish_epoch()


@pytest.fixture
def report(protocol, registered_provider, ended_epoch, relayer):
    """Provider at 90% uptime, below the 95% SLA; the oracles name `relayer` as the relayer."""
    return protocol.report(registered_provider, ended_epoch, 9_000, relayer=relayer)


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
    report = protocol.report(registered_provider, ended_epoch, 9_900)

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


def test_report__field_changed_after_signing__rejected(quorum, protocol, hub, report_reverts, report, sorted_oracles):
    # Higher uptime signed, lower uptime submitted: the quorum does not carry over.
    signed = (report[0], report[1], 9_900, *report[3:])
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


def test_report__conflicting_report_after_one_within_sla__report_already_applied(
    reverts, protocol, hub, slasher, staking, registered_provider, ended_epoch, relayer
):
    # A report within the SLA leaves the provider under it (not jailed): only the once-only bit
    # stands between a second, conflicting report on the same epoch and a slash.
    report = protocol.report(registered_provider, ended_epoch, 9_900, relayer=relayer)
    hub.submitUptimeReport(report, protocol.sign(protocol.report_digest(report)), sender=relayer)
    conflicting = protocol.report(registered_provider, ended_epoch, 0, relayer=relayer)

    with reverts(slasher.ReportAlreadyApplied, provider=registered_provider.address, epoch=ended_epoch):
        hub.submitUptimeReport(conflicting, protocol.sign(protocol.report_digest(conflicting)), sender=relayer)

    assert staking.stakeOf(registered_provider) == 10_000 * STAKE  # never slashed


# ─────────────────── issue 9, item 2: the relayer reward goes to the named relayer ───────────────────


def expected_split(slasher, staking, provider):
    """(slash, relayer reward) a below-SLA report takes from `provider` now, from the slasher's
    parameters: uptimeSlashBps of its slashable stake, capped; the reward relayerRewardBps of
    that, capped."""
    p = slasher.params()
    slash = min(staking.slashableStake(provider) * p.uptimeSlashBps // BPS, p.uptimeSlashCap)
    return slash, min(slash * p.relayerRewardBps // BPS, p.relayerRewardCap)


@pytest.fixture(params=["reward-capped", "reward-uncapped"])
def reward_cap(request, slasher, governance):
    """The default parameters cap the reward (10 of 50); "reward-uncapped" lifts the cap so the
    reward is exactly relayerRewardBps of the slash."""
    if request.param == "reward-uncapped":
        p = slasher.params()
        slasher.setParams((*p[:6], 2**128 - 1), sender=governance)
    return request.param


@pytest.fixture
def no_claims(staking, treasury, registered_provider, relayer, attacker, oracles):
    """Nobody holds a slash claim before the report: the balances asserted after it are exact."""
    assert staking.treasury() == treasury.address
    accounts = (treasury, registered_provider, relayer, attacker, oracles[0])
    assert [staking.claimable(a) for a in accounts] == [0] * len(accounts)


def assert_slash_paid(receipt, slasher, staking, provider, epoch, relayer, beneficiary, slash, reward):
    """The report slashed `slash` from free stake, `reward` to `beneficiary` (ZERO: nobody), the
    rest to the treasury, and says so in both contracts' events."""
    assert receipt.events.filter(slasher.UptimeReported) == [
        slasher.UptimeReported(
            provider=provider.address,
            epoch=epoch,
            relayer=relayer,
            uptimeBps=0,
            slashRequested=slash,
            slashed=slash,
            relayerReward=reward,
        )
    ]
    assert receipt.events.filter(staking.ProviderSlashed) == [
        staking.ProviderSlashed(
            provider=provider.address,
            beneficiary=beneficiary,
            requested=slash,
            fromFree=slash,
            fromUnbonding=0,
            deferred=0,
            beneficiaryAmount=reward,
            treasuryAmount=slash - reward,
        )
    ]


def test_report__attacker_copies_signed_report__named_relayer_rewarded_attacker_nothing(
    reverts,
    protocol,
    hub,
    slasher,
    staking,
    treasury,
    registered_provider,
    ended_epoch,
    relayer,
    attacker,
    reward_cap,
    no_claims,
):
    # The attacker sees the relayer's transaction in the mempool and submits the same report
    # and signatures first: the report lands, but the reward follows the signed relayer field.
    report = protocol.report(registered_provider, ended_epoch, 0, relayer=relayer)
    signatures = protocol.sign(protocol.report_digest(report))
    slash, reward = expected_split(slasher, staking, registered_provider)
    assert reward == (10 * STAKE if reward_cap == "reward-capped" else slash * 1_000 // BPS)
    assert slash == 500 * STAKE and reward > 0

    receipt = hub.submitUptimeReport(report, signatures, sender=attacker)

    assert_slash_paid(
        receipt, slasher, staking, registered_provider, ended_epoch, relayer.address, relayer.address, slash, reward
    )
    assert staking.claimable(attacker) == 0
    assert staking.claimable(relayer) == reward
    assert staking.claimable(treasury) == slash - reward
    assert staking.stakeOf(registered_provider) == 10_000 * STAKE - slash
    # The relayer's own transaction now fails, but the relayer has already been paid.
    with reverts(slasher.ReportAlreadyApplied, provider=registered_provider.address, epoch=ended_epoch):
        hub.submitUptimeReport(report, signatures, sender=relayer)
    assert staking.claimable(relayer) == reward


def test_report__attacker_names_itself_relayer__rejected_no_slash(
    quorum,
    protocol,
    hub,
    report_reverts,
    staking,
    registered_provider,
    ended_epoch,
    relayer,
    attacker,
    sorted_oracles,
    no_claims,
):
    # Rewriting the relayer field to claim the reward breaks the quorum: the relayer is signed.
    signed = protocol.report(registered_provider, ended_epoch, 0, relayer=relayer)
    signatures = quorum.sign(protocol.report_digest(signed), sorted_oracles[:2])
    rewritten = protocol.report(registered_provider, ended_epoch, 0, relayer=attacker)
    name, inputs = quorum.predict(protocol.report_digest(rewritten), signatures, [o.address for o in sorted_oracles], 2)
    assert name in ("SignerNotOracle", "SignersNotAscending")

    report_reverts(getattr(hub, name), rewritten, signatures, **inputs)

    assert staking.claimable(attacker) == 0


@pytest.mark.parametrize("sender", ["provider", "relayer"])
def test_report__names_slashed_provider_as_relayer__provider_paid_nothing_all_to_treasury(
    protocol, hub, slasher, staking, treasury, registered_provider, ended_epoch, relayer, sender, no_claims
):
    # Even a report naming the provider (an oracle's mistake, or a provider that got one of its
    # own keys named) never hands the provider part of its own slash.
    report = protocol.report(registered_provider, ended_epoch, 0, relayer=registered_provider)
    slash, _ = expected_split(slasher, staking, registered_provider)

    receipt = hub.submitUptimeReport(
        report,
        protocol.sign(protocol.report_digest(report)),
        sender=registered_provider if sender == "provider" else relayer,
    )

    # the events name who was paid: nobody (the zero address), never the provider
    assert_slash_paid(receipt, slasher, staking, registered_provider, ended_epoch, ZERO, ZERO, slash, 0)
    assert staking.claimable(registered_provider) == 0
    assert staking.claimable(relayer) == 0
    assert staking.claimable(treasury) == slash
    assert staking.stakeOf(registered_provider) == 10_000 * STAKE - slash


def test_report__provider_relays_own_report__provider_paid_nothing_named_relayer_rewarded(
    protocol, hub, slasher, staking, treasury, registered_provider, ended_epoch, relayer, no_claims
):
    # Relaying its own report used to win the provider the relayer reward back.
    report = protocol.report(registered_provider, ended_epoch, 0, relayer=relayer)
    slash, reward = expected_split(slasher, staking, registered_provider)

    receipt = hub.submitUptimeReport(report, protocol.sign(protocol.report_digest(report)), sender=registered_provider)

    assert_slash_paid(
        receipt, slasher, staking, registered_provider, ended_epoch, relayer.address, relayer.address, slash, reward
    )
    assert staking.claimable(registered_provider) == 0
    assert staking.claimable(relayer) == reward
    assert staking.claimable(treasury) == slash - reward
    assert staking.stakeOf(registered_provider) == 10_000 * STAKE - slash


def test_report__relayer_zero_address__everything_to_treasury(
    protocol, hub, slasher, staking, treasury, registered_provider, ended_epoch, relayer, oracles, no_claims
):
    report = protocol.report(registered_provider, ended_epoch, 0, relayer=ZERO)
    slash, _ = expected_split(slasher, staking, registered_provider)

    receipt = hub.submitUptimeReport(report, protocol.sign(protocol.report_digest(report)), sender=relayer)

    assert_slash_paid(receipt, slasher, staking, registered_provider, ended_epoch, ZERO, ZERO, slash, 0)
    assert staking.claimable(relayer) == 0
    assert staking.claimable(oracles[0]) == 0
    assert staking.claimable(ZERO) == 0
    assert staking.claimable(treasury) == slash
    assert staking.stakeOf(registered_provider) == 10_000 * STAKE - slash
