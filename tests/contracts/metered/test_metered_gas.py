"""MeteredEscrow gas budgets (issue 12), asserted on Ape's in-process chain from receipts: gas is
deterministic, and each transaction starts cold as on a real chain. Collections include their
stake lock (a call into ProviderStaking and the provider's lock record)."""

from tests.support.metered import OTHER_CID, USD

BUDGETS = {
    # A top-up of an account that exists: the common case.
    "deposit": 60_000,
    # The first deposit into a new account writes its balance slot from zero (+17,100).
    "deposit_new_account": 75_000,
    # A voucher of a collection collected before, signed by the payer's authorized hot key,
    # stake lock included: the budget.
    "collect": 100_000,
    # The first collection of a new collection id writes its slot from zero (+17,100): 1,334 over
    # the collect budget, measured and recorded as such in docs/METERED.md.
    "collect_new_collection": 102_000,
    # A provider's first collection ever also writes its claimable balance and its stake-lock
    # record from zero (2 x 17,100): a one-time cost per provider, like a new escrow account.
    "collect_providers_first": 136_000,
    # collectMany of 50 vouchers from 5 payers, per voucher (one stake lock for the batch).
    "collect_many_per_voucher_at_50": 45_000,
}


def test_gas__deposit(metered, usd, client, other_client, provider, fund):
    fund(other_client, provider, USD)  # the contract already holds the token, as in production
    usd.mint(client, 20 * USD, sender=client)
    usd.approve(metered, 2**256 - 1, sender=client)
    first = metered.deposit(provider, usd, 10 * USD, sender=client)
    top_up = metered.deposit(provider, usd, 10 * USD, sender=client)
    print(f"deposit new account {first.gas_used}, top-up {top_up.gas_used}")
    assert first.gas_used <= BUDGETS["deposit_new_account"]
    assert top_up.gas_used <= BUDGETS["deposit"]


def test_gas__collect(
    metered, usd, client, other_client, provider, other_provider, hot_key, fund, authorize, make_voucher
):
    # Another provider's earlier collection leaves the treasury with fees, as in production.
    fund(other_client, other_provider, USD)
    v0, s0 = make_voucher(other_client, other_provider, valueAggregate=USD)
    metered.collect(v0.args(), s0, sender=other_provider)
    fund(client, provider)
    authorize(client, hot_key)
    v1, s1 = make_voucher(client, provider, key=hot_key, valueAggregate=1 * USD)
    first = metered.collect(v1.args(), s1, sender=provider)
    v2, s2 = make_voucher(client, provider, key=hot_key, valueAggregate=2 * USD, requestCount=200)
    steady = metered.collect(v2.args(), s2, sender=provider)
    fresh, sf = make_voucher(client, provider, key=hot_key, collectionId=OTHER_CID, valueAggregate=1 * USD)
    new_collection = metered.collect(fresh.args(), sf, sender=provider)
    print(
        f"collect provider's first {first.gas_used}, steady {steady.gas_used}, new collection {new_collection.gas_used}"
    )
    assert first.gas_used <= BUDGETS["collect_providers_first"]
    assert steady.gas_used <= BUDGETS["collect"]
    assert new_collection.gas_used <= BUDGETS["collect_new_collection"]


def test_gas__collect_many_per_voucher_at_50(metered, usd, accounts, provider, fund, make_voucher):
    """50 new collections from 5 payers in one transaction, stake lock included."""
    payers = [accounts[i] for i in range(11, 16)]
    vouchers, sigs = [], []
    for payer in payers:
        fund(payer, provider, 1_000 * USD)
        for k in range(10):
            v, s = make_voucher(payer, provider, collectionId=bytes([k + 1]) * 32, valueAggregate=USD)
            vouchers.append(v.args())
            sigs.append(s)
    receipt = metered.collectMany(vouchers, sigs, sender=provider)
    print(f"collectMany 50: {receipt.gas_used} total, {receipt.gas_used // 50} per voucher")
    assert len(receipt.events.filter(metered.VoucherCollected)) == 50
    assert receipt.gas_used / 50 <= BUDGETS["collect_many_per_voucher_at_50"]
