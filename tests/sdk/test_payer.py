"""The payer role of metered payments (issue 12) against the devnet deployment: deposits (permit,
approve, for someone else), thaws and withdrawals, signer consent proofs checked against the
contract's own digest, signer thaw and revocation, meters bound to the deployment, the runway."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from eth_account import Account

from computerails import errors
from computerails.devnet import dev_key
from computerails.payer import signer_proof_digest
from computerails.types import Raw, SignerState
from tests.support.sdk import PROVIDER, nonce_of, raises_unsent, warp

PROVIDER_ADDRESS = Account.from_key(dev_key(PROVIDER)).address
HOT_KEY = "0x" + "4b" * 32
HOT = Account.from_key(HOT_KEY).address
THAW_PERIOD = 3 * 86_400  # computerails/devnet/params.py "metered"
SIGNER_THAW_PERIOD = 2 * 86_400


@pytest.fixture
def funded(client_rails, faucet):
    """The client, holding 100 mUSD and 40 of them in escrow for the provider."""
    faucet(client_rails, usd=100)
    client_rails.payer.deposit(PROVIDER_ADDRESS, 40)
    return client_rails


def _allowance(rails):
    return rails.erc20(rails.token().address).functions.allowance(rails.address, rails.payer.domain.escrow).call()


def test_deposit__permit_path__one_transaction_no_allowance_left(client_rails, faucet):
    faucet(client_rails, usd=10)
    before = nonce_of(client_rails)

    account = client_rails.payer.deposit(PROVIDER_ADDRESS, Decimal("2.5"))

    assert nonce_of(client_rails) == before + 1
    assert (account.balance, account.thawing, account.thaw_end) == (Decimal("2.5"), 0, None)
    assert _allowance(client_rails) == 0


def test_deposit__approve_path__approves_exactly_then_deposits(client_rails, faucet):
    faucet(client_rails, usd=10)
    before = nonce_of(client_rails)

    account = client_rails.payer.deposit(PROVIDER_ADDRESS, 3, payment="approve")

    assert nonce_of(client_rails) == before + 2
    assert account.balance == 3 and _allowance(client_rails) == 0


def test_deposit__more_than_held__insufficient_balance_nothing_sent(client_rails, faucet):
    faucet(client_rails, usd=1)
    with raises_unsent(client_rails, errors.InsufficientBalance):
        client_rails.payer.deposit(PROVIDER_ADDRESS, 2)


def test_deposit_for__another_payer__payer_owns_it(client_rails, other_client_rails, faucet):
    faucet(other_client_rails, usd=5)

    account = other_client_rails.payer.deposit_for(client_rails.address, PROVIDER_ADDRESS, 5)

    assert account.payer == client_rails.address and account.balance == 5
    assert client_rails.payer.account(PROVIDER_ADDRESS).balance == 5


def test_thaw__then_cancel__account_idle_again(funded):
    thawing = funded.payer.thaw(PROVIDER_ADDRESS, 15)
    assert thawing.thawing == 15
    assert thawing.thaw_end is not None and int(thawing.thaw_end.timestamp()) == funded.now() + THAW_PERIOD

    idle = funded.payer.cancel_thaw(PROVIDER_ADDRESS)

    assert (idle.balance, idle.thawing, idle.thaw_end) == (40, 0, None)


def test_thaw__more_than_balance__refused_unsent(funded):
    with raises_unsent(funded, errors.InsufficientBalance, match="holds 40 mUSD"):
        funded.payer.thaw(PROVIDER_ADDRESS, 41)


def test_withdraw__before_thaw_end__too_early_then_pays_after(w3, funded):
    funded.payer.thaw(PROVIDER_ADDRESS, 15)
    with raises_unsent(funded, errors.TooEarly):
        funded.payer.withdraw(PROVIDER_ADDRESS)
    wallet = funded.views.wallet(funded.address)
    warp(w3, THAW_PERIOD)

    payout = funded.payer.withdraw(PROVIDER_ADDRESS)

    account = funded.payer.account(PROVIDER_ADDRESS)
    assert (payout.amount, payout.source) == (15, "metered")
    assert (account.balance, account.thawing, account.thaw_end) == (25, 0, None)
    assert funded.views.wallet(funded.address) == wallet + 15


def test_withdraw__nothing_thawing__precondition_unsent(funded):
    with raises_unsent(funded, errors.PreconditionError, match="nothing is thawing"):
        funded.payer.withdraw(PROVIDER_ADDRESS)


def test_signer_proof_digest__equals_the_contracts(client_rails):
    digest = signer_proof_digest(client_rails.payer.domain, client_rails.address, HOT, 1_900_000_000)

    onchain = client_rails.read(
        "MeteredEscrow", client_rails.payer.domain.escrow, "signerProofDigest", client_rails.address, HOT, 1_900_000_000
    )

    assert digest == onchain


def test_voucher_digest__meter_bound_to_deployment__equals_the_contracts(client_rails):
    meter = client_rails.payer.meter(HOT_KEY, PROVIDER_ADDRESS, 1)
    voucher, _ = meter.next(Raw(7))

    onchain = client_rails.read("MeteredEscrow", meter.signer.domain.escrow, "voucherDigest", voucher.as_tuple())

    assert meter.signer.domain.chain_id == client_rails.chain_id
    assert meter.signer.domain.digest(voucher) == onchain


def test_signer__authorize_thaw_revoke__states_follow_the_contract(w3, client_rails):
    authorized = client_rails.payer.authorize_signer(HOT_KEY, deadline=timedelta(minutes=5))
    assert (authorized.payer, authorized.state) == (client_rails.address, SignerState.AUTHORIZED)
    assert client_rails.read(
        "MeteredEscrow", client_rails.payer.domain.escrow, "isAuthorizedSigner", client_rails.address, HOT
    )

    thawing = client_rails.payer.thaw_signer(HOT)
    assert thawing.state is SignerState.THAWING
    with raises_unsent(client_rails, errors.TooEarly):
        client_rails.payer.revoke_signer(HOT)
    warp(w3, SIGNER_THAW_PERIOD)

    revoked = client_rails.payer.revoke_signer(HOT)

    assert revoked.state is SignerState.REVOKED


def test_signer__cancel_thaw__authorized_again(client_rails):
    client_rails.payer.authorize_signer(HOT_KEY)
    client_rails.payer.thaw_signer(HOT)

    assert client_rails.payer.cancel_signer_thaw(HOT).state is SignerState.AUTHORIZED


def test_signer__already_authorized__not_allowed_unsent(client_rails, other_client_rails):
    client_rails.payer.authorize_signer(HOT_KEY)

    with raises_unsent(other_client_rails, errors.NotAllowed, match="already signs for payer"):
        other_client_rails.payer.authorize_signer(HOT_KEY)


def test_signer__revoke_unthawed__says_thaw_first(client_rails):
    client_rails.payer.authorize_signer(HOT_KEY)
    with raises_unsent(client_rails, errors.PreconditionError, match="must thaw"):
        client_rails.payer.revoke_signer(HOT)


def test_meter__budget_cap__refuses_past_it(client_rails):
    meter = client_rails.payer.meter(HOT_KEY, PROVIDER_ADDRESS, Decimal("0.000010"))
    meter.next(Raw(6))

    with pytest.raises(errors.BudgetExceeded):
        meter.next(Raw(5))
    assert meter.value_aggregate == 6


def test_runway__signed_not_collected__balance_less_outstanding(funded):
    meters = [funded.payer.meter(HOT_KEY, PROVIDER_ADDRESS, 50) for _ in range(2)]
    meters[0].next(Raw(1_500_000))
    meters[1].next(Raw(500_000))
    meters[1].next(Raw(500_000))

    runway = funded.payer.runway(PROVIDER_ADDRESS, meters)

    assert (runway.account.balance, runway.outstanding, runway.available) == (40, Decimal("2.5"), Decimal("37.5"))
    assert runway.collections == {meters[0].collection_id: Decimal("1.5"), meters[1].collection_id: Decimal(1)}


def test_runway__meter_of_another_provider__refused(funded):
    meter = funded.payer.meter(HOT_KEY, funded.address, 1)
    with pytest.raises(errors.PreconditionError, match="not this account"):
        funded.payer.runway(PROVIDER_ADDRESS, [meter])
