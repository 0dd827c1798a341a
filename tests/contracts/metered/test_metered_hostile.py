"""MeteredEscrow against hostile tokens: re-entry from a transfer hook, false-returning tokens."""

from tests.support.metered import STAKE_RATIO, THAW_PERIOD, USD
from tests.support.reverts import error_data, reverts


def test_withdraw__token_reenters_withdraw__guard_refuses(metered, project, chain, governance, provider):
    token = project.MockReentrantToken.deploy(sender=governance)
    metered.setPaymentToken(token, True, STAKE_RATIO, sender=governance)
    # The token is the payer, so its hook re-enters with the same msg.sender as the withdrawal.
    token.mint(token, 10 * USD, sender=governance)
    token.execute(token, token.approve.encode_input(metered, 10 * USD), sender=governance)
    token.execute(metered, metered.deposit.encode_input(provider, token, 10 * USD), sender=governance)
    token.execute(metered, metered.thaw.encode_input(provider, token, 10 * USD), sender=governance)
    chain.pending_timestamp += THAW_PERIOD
    token.arm(metered, metered.withdraw.encode_input(provider, token), False, sender=governance)

    token.execute(metered, metered.withdraw.encode_input(provider, token), sender=governance)

    assert token.reentries() == 1
    assert not token.lastReentrySucceeded()
    assert bytes(token.lastReentryData()) == error_data(metered.ReentrancyGuardReentrantCall)
    assert token.balanceOf(token) == 10 * USD
    assert metered.account(token, provider, token) == (0, 0, 0)


def test_claim__false_returning_token__reverts_not_lost(metered, project, governance, client, provider, make_voucher):
    token = project.MockFalseToken.deploy(sender=governance)
    metered.setPaymentToken(token, True, STAKE_RATIO, sender=governance)
    token.mint(client, 10 * USD, sender=client)
    token.approve(metered, 10 * USD, sender=client)
    metered.deposit(provider, token, 10 * USD, sender=client)
    v, sig = make_voucher(client, provider, token=token, valueAggregate=10 * USD)
    metered.collect(v.args(), sig, sender=provider)
    owed = metered.claimable(provider, token)
    token.setFailing(True, sender=governance)
    with reverts(metered.SafeERC20FailedOperation, token=token):
        metered.claim(token, sender=provider)
    assert metered.claimable(provider, token) == owed
