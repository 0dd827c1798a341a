"""Posting roots through the oracle quorum, and vetoes: a root above what the schedule released
or the reserve can pay, a shrinking total, a stale oracle configuration, too few signatures, a
second root while one is pending; a veto within the delay (guardian or oracle) and after it."""

from __future__ import annotations

from computerails.rewards import RewardsTree
from tests.support.reverts import reverts
from tests.support.rewards import PARAMS, STAKE

FEES = [0]  # epoch 0 saw no protocol fees: the whole e0 is released


def test_post__one_ended_epoch__pending_then_active(desk, distributor, provider, other_provider):
    desk.to_epoch(1)
    amounts = {provider.address: 600 * STAKE, other_provider.address: 400 * STAKE}

    receipt, tree, _ = desk.post(amounts, through=1, fees=FEES)

    (event,) = receipt.events
    assert event.event_name == "RootPosted"
    assert (event.root, event.total, event.through) == (tree.root, 1_000 * STAKE, 1)
    assert (event.released, event.feeAverage) == (PARAMS.e0, 0)
    posted_at = desk.chain.blocks[receipt.block_number].timestamp
    assert event.activatesAt == posted_at + PARAMS.activation_delay
    assert tuple(distributor.activeRoot()) == (b"\x00" * 32, 0, 0)  # pending: nothing active yet
    desk.activate()
    assert tuple(distributor.activeRoot()) == (tree.root, 1_000 * STAKE, 1)


def test_post__total_above_released__refused(desk, distributor, provider):
    desk.to_epoch(1)
    with reverts(distributor.TotalAboveReleased, released=PARAMS.e0, total=PARAMS.e0 + 1):
        desk.post({provider.address: PARAMS.e0 + 1}, through=1, fees=FEES)


def test_post__fees_lower_the_release__total_checked_against_it(desk, distributor, provider):
    desk.to_epoch(1)
    fees = [PARAMS.fee_target]  # the average reaches half the target: half the subsidy
    released = desk.released(fees)
    assert released == PARAMS.e0 // 2
    with reverts(distributor.TotalAboveReleased, released=released, total=released + 1):
        desk.post({provider.address: released + 1}, through=1, fees=fees)
    desk.post({provider.address: released}, through=1, fees=fees)


def test_post__total_above_reserve__refused(project, desk, protocol, governance, hub, stake_token, chain, provider):
    from tests.support.rewards import RewardsDesk, deploy_rewards

    empty = deploy_rewards(project, governance, hub, stake_token, genesis=chain.pending_timestamp)
    stake_token.mint(governance.address, 10 * STAKE, sender=governance)
    stake_token.approve(empty.address, 10 * STAKE, sender=governance)
    empty.fund(10 * STAKE, sender=governance)
    poor = RewardsDesk(empty, protocol, chain)
    poor.to_epoch(1)
    with reverts(empty.TotalAboveReserve, fundable=10 * STAKE, total=11 * STAKE):
        poor.post({provider.address: 11 * STAKE}, through=1, fees=FEES)


def test_post__epoch_not_ended__through_out_of_range(desk, distributor, provider):
    desk.to_epoch(1)
    with reverts(distributor.ThroughOutOfRange, min=1, max=1, value=2):
        desk.post({provider.address: STAKE}, through=2, fees=[0, 0])


def test_post__fees_for_fewer_epochs__length_mismatch(desk, distributor, provider):
    desk.to_epoch(3)
    with reverts(distributor.FeesLengthMismatch, expected=3, actual=1):
        desk.post({provider.address: STAKE}, through=3, fees=[0])


def test_post__total_below_previous__refused(desk, distributor, provider):
    desk.to_epoch(2)
    desk.post({provider.address: 500 * STAKE}, through=1, fees=FEES)
    desk.activate()
    with reverts(distributor.TotalBelowPrevious, previous=500 * STAKE, total=400 * STAKE):
        desk.post({provider.address: 400 * STAKE}, through=2, fees=[0])


def test_post__stale_oracle_configuration__refused_by_the_hub(desk, distributor, hub, provider):
    desk.to_epoch(1)
    stale = int(hub.configVersion()) - 1
    with reverts(hub.StaleOracleConfig, current=stale + 1, signed=stale):
        desk.post({provider.address: STAKE}, through=1, fees=FEES, config_version=stale)


def test_post__one_signature_of_two__refused_by_the_hub(desk, hub, protocol, provider):
    desk.to_epoch(1)
    with reverts(hub.InsufficientSignatures, required=2, provided=1):
        desk.post({provider.address: STAKE}, through=1, fees=FEES, signers=protocol.oracles[:1])


