"""Claims against the active root: cumulative amounts pay the difference once, a proof for another
account or amount is refused, anyone may claim for an account and the tokens go to it or to the
recipient it named, claimMany pays the good items and skips the bad one with its reason, and a
malformed tree cannot pay out past its root's total."""

from __future__ import annotations

import pytest

from computerails.rewards import RewardsTree
from tests.support.reverts import error_data, reverts
from tests.support.rewards import STAKE


@pytest.fixture
def accounts3(provider, other_provider, client):
    return [provider, other_provider, client]


@pytest.fixture
def active(desk, accounts3):
    """An active root over epoch 0: 500, 300 and 200 tokens."""
    desk.to_epoch(1)
    amounts = dict(zip([a.address for a in accounts3], [500 * STAKE, 300 * STAKE, 200 * STAKE], strict=True))
    _, tree, _ = desk.post(amounts, through=1, fees=[0])
    desk.activate()
    return tree


def _claim(distributor, tree, account, sender):
    return distributor.claim(account.address, tree.amount(account.address), tree.proof(account.address), sender=sender)


def test_claim__first__pays_the_cumulative_amount(distributor, stake_token, active, provider):
    before = stake_token.balanceOf(provider.address)

    receipt = _claim(distributor, active, provider, provider)

    assert stake_token.balanceOf(provider.address) - before == 500 * STAKE
    (event,) = [e for e in receipt.events if e.event_name == "Claimed"]
    assert (event.account, event.recipient, event.amount, event.cumulative) == (
        provider.address,
        provider.address,
        500 * STAKE,
        500 * STAKE,
    )
    assert (distributor.claimed(provider.address), distributor.totalClaimed()) == (500 * STAKE, 500 * STAKE)


def test_claim__same_cumulative_again__nothing_to_claim(distributor, active, provider):
    _claim(distributor, active, provider, provider)
    with reverts(
        distributor.CumulativeAmountNotAboveClaimed,
        account=provider.address,
        claimed=500 * STAKE,
        cumulativeAmount=500 * STAKE,
    ):
        _claim(distributor, active, provider, provider)


def test_claim__proof_of_another_account__invalid_proof(distributor, active, provider, other_provider):
    with reverts(distributor.InvalidProof, account=provider.address, cumulativeAmount=300 * STAKE):
        distributor.claim(provider.address, 300 * STAKE, active.proof(other_provider.address), sender=provider)


def test_claim__more_than_the_leaf__invalid_proof(distributor, active, provider):
    with reverts(distributor.InvalidProof, account=provider.address, cumulativeAmount=501 * STAKE):
        distributor.claim(provider.address, 501 * STAKE, active.proof(provider.address), sender=provider)


def test_claim__by_anyone__paid_to_the_account(distributor, stake_token, active, provider, attacker):
    before = stake_token.balanceOf(provider.address), stake_token.balanceOf(attacker.address)
    _claim(distributor, active, provider, attacker)
    assert stake_token.balanceOf(provider.address) - before[0] == 500 * STAKE
    assert stake_token.balanceOf(attacker.address) == before[1]


def test_claim__recipient_set__paid_to_the_recipient(distributor, stake_token, active, provider, treasury):
    receipt = distributor.setRecipient(treasury.address, sender=provider)
    assert (receipt.events[0].account, receipt.events[0].recipient) == (provider.address, treasury.address)
    before = stake_token.balanceOf(treasury.address)

    _claim(distributor, active, provider, provider)

    assert stake_token.balanceOf(treasury.address) - before == 500 * STAKE
    assert distributor.recipientOf(provider.address) == treasury.address


def test_claim__next_root_higher__pays_only_the_difference(desk, distributor, stake_token, active, accounts3):
    provider = accounts3[0]
    _claim(distributor, active, provider, provider)
    desk.to_epoch(2)
    grown = {**active.amounts, provider.address.lower(): 800 * STAKE}  # amounts are keyed in lowercase
    _, later, _ = desk.post(grown, through=2, fees=[0])
    desk.activate()
    before = stake_token.balanceOf(provider.address)

    distributor.claim(provider.address, 800 * STAKE, later.proof(provider.address), sender=provider)

    assert stake_token.balanceOf(provider.address) - before == 300 * STAKE
    assert distributor.claimed(provider.address) == 800 * STAKE


