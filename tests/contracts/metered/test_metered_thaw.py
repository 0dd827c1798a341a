"""MeteredEscrow thaw and withdraw: two steps, collections during the thaw, the thaw capped by
collections, a new thaw replacing the old, a payer front-running a collection with a thaw."""

from tests.support.escrow import events
from tests.support.metered import FEE_BPS, THAW_PERIOD, USD, thaw_end
from tests.support.reverts import reverts


def test_thaw__then_withdraw_after_period(metered, chain, usd, client, provider, funded):
    receipt = metered.thaw(provider, usd, 60 * USD, sender=client)
    end = receipt.timestamp + THAW_PERIOD
    assert events(receipt, metered.EscrowThawStarted) == [
        {
            "payer": client.address,
            "provider": provider.address,
            "token": usd.address,
            "amount": 60 * USD,
            "thawEnd": end,
        }
    ]
    chain.pending_timestamp = end - 1
    with reverts(metered.ThawNotElapsed, thawEnd=end, nowTime=end - 1):
        metered.withdraw(provider, usd, sender=client)

    chain.pending_timestamp = end
    out = metered.withdraw(provider, usd, sender=client)

    assert events(out, metered.EscrowWithdrawn) == [
        {
            "payer": client.address,
            "provider": provider.address,
            "token": usd.address,
            "amount": 60 * USD,
            "balance": 40 * USD,
        }
    ]
    assert usd.balanceOf(client) == 60 * USD
    assert metered.account(client, provider, usd) == (40 * USD, 0, 0)


def test_withdraw__without_thaw__refused(metered, usd, client, provider, funded):
    with reverts(metered.NotThawing, payer=client, provider=provider, token=usd):
        metered.withdraw(provider, usd, sender=client)


def test_thaw__more_than_balance__refused(metered, usd, client, provider, funded):
    with reverts(metered.ThawAmountTooLarge, balance=100 * USD, amount=100 * USD + 1):
        metered.thaw(provider, usd, 100 * USD + 1, sender=client)


def test_thaw__zero__cancels(metered, chain, usd, client, provider, funded):
    metered.thaw(provider, usd, 10 * USD, sender=client)
    receipt = metered.thaw(provider, usd, 0, sender=client)
    assert events(receipt, metered.EscrowThawCancelled) == [
        {"payer": client.address, "provider": provider.address, "token": usd.address}
    ]
    chain.pending_timestamp += THAW_PERIOD
    with reverts(metered.NotThawing, payer=client, provider=provider, token=usd):
        metered.withdraw(provider, usd, sender=client)


def test_thaw__again__replaces_amount_and_restarts_clock(metered, chain, usd, client, provider, funded):
    metered.thaw(provider, usd, 10 * USD, sender=client)
    chain.pending_timestamp += THAW_PERIOD - 10
    second = metered.thaw(provider, usd, 30 * USD, sender=client)
    end = second.timestamp + THAW_PERIOD
    assert metered.account(client, provider, usd) == (100 * USD, 30 * USD, end)
    chain.pending_timestamp += 20
    with reverts(metered.ThawNotElapsed, thawEnd=end, nowTime=chain.pending_timestamp):
        metered.withdraw(provider, usd, sender=client)


def test_collect__during_thaw__pays_and_caps_thawing(metered, chain, usd, client, provider, funded, make_voucher):
    end = thaw_end(metered, metered.thaw(provider, usd, 95 * USD, sender=client))
    chain.pending_timestamp += THAW_PERIOD // 2
    v, sig = make_voucher(client, provider, valueAggregate=10 * USD)

    metered.collect(v.args(), sig, sender=provider)

    assert metered.account(client, provider, usd) == (90 * USD, 90 * USD, end)
    chain.pending_timestamp = end
    metered.withdraw(provider, usd, sender=client)
    assert usd.balanceOf(client) == 90 * USD
    assert metered.account(client, provider, usd) == (0, 0, 0)


def test_collect__small__thawing_below_balance_untouched(metered, usd, client, provider, funded, make_voucher):
    end = thaw_end(metered, metered.thaw(provider, usd, 50 * USD, sender=client))
    v, sig = make_voucher(client, provider, valueAggregate=10 * USD)
    metered.collect(v.args(), sig, sender=provider)
    assert metered.account(client, provider, usd) == (90 * USD, 50 * USD, end)


def test_payer_front_runs_collection_with_thaw__provider_still_paid_in_full(
    metered, chain, usd, client, provider, funded, make_voucher
):
    # The payer sees the provider's collect in the mempool and thaws everything first: the thaw
    # reserves nothing, and the period outlasts the provider's collection interval.
    v, sig = make_voucher(client, provider, valueAggregate=70 * USD)
    end = thaw_end(metered, metered.thaw(provider, usd, 100 * USD, sender=client))
    with reverts(metered.ThawNotElapsed, thawEnd=end, nowTime=chain.pending_timestamp):
        metered.withdraw(provider, usd, sender=client)

    metered.collect(v.args(), sig, sender=provider)

    assert metered.claimable(provider, usd) == 70 * USD - 70 * USD * FEE_BPS // 10_000
    chain.pending_timestamp = end
    out = metered.withdraw(provider, usd, sender=client)
    assert [e["amount"] for e in events(out, metered.EscrowWithdrawn)] == [30 * USD]
    assert usd.balanceOf(metered) == 70 * USD


def test_thaw__collections_take_everything__withdraw_finds_nothing(
    metered, chain, usd, client, provider, funded, make_voucher
):
    metered.thaw(provider, usd, 100 * USD, sender=client)
    v, sig = make_voucher(client, provider, valueAggregate=100 * USD)
    metered.collect(v.args(), sig, sender=provider)
    chain.pending_timestamp += THAW_PERIOD
    with reverts(metered.NotThawing, payer=client, provider=provider, token=usd):
        metered.withdraw(provider, usd, sender=client)


def test_thaw__works_while_paused(metered, chain, usd, governance, client, provider, funded):
    metered.pause(sender=governance)
    metered.thaw(provider, usd, 10 * USD, sender=client)
    chain.pending_timestamp += THAW_PERIOD
    metered.withdraw(provider, usd, sender=client)
    assert usd.balanceOf(client) == 10 * USD


def test_thaw__period_changed_later__running_thaw_keeps_its_end(
    metered, chain, usd, governance, client, provider, funded
):
    end = thaw_end(metered, metered.thaw(provider, usd, 10 * USD, sender=client))
    metered.setPeriods(3_600, 86_400, 30 * 86_400, 30 * 86_400, sender=governance)
    assert metered.account(client, provider, usd).thawEnd == end
    chain.pending_timestamp = end
    metered.withdraw(provider, usd, sender=client)