def test_post__signed_root_altered__signers_recovered_are_strangers(desk, distributor, hub, protocol, quorum, provider):
    from computerails.rewards import RootPost

    desk.to_epoch(1)
    signed = RootPost(RewardsTree.of({provider.address: STAKE}).root, STAKE, 1, (0,), int(hub.configVersion()))
    signatures = protocol.sign(desk.digest(signed))
    forged = RootPost(b"\x33" * 32, STAKE, 1, (0,), signed.config_version)
    name, args = quorum.predict(desk.digest(forged), signatures, list(hub.oracles()), int(hub.threshold()))

    with reverts(getattr(hub, name), **args):
        distributor.postRoot(forged.as_tuple(), signatures, sender=protocol.oracles[0])


def test_digest__python_and_contract__equal(desk, distributor, hub):
    from computerails.rewards import RootPost

    post = RootPost(b"\x11" * 32, 123, 4, (1, 2, 3, 4), 7)
    assert distributor.rootDigest(post.as_tuple()) == desk.digest(post)


def test_post__second_root_while_pending__refused_until_active(desk, distributor, provider):
    desk.to_epoch(2)
    _, tree, _ = desk.post({provider.address: STAKE}, through=1, fees=FEES)
    with reverts(
        distributor.RootPending, root=tree.root, activatesAt=distributor.latestRoot()[3], nowTime=desk.protocol.now()
    ):
        desk.post({provider.address: 2 * STAKE}, through=2, fees=[0])
    desk.activate()
    desk.post({provider.address: 2 * STAKE}, through=2, fees=[0])


def test_post__several_epochs_at_once__schedule_runs_over_each(desk, distributor, provider):
    desk.to_epoch(5)
    fees = [0, 10, 20, 30, 40]
    released = desk.released(fees)

    receipt, _, _ = desk.post({provider.address: released}, through=5, fees=fees)

    assert receipt.events[0].released == released
    assert receipt.events[0].feeAverage == PARAMS.release(0, fees)[1]


# ───────────────────────── vetoes ─────────────────────────


def test_veto__guardian_within_delay__never_activates_next_post_continues(desk, distributor, governance, provider):
    desk.to_epoch(1)
    _, bad, _ = desk.post({provider.address: PARAMS.e0}, through=1, fees=FEES)

    receipt = distributor.veto(bad.root, "pays one provider everything", sender=governance)

    assert receipt.events[0].event_name == "RootVetoed"
    assert receipt.events[0].reason == "pays one provider everything"
    desk.activate()
    assert tuple(distributor.activeRoot()) == (b"\x00" * 32, 0, 0)
    # the next post starts again from the last root not vetoed (none): epoch 0 again
    _, good, _ = desk.post({provider.address: PARAMS.e0 // 2}, through=1, fees=FEES)
    desk.activate()
    assert distributor.activeRoot()[0] == good.root


def test_veto__an_oracle__allowed(desk, distributor, protocol, provider):
    desk.to_epoch(1)
    _, tree, _ = desk.post({provider.address: STAKE}, through=1, fees=FEES)
    distributor.veto(tree.root, "differs from my computation", sender=protocol.oracles[1])
    assert distributor.latestRoot()[4] is True


def test_veto__outsider__refused(desk, distributor, attacker, provider):
    desk.to_epoch(1)
    _, tree, _ = desk.post({provider.address: STAKE}, through=1, fees=FEES)
    with reverts(distributor.NotGuardianOrOracle, caller=attacker.address):
        distributor.veto(tree.root, "no", sender=attacker)


def test_veto__after_the_delay__window_closed(desk, distributor, governance, provider):
    desk.to_epoch(1)
    _, tree, _ = desk.post({provider.address: STAKE}, through=1, fees=FEES)
    activates = distributor.latestRoot()[3]
    desk.activate()
    with reverts(distributor.VetoWindowClosed, root=tree.root, activatesAt=activates, nowTime=desk.protocol.now()):
        distributor.veto(tree.root, "late", sender=governance)


def test_veto__another_root__not_pending(desk, distributor, governance, provider):
    desk.to_epoch(1)
    _, tree, _ = desk.post({provider.address: STAKE}, through=1, fees=FEES)
    with reverts(distributor.RootNotPending, pending=tree.root, root=b"\x22" * 32):
        distributor.veto(b"\x22" * 32, "wrong one", sender=governance)


def test_veto__while_an_older_root_is_active__claims_stay_on_the_older(desk, distributor, governance, provider):
    desk.to_epoch(2)
    _, first, _ = desk.post({provider.address: STAKE}, through=1, fees=FEES)
    desk.activate()
    _, second, _ = desk.post({provider.address: 2 * STAKE}, through=2, fees=[0])
    assert distributor.activeRoot()[0] == first.root  # the second is pending
    distributor.veto(second.root, "bad", sender=governance)
    desk.activate()
    assert distributor.activeRoot()[0] == first.root
    # the replacement continues from the first root's epochs
    _, third, _ = desk.post({provider.address: 3 * STAKE}, through=2, fees=[0])
    desk.activate()
    assert tuple(distributor.activeRoot()) == (third.root, 3 * STAKE, 2)
