"""RewardsDistributor gas budgets (issue 16) at 100,000 leaves (proofs of 17 hashes), asserted on
Ape's in-process chain from receipts: gas is deterministic, and each transaction starts cold as on
a real chain. Claims pay the staking token into wallets that already hold some, as providers'
wallets do; a first claim into an empty wallet also writes its balance from zero (+17,100, the
token's cost, printed)."""

from __future__ import annotations

import pytest
from eth_utils import keccak, to_checksum_address

from computerails.rewards import RewardsTree
from tests.support.rewards import STAKE

BUDGETS = {
    "repeat_claim": 65_000,
    "first_claim": 95_000,
    "post_root_k3": 90_000,
    "claim_many_per_claim_at_50": 45_000,
}
LEAVES = 100_000
BATCH = 50


def _strangers(count: int) -> list[str]:
    return [to_checksum_address(keccak(i.to_bytes(32, "big"))[12:]) for i in range(count)]


@pytest.fixture(scope="module")
def strangers():
    return _strangers(LEAVES - 1)


def _tree(account: str, amount: int, strangers: list[str], bump: int = 0) -> RewardsTree:
    amounts = {a: STAKE + bump + i for i, a in enumerate(strangers)}
    amounts[account] = amount
    return RewardsTree.of(amounts)


def test_gas__post_root_k3_and_claims_at_100k_leaves(
    desk, distributor, hub, governance, stake_token, provider, strangers
):
    hub.setThreshold(3, sender=governance)  # k = 3 of the session's 3 oracles
    # Every claimant's wallet holds some of the token already (the payout's balance slot exists).
    for a in [provider.address, *strangers[:BATCH]]:
        stake_token.mint(a, 1, sender=governance)

    desk.to_epoch(2)
    first_tree = _tree(provider.address, 100 * STAKE, strangers)
    total = first_tree.total
    # The release must cover 100,000 leaves of ~1 token: raise e0 for this test.
    distributor.setParams((10**28, 4, 100 * 10**6, 2, 3_600), sender=governance)
    stake_token.mint(governance.address, 10**24, sender=governance)
    stake_token.approve(distributor.address, 10**24, sender=governance)
    distributor.fund(10**24, sender=governance)
    first_post, _, _ = desk.post(first_tree, through=1, fees=[0])
    desk.activate()

    # Others claimed before (the contract's claimed total is not zero): the provider's first claim.
    first_many = distributor.claimMany(
        [(a, first_tree.amount(a), first_tree.proof(a)) for a in strangers[:BATCH]], sender=provider
    )
    first_claim = distributor.claim(provider.address, 100 * STAKE, first_tree.proof(provider.address), sender=provider)

    second_tree = _tree(provider.address, 150 * STAKE, strangers, bump=STAKE)
    assert second_tree.total > total
    steady_post, _, _ = desk.post(second_tree, through=2, fees=[0])
    desk.activate()
    repeat = distributor.claim(provider.address, 150 * STAKE, second_tree.proof(provider.address), sender=provider)
    # A third root overwrites the first one's bank: the steady state of posting.
    desk.to_epoch(3)
    third_tree = _tree(provider.address, 200 * STAKE, strangers, bump=2 * STAKE)
    third_post, _, _ = desk.post(third_tree, through=3, fees=[0])
    many = distributor.claimMany(
        [(a, second_tree.amount(a), second_tree.proof(a)) for a in strangers[:BATCH]], sender=provider
    )
    assert not [e for e in many.events if e.event_name == "ClaimSkipped"]

    per_claim = many.gas_used / BATCH
    print(
        f"post k=3: first {first_post.gas_used}, second {steady_post.gas_used}, steady {third_post.gas_used}; "
        f"claim: first {first_claim.gas_used}, "
        f"repeat {repeat.gas_used}; claimMany@{BATCH}: first {first_many.gas_used / BATCH:.0f}, "
        f"repeat {per_claim:.0f} per claim"
    )
    assert third_post.gas_used <= BUDGETS["post_root_k3"]
    assert first_claim.gas_used <= BUDGETS["first_claim"]
    assert repeat.gas_used <= BUDGETS["repeat_claim"]
    assert per_claim <= BUDGETS["claim_many_per_claim_at_50"]
