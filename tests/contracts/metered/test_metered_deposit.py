"""MeteredEscrow deposits: deposit, depositWithPermit, depositFor, the allowlist, hostile tokens."""

from computerails.vouchers import UINT128_MAX
from tests.contracts.escrow.test_escrow_permit_batch import sign_permit
from tests.support.escrow import events
from tests.support.metered import STAKE_RATIO, THAW_PERIOD, USD, thaw_end
from tests.support.reverts import reverts


def test_deposit__credits_account_and_pulls_exact_amount(metered, usd, client, provider):
    usd.mint(client, 50 * USD, sender=client)
    usd.approve(metered, 50 * USD, sender=client)

    receipt = metered.deposit(provider, usd, 50 * USD, sender=client)

    assert events(receipt, metered.EscrowDeposited) == [
        {
            "payer": client.address,
            "provider": provider.address,
            "token": usd.address,
            "funder": client.address,
            "amount": 50 * USD,
            "balance": 50 * USD,
        }
    ]
    assert metered.account(client, provider, usd) == (50 * USD, 0, 0)
    assert usd.balanceOf(metered) == 50 * USD
    assert usd.balanceOf(client) == 0


def test_deposit__zero_amount__refused(metered, usd, client, provider):
    with reverts(metered.ZeroAmount):
        metered.deposit(provider, usd, 0, sender=client)


def test_deposit__zero_provider__refused(metered, usd, client):
    with reverts(metered.ZeroAddress):
        metered.deposit("0x" + "00" * 20, usd, 1, sender=client)


def test_deposit__token_not_allowed__refused(metered, project, governance, client, provider):
    other = project.MockUSD.deploy(sender=governance)
    with reverts(metered.TokenNotAllowed, token=other):
        metered.deposit(provider, other, 1, sender=client)


def test_deposit__token_disallowed_later__balance_still_collectable(
    metered, usd, governance, client, provider, funded, make_voucher
):
    metered.setPaymentToken(usd, False, STAKE_RATIO, sender=governance)
    v, sig = make_voucher(client, provider)
    metered.collect(v.args(), sig, sender=provider)
    with reverts(metered.TokenNotAllowed, token=usd):
        metered.deposit(provider, usd, 1, sender=client)


def test_deposit__while_paused__refused(metered, usd, governance, client, provider):
    metered.pause(sender=governance)
    with reverts(metered.EnforcedPause):
        metered.deposit(provider, usd, 1, sender=client)
    with reverts(metered.EnforcedPause):
        metered.depositFor(client, provider, usd, 1, sender=client)


def test_deposit__balance_past_128_bits__refused(metered, usd, client, provider, fund):
    fund(client, provider, UINT128_MAX)
    usd.mint(client, 1, sender=client)
    usd.approve(metered, 1, sender=client)
    with reverts(metered.AccountBalanceTooLarge, max=UINT128_MAX, balance=UINT128_MAX + 1):
        metered.deposit(provider, usd, 1, sender=client)


def test_deposit__fee_on_transfer_token__refused(metered, project, governance, client, provider):
    token = project.MockFeeToken.deploy(sender=governance)
    metered.setPaymentToken(token, True, STAKE_RATIO, sender=governance)
    token.mint(client, 100 * USD, sender=client)
    token.approve(metered, 100 * USD, sender=client)
    with reverts(metered.TransferAmountMismatch, expected=100 * USD, received=99 * USD):
        metered.deposit(provider, token, 100 * USD, sender=client)


def test_deposit_for__funder_pays__payer_owns__timers_unchanged(metered, usd, client, provider, relayer, funded):
    end = thaw_end(metered, metered.thaw(provider, usd, 40 * USD, sender=client))
    usd.mint(relayer, 10 * USD, sender=relayer)
    usd.approve(metered, 10 * USD, sender=relayer)

    receipt = metered.depositFor(client, provider, usd, 10 * USD, sender=relayer)

    assert [e["funder"] for e in events(receipt, metered.EscrowDeposited)] == [relayer.address]
    assert metered.account(client, provider, usd) == (110 * USD, 40 * USD, end)
    assert metered.account(relayer, provider, usd) == (0, 0, 0)
    assert usd.balanceOf(relayer) == 0


def test_deposit_for__zero_payer__refused(metered, usd, relayer, provider):
    with reverts(metered.ZeroAddress):
        metered.depositFor("0x" + "00" * 20, provider, usd, 1, sender=relayer)


def test_deposit_with_permit__no_approval__deposits(metered, chain, usd, client, provider):
    usd.mint(client, 30 * USD, sender=client)
    deadline = chain.pending_timestamp + 3_600
    v, r, s = sign_permit(usd, client, metered, 30 * USD, deadline, chain.chain_id)

    metered.depositWithPermit(provider, usd, 30 * USD, deadline, v, r, s, sender=client)

    assert metered.account(client, provider, usd).balance == 30 * USD
    assert usd.allowance(client, metered) == 0


def test_deposit_with_permit__permit_front_run__still_deposits(metered, chain, usd, client, provider, relayer):
    usd.mint(client, 30 * USD, sender=client)
    deadline = chain.pending_timestamp + 3_600
    v, r, s = sign_permit(usd, client, metered, 30 * USD, deadline, chain.chain_id)
    usd.permit(client, metered, 30 * USD, deadline, v, r, s, sender=relayer)

    metered.depositWithPermit(provider, usd, 30 * USD, deadline, v, r, s, sender=client)

    assert metered.account(client, provider, usd).balance == 30 * USD


def test_deposit_during_thaw__thaw_end_kept(metered, chain, usd, client, provider, funded, fund):
    end = thaw_end(metered, metered.thaw(provider, usd, 100 * USD, sender=client))
    chain.pending_timestamp += THAW_PERIOD // 2
    fund(client, provider, 5 * USD)
    assert metered.account(client, provider, usd) == (105 * USD, 100 * USD, end)