def test_claim__no_active_root__refused(desk, distributor, provider):
    desk.to_epoch(1)
    _, pending, _ = desk.post({provider.address: STAKE}, through=1, fees=[0])
    with reverts(distributor.NoActiveRoot):
        distributor.claim(provider.address, STAKE, pending.proof(provider.address), sender=provider)


def test_claim__malformed_tree_past_its_total__refused(desk, distributor, provider, other_provider):
    desk.to_epoch(1)
    # leaves sum 1,000 but the root declares 600: the second claim would pass the total
    tree = RewardsTree.of({provider.address: 500 * STAKE, other_provider.address: 500 * STAKE})
    desk.post(tree, through=1, fees=[0], total=600 * STAKE)
    desk.activate()
    _claim(distributor, tree, provider, provider)
    with reverts(distributor.ClaimAboveRootTotal, total=600 * STAKE, claimedAfter=1_000 * STAKE):
        _claim(distributor, tree, other_provider, other_provider)


# ───────────────────────── claimMany ─────────────────────────


def test_claim_many__one_bad_item__skipped_with_its_reason_the_rest_paid(
    distributor, stake_token, active, accounts3, attacker
):
    a, b, c = accounts3
    items = [
        (a.address, active.amount(a.address), active.proof(a.address)),
        (b.address, active.amount(b.address) + 1, active.proof(b.address)),  # inflated: bad proof
        (c.address, active.amount(c.address), active.proof(c.address)),
    ]
    before = [stake_token.balanceOf(x.address) for x in accounts3]

    receipt = distributor.claimMany(items, sender=attacker)

    after = [stake_token.balanceOf(x.address) for x in accounts3]
    assert [y - x for x, y in zip(before, after, strict=True)] == [500 * STAKE, 0, 200 * STAKE]
    (skipped,) = [e for e in receipt.events if e.event_name == "ClaimSkipped"]
    assert (skipped.index, skipped.account) == (1, b.address)
    assert skipped.reason == error_data(distributor.InvalidProof, account=b.address, cumulativeAmount=300 * STAKE + 1)
    assert distributor.totalClaimed() == 700 * STAKE


def test_claim_many__claimed_twice_in_one_batch__second_skipped(distributor, active, provider):
    item = (provider.address, active.amount(provider.address), active.proof(provider.address))
    receipt = distributor.claimMany([item, item], sender=provider)
    (skipped,) = [e for e in receipt.events if e.event_name == "ClaimSkipped"]
    assert skipped.reason == error_data(
        distributor.CumulativeAmountNotAboveClaimed,
        account=provider.address,
        claimed=500 * STAKE,
        cumulativeAmount=500 * STAKE,
    )
    assert distributor.totalClaimed() == 500 * STAKE


def test_claim_many__empty__empty_batch(distributor, active, provider):
    with reverts(distributor.EmptyBatch):
        distributor.claimMany([], sender=provider)


# ───────────────────────── funding ─────────────────────────


def test_fund__zero__zero_amount(distributor, governance):
    with reverts(distributor.ZeroAmount):
        distributor.fund(0, sender=governance)


def test_fund__amount__reserve_grows_with_event(distributor, stake_token, governance):
    stake_token.mint(governance.address, 5 * STAKE, sender=governance)
    stake_token.approve(distributor.address, 5 * STAKE, sender=governance)
    before = stake_token.balanceOf(distributor.address)

    receipt = distributor.fund(5 * STAKE, sender=governance)

    assert stake_token.balanceOf(distributor.address) - before == 5 * STAKE
    (event,) = [e for e in receipt.events if e.event_name == "Funded"]
    assert (event.funder, event.amount) == (governance.address, 5 * STAKE)


def test_fund__token_taking_a_fee__reserve_counts_what_arrived(project, governance, hub, chain):
    from tests.support.rewards import deploy_rewards

    token = project.MockFeeToken.deploy(sender=governance)
    d = deploy_rewards(project, governance, hub, token, genesis=chain.pending_timestamp)
    token.mint(governance.address, 100 * STAKE, sender=governance)
    token.approve(d.address, 100 * STAKE, sender=governance)

    receipt = d.fund(100 * STAKE, sender=governance)

    assert d.funded() == token.balanceOf(d.address) == 99 * STAKE  # 1% burned on the way
    (event,) = [e for e in receipt.events if e.event_name == "Funded"]
    assert event.amount == 99 * STAKE
    assert d.totalClaimed() == 0
