"""Hostile payment and staking tokens (contracts/test/Mock*Token.sol), allowlisted by governance.

What each token does and what the protocol must do about it:

- MockFalseToken: transfers return false -> SafeERC20FailedOperation, nothing booked, claimables kept;
- MockNoReturnToken (USDT style): transfers return nothing -> works end to end through SafeERC20;
- MockReentrantToken: calls back into the protocol mid-transfer -> ReentrancyGuardReentrantCall
  (or, for unguarded permissionless calls, a re-entry that changes nothing it should not);
- MockBlocklistToken: a blocked party's withdraw fails, everyone else is still paid, the blocked
  balance stays claimable;
- MockRebasingToken: pullExact refuses short deliveries; a negative rebase leaves the escrow short
  and the last withdrawers unpaid (pinned below: rebasing tokens are not supported);
- MockFeeToken: refused at the door by pullExact, on the escrow and the staking side.

Every test ends with `assert_books` (tests/adversarial/conftest.py).
"""

from __future__ import annotations

import pytest

from tests.support.books import (
    FEE_BPS,
    MIN_STAKE,
    STAKE,
    UNBONDING_DELAY,
    USD,
    Status,
    escrow_liabilities,
    fund,
)

TOKEN = 10**18  # 18-decimal hostile tokens
UNIT_18 = TOKEN // 10  # 0.1 token per unit
UNIT_6 = USD // 10  # 0.1 USD per unit
MAX_UNITS = 100
DAY_S = 86_400


def create(protocol, client, provider, token, unit_price, max_units=MAX_UNITS):
    """Fund `client` with exactly the escrow (plus nothing), approve, create the job."""
    fund(token, client, unit_price * max_units, protocol.escrow)
    return protocol.create_job(client, provider, token=token, unit_price=unit_price, max_units=max_units)


def settle_split(unit_price, units, max_units=MAX_UNITS):
    """(provider net, fee, client refund) of a settled job."""
    gross = units * unit_price
    fee = gross * FEE_BPS // 10_000
    return gross - fee, fee, (max_units - units) * unit_price


# ─────────────────────────────── MockFalseToken ───────────────────────────────


def test_false_token__transfer_from_returns_false__create_job_reverts_nothing_booked(
    reverts, protocol, escrow, false_token, client, registered_provider, books
):
    fund(false_token, client, 10 * TOKEN, escrow)
    false_token.setFailing(True, sender=client)
    jobs_before = escrow.jobCount()

    with reverts(escrow.SafeERC20FailedOperation, token=false_token):
        protocol.create_job(client, registered_provider, token=false_token, unit_price=UNIT_18)

    assert escrow.jobCount() == jobs_before
    assert false_token.balanceOf(client) == 10 * TOKEN
    assert false_token.balanceOf(escrow) == 0
    books(false_token)


def test_false_token__client_without_balance__create_job_reverts_instead_of_free_job(
    reverts, protocol, escrow, false_token, client, registered_provider, books
):
    # The switch is off: the token returns false only because the client has nothing. An
    # escrow that ignored the return value would open a job backed by no tokens.
    false_token.approve(escrow, 2**256 - 1, sender=client)

    with reverts(escrow.SafeERC20FailedOperation, token=false_token):
        protocol.create_job(client, registered_provider, token=false_token, unit_price=UNIT_18)

    assert escrow.jobCount() == 0
    books(false_token)


def test_false_token__transfer_returns_false__withdraw_reverts_claimable_kept_then_paid(
    reverts, protocol, escrow, false_token, client, registered_provider, books
):
    job = create(protocol, client, registered_provider, false_token, UNIT_18)
    escrow.cancel(job, sender=client)
    false_token.setFailing(True, sender=client)

    with reverts(escrow.SafeERC20FailedOperation, token=false_token):
        escrow.withdraw(false_token, sender=client)

    assert escrow.claimable(client, false_token) == 10 * TOKEN
    books(false_token)

    false_token.setFailing(False, sender=client)
    escrow.withdraw(false_token, sender=client)

    assert false_token.balanceOf(client) == 10 * TOKEN
    assert escrow.claimable(client, false_token) == 0
    books(false_token)


def test_false_token__bond_transfer_returns_false__dispute_reverts_job_stays_attested(
    reverts, protocol, escrow, false_token, client, registered_provider, books
):
    job = create(protocol, client, registered_provider, false_token, UNIT_18)
    escrow.accept(job, sender=registered_provider)
    protocol.attest(job, units=60)
    bond = escrow.disputeBondFor(job)
    false_token.mint(client, bond, sender=client)
    false_token.setFailing(True, sender=client)
    before = escrow.job(job)

    with reverts(escrow.SafeERC20FailedOperation, token=false_token):
        escrow.dispute(job, sender=client)

    assert escrow.job(job) == before
    assert before.status == Status.ATTESTED
    books(false_token)

    false_token.setFailing(False, sender=client)
    escrow.dispute(job, sender=client)

    assert escrow.job(job).disputeBond == bond == TOKEN
    books(false_token)


def test_false_token__as_staking_token__register_and_claim_fail_loudly_nothing_booked(
    reverts, staking_over, false_token, provider, treasury
):
    side = staking_over(false_token)
    staking = side.staking
    fund(false_token, provider, 2 * MIN_STAKE, staking)
    false_token.setFailing(True, sender=provider)

    with reverts(staking.SafeERC20FailedOperation, token=false_token):
        staking.register("ipfs://p", MIN_STAKE, sender=provider)
    assert not staking.isRegistered(provider)
    side.books()

    false_token.setFailing(False, sender=provider)
    staking.register("ipfs://p", MIN_STAKE, sender=provider)
    staking.slash(provider, 100 * STAKE, "0x" + "00" * 20, 0, 0, sender=side.slasher)
    false_token.setFailing(True, sender=provider)

    with reverts(staking.SafeERC20FailedOperation, token=false_token):
        staking.claim(sender=treasury)

    assert staking.claimable(treasury) == 100 * STAKE
    side.books()


# ─────────────────────────────── MockNoReturnToken ───────────────────────────────


def test_no_return_token__full_job_with_lapsed_dispute__everyone_paid_exactly(
    protocol, escrow, no_return_token, client, registered_provider, treasury, books
):
    token = no_return_token
    job = create(protocol, client, registered_provider, token, UNIT_6)
    escrow.accept(job, sender=registered_provider)
    protocol.attest(job, units=60)
    bond = escrow.disputeBondFor(job)
    token.mint(client, bond, sender=client)
    escrow.dispute(job, sender=client)  # bond pulled through safeTransferFrom: no return value
    assert token.balanceOf(escrow) == 10 * USD + bond
    books(token)
    protocol.warp(escrow.disputeTimeout() + 1)
    escrow.settle(job, sender=client)

    net, fee, refund = settle_split(UNIT_6, 60)
    for account in (client, registered_provider, treasury):
        escrow.withdraw(token, sender=account)

    assert token.balanceOf(client) == refund + bond
    assert token.balanceOf(registered_provider) == net
    assert token.balanceOf(treasury) == fee
    assert token.balanceOf(escrow) == 0
    books(token)


def test_no_return_token__client_without_balance__create_job_bubbles_token_error(
    reverts, protocol, escrow, no_return_token, client, registered_provider, books
):
    no_return_token.approve(escrow, 2**256 - 1, sender=client)

    with reverts(no_return_token.InsufficientBalance, account=client, balance=0, needed=10 * USD):
        protocol.create_job(client, registered_provider, token=no_return_token, unit_price=UNIT_6)

    assert escrow.jobCount() == 0
    books(no_return_token)


def test_no_return_token__create_with_permit_on_token_without_permit__permit_ignored_allowance_used(
    protocol, escrow, no_return_token, client, registered_provider, books
):
    # The token has no permit(): the call reverts inside createJobWithPermit's try/catch and
    # the existing allowance pays, exactly once.
    fund(no_return_token, client, 10 * USD, escrow)
    deadline = protocol.now() + DAY_S

    escrow.createJobWithPermit(
        registered_provider,
        no_return_token,
        UNIT_6,
        MAX_UNITS,
        deadline,
        b"\x07" * 32,
        deadline,
        27,
        b"\x01" * 32,
        b"\x02" * 32,
        sender=client,
    )

    assert escrow.job(1).escrow == no_return_token.balanceOf(escrow) == 10 * USD
    assert no_return_token.balanceOf(client) == 0
    books(no_return_token)


def test_no_return_token__as_staking_token__register_unbond_slash_claim_work(
    protocol, staking_over, no_return_token, provider, treasury, relayer
):
    side = staking_over(no_return_token)
    staking = side.staking
    fund(no_return_token, provider, 2 * MIN_STAKE, staking)
    staking.register("ipfs://p", 2 * MIN_STAKE, sender=provider)
    staking.requestUnbond(MIN_STAKE, sender=provider)
    staking.slash(provider, 10 * STAKE, relayer, 5_000, 2**256 - 1, sender=side.slasher)
    side.books()
    protocol.warp(UNBONDING_DELAY)

    staking.withdrawUnbonded(sender=provider)
    staking.claim(sender=treasury)
    staking.claim(sender=relayer)

    assert no_return_token.balanceOf(provider) == MIN_STAKE
    assert no_return_token.balanceOf(treasury) == no_return_token.balanceOf(relayer) == 5 * STAKE
    assert no_return_token.balanceOf(staking) == MIN_STAKE - 10 * STAKE
    side.books()


# ─────────────────────────────── MockReentrantToken ───────────────────────────────


def as_token(token, contract, method, *args, sender):
    """Call `contract.method(*args)` with the token contract as msg.sender."""
    return token.execute(contract.address, getattr(contract, method).encode_input(*args), sender=sender)


@pytest.fixture
def token_client(protocol, escrow, reentrant_token, attacker):
    """The re-entrant token acting as a client: funded, escrow approved. ``token_client(n)``
    creates a job of `n` units at 0.1 token for the registered provider; returns its id."""
    as_token(reentrant_token, reentrant_token, "approve", escrow.address, 2**256 - 1, sender=attacker)

    def create_job(provider, max_units=MAX_UNITS):
        reentrant_token.mint(reentrant_token.address, UNIT_18 * max_units, sender=attacker)
        receipt = as_token(
            reentrant_token,
            escrow,
            "createJob",
            provider.address,
            reentrant_token.address,
            UNIT_18,
            max_units,
            protocol.now() + DAY_S,
            b"\x07" * 32,
            sender=attacker,
        )
        return receipt.events.filter(escrow.JobCreated)[-1].jobId

    return create_job


def test_reentrant_token__withdraw_reenters_withdraw__guard_rejects_paid_once(
    error_data, escrow, reentrant_token, token_client, registered_provider, attacker, books
):
    token = reentrant_token
    job = token_client(registered_provider)
    as_token(token, escrow, "cancel", job, sender=attacker)
    token.arm(escrow.address, escrow.withdraw.encode_input(token.address), False, sender=attacker)

    as_token(token, escrow, "withdraw", token.address, sender=attacker)

    assert token.reentries() == 1
    assert not token.lastReentrySucceeded()
    assert token.lastReentryData() == error_data(escrow.ReentrancyGuardReentrantCall)
    assert token.balanceOf(token) == 10 * TOKEN  # paid exactly once
    assert escrow.claimable(token, token) == 0
    books(token, extra_accounts=[token])


def test_reentrant_token__withdraw_reentry_bubbles__whole_withdraw_reverts_claimable_kept(
    reverts, escrow, reentrant_token, token_client, registered_provider, attacker, books
):
    token = reentrant_token
    job = token_client(registered_provider)
    as_token(token, escrow, "cancel", job, sender=attacker)
    token.arm(escrow.address, escrow.withdraw.encode_input(token.address), True, sender=attacker)

    with reverts(escrow.ReentrancyGuardReentrantCall):
        as_token(token, escrow, "withdraw", token.address, sender=attacker)

    assert escrow.claimable(token, token) == 10 * TOKEN
    assert token.balanceOf(escrow) == 10 * TOKEN
    books(token, extra_accounts=[token])


def test_reentrant_token__create_job_reenters_withdraw__guard_rejects_pull_not_fooled(
    protocol, error_data, escrow, reentrant_token, token_client, registered_provider, attacker, books
):
    # A withdraw inside pullExact would shrink the escrow's balance between its before/after
    # reads; the guard stops it before it gets there.
    token = reentrant_token
    first = token_client(registered_provider)
    as_token(token, escrow, "cancel", first, sender=attacker)  # 10 tokens claimable by the token
    token.arm(escrow.address, escrow.withdraw.encode_input(token.address), False, sender=attacker)

    second = token_client(registered_provider)

    assert token.lastReentryData() == error_data(escrow.ReentrancyGuardReentrantCall)
    assert escrow.job(second).status == Status.OPEN
    assert escrow.claimable(token, token) == 10 * TOKEN
    assert token.balanceOf(escrow) == 20 * TOKEN
    books(token, extra_accounts=[token])


def test_reentrant_token__create_job_reenters_create_job__guard_rejects_one_job(
    protocol, error_data, escrow, reentrant_token, token_client, registered_provider, attacker, books
):
    token = reentrant_token
    token.mint(token.address, 10 * TOKEN, sender=attacker)  # enough for a second job, if it got in
    payload = escrow.createJob.encode_input(
        registered_provider.address, token.address, UNIT_18, MAX_UNITS, protocol.now() + DAY_S, b"\x07" * 32
    )
    token.arm(escrow.address, payload, False, sender=attacker)

    token_client(registered_provider)

    assert token.lastReentryData() == error_data(escrow.ReentrancyGuardReentrantCall)
    assert escrow.jobCount() == 1
    assert token.balanceOf(escrow) == 10 * TOKEN
    books(token, extra_accounts=[token])


def test_reentrant_token__create_job_reenters_cancel_of_that_job__unguarded_cancel_books_exact(
    error_data, escrow, reentrant_token, token_client, registered_provider, attacker, books
):
    # cancel takes no tokens, so it has no guard: re-entered while createJob is pulling the
    # escrow, it cancels the job being created. The pull still completes and is checked, so
    # the refund credited is backed by tokens that really arrived.
    token = reentrant_token
    token.arm(escrow.address, escrow.cancel.encode_input(escrow.jobCount() + 1), False, sender=attacker)

    job = token_client(registered_provider)

    assert token.lastReentrySucceeded()
    assert escrow.job(job).status == Status.CANCELLED
    assert escrow.claimable(token, token) == token.balanceOf(escrow) == 10 * TOKEN
    books(token, extra_accounts=[token])


def test_reentrant_token__dispute_bond_reenters_withdraw__guard_rejects(
    protocol, error_data, escrow, reentrant_token, token_client, registered_provider, attacker, books
):
    token = reentrant_token
    cancelled = token_client(registered_provider)
    as_token(token, escrow, "cancel", cancelled, sender=attacker)
    job = token_client(registered_provider)
    escrow.accept(job, sender=registered_provider)
    protocol.attest(job, units=60)
    token.mint(token.address, escrow.disputeBondFor(job), sender=attacker)
    token.arm(escrow.address, escrow.withdraw.encode_input(token.address), False, sender=attacker)

    as_token(token, escrow, "dispute", job, sender=attacker)

    assert token.lastReentryData() == error_data(escrow.ReentrancyGuardReentrantCall)
    assert escrow.job(job).status == Status.DISPUTED
    assert escrow.claimable(token, token) == 10 * TOKEN
    books(token, extra_accounts=[token])


def test_reentrant_token__withdraw_reenters_settle__unguarded_settle_correct_no_double_pay(
    protocol, escrow, reentrant_token, token_client, registered_provider, treasury, attacker, books
):
    # settle takes no tokens and pays nobody directly, so it needs no guard: re-entered from a
    # withdraw it settles the other job exactly as a separate call would.
    token = reentrant_token
    cancelled = token_client(registered_provider)
    as_token(token, escrow, "cancel", cancelled, sender=attacker)
    job = token_client(registered_provider)
    escrow.accept(job, sender=registered_provider)
    protocol.attest(job, units=60)
    protocol.warp(escrow.challengeWindow())
    token.arm(escrow.address, escrow.settle.encode_input(job), False, sender=attacker)

    as_token(token, escrow, "withdraw", token.address, sender=attacker)

    net, fee, refund = settle_split(UNIT_18, 60)
    assert token.lastReentrySucceeded()
    assert escrow.job(job).status == Status.SETTLED
    assert token.balanceOf(token) == 10 * TOKEN  # the first withdrawal only
    assert escrow.claimable(token, token) == refund  # credited after the payout: not paid twice
    assert escrow.claimable(registered_provider, token) == net
    assert escrow.claimable(treasury, token) == fee
    assert protocol.staking.providerInfo(registered_provider).locked == 0
    books(token, extra_accounts=[token])


def test_reentrant_token__staking_claim_reenters_claim__guard_rejects_paid_once(
    error_data, staking_over, reentrant_token, provider, attacker
):
    token = reentrant_token
    side = staking_over(token, treasury_address=token.address, extra=[token])
    staking = side.staking
    fund(token, provider, MIN_STAKE, staking)
    staking.register("ipfs://p", MIN_STAKE, sender=provider)
    staking.slash(provider, 100 * STAKE, "0x" + "00" * 20, 0, 0, sender=side.slasher)
    token.arm(staking.address, staking.claim.encode_input(), False, sender=attacker)

    as_token(token, staking, "claim", sender=attacker)

    assert token.lastReentryData() == error_data(staking.ReentrancyGuardReentrantCall)
    assert token.balanceOf(token) == 100 * STAKE
    assert staking.claimable(token) == 0
    side.books()


def test_reentrant_token__withdraw_unbonded_reenters_itself__guard_rejects_paid_once(
    protocol, error_data, staking_over, reentrant_token, attacker
):
    token = reentrant_token
    side = staking_over(token, extra=[token])
    staking = side.staking
    token.mint(token.address, 2 * MIN_STAKE, sender=attacker)
    as_token(token, token, "approve", staking.address, 2**256 - 1, sender=attacker)
    as_token(token, staking, "register", "ipfs://token", 2 * MIN_STAKE, sender=attacker)
    as_token(token, staking, "requestUnbond", MIN_STAKE, sender=attacker)
    protocol.warp(UNBONDING_DELAY)
    token.arm(staking.address, staking.withdrawUnbonded.encode_input(), False, sender=attacker)

    as_token(token, staking, "withdrawUnbonded", sender=attacker)

    assert token.lastReentryData() == error_data(staking.ReentrancyGuardReentrantCall)
    assert token.balanceOf(token) == MIN_STAKE
    info = staking.providerInfo(token)
    assert (info.staked, info.unbonding) == (MIN_STAKE, 0)
    side.books()


# ─────────────────────────────── MockBlocklistToken ───────────────────────────────


@pytest.fixture
def blocklist_books(protocol, escrow, blocklist_token, client, other_client, registered_provider, treasury):
    """A settled job (client, 60 of 100 units) and a cancelled one (other_client) in the
    blocklist token: client, other_client, provider and treasury all hold claimables."""
    token = blocklist_token
    job = create(protocol, client, registered_provider, token, UNIT_6)
    other = create(protocol, other_client, registered_provider, token, UNIT_6)
    escrow.cancel(other, sender=other_client)
    escrow.accept(job, sender=registered_provider)
    protocol.attest(job, units=60)
    protocol.warp(escrow.challengeWindow())
    escrow.settle(job, sender=client)
    net, fee, refund = settle_split(UNIT_6, 60)
    return {client: refund, other_client: 10 * USD, registered_provider: net, treasury: fee}


def test_blocklist_token__client_blocked__its_withdraw_fails_everyone_else_paid(
    reverts, escrow, blocklist_token, blocklist_books, client, governance, books
):
    token = blocklist_token
    token.setBlocked(client, True, sender=governance)

    with reverts(token.Blocked, account=client):
        escrow.withdraw(token, sender=client)

    for account, owed in blocklist_books.items():
        if account != client:
            escrow.withdraw(token, sender=account)
            assert token.balanceOf(account) == owed
    assert escrow.claimable(client, token) == blocklist_books[client]
    assert token.balanceOf(escrow) == blocklist_books[client]
    books(token)

    token.setBlocked(client, False, sender=governance)
    escrow.withdraw(token, sender=client)

    assert token.balanceOf(client) == blocklist_books[client]
    assert token.balanceOf(escrow) == 0
    books(token)


def test_blocklist_token__provider_blocked_before_settle__settle_credits_it_others_paid(
    reverts, protocol, escrow, blocklist_token, client, registered_provider, treasury, governance, books
):
    # Settlement moves no tokens, so a frozen provider cannot stall the client's refund.
    token = blocklist_token
    job = create(protocol, client, registered_provider, token, UNIT_6)
    escrow.accept(job, sender=registered_provider)
    protocol.attest(job, units=60)
    protocol.warp(escrow.challengeWindow())
    token.setBlocked(registered_provider, True, sender=governance)

    escrow.settle(job, sender=client)
    escrow.withdraw(token, sender=client)
    escrow.withdraw(token, sender=treasury)
    with reverts(token.Blocked, account=registered_provider):
        escrow.withdraw(token, sender=registered_provider)

    net, fee, refund = settle_split(UNIT_6, 60)
    assert (token.balanceOf(client), token.balanceOf(treasury)) == (refund, fee)
    assert escrow.claimable(registered_provider, token) == net
    books(token)


def test_blocklist_token__escrow_itself_blocked__all_transfers_stop_nothing_lost(
    reverts, escrow, blocklist_token, blocklist_books, governance, books
):
    # The token's owner can freeze the whole escrow: a token risk the allowlist accepts.
    # Nothing is re-booked meanwhile, and unblocking restores every withdrawal.
    token = blocklist_token
    token.setBlocked(escrow, True, sender=governance)

    for account in blocklist_books:
        with reverts(token.Blocked, account=escrow):
            escrow.withdraw(token, sender=account)
    books(token)

    token.setBlocked(escrow, False, sender=governance)
    for account, owed in blocklist_books.items():
        escrow.withdraw(token, sender=account)
        assert token.balanceOf(account) == owed
    books(token)


def test_blocklist_token__as_staking_token__blocked_treasury_does_not_stop_beneficiary(
    reverts, staking_over, blocklist_token, provider, treasury, relayer, governance
):
    token = blocklist_token
    side = staking_over(token)
    staking = side.staking
    fund(token, provider, MIN_STAKE, staking)
    staking.register("ipfs://p", MIN_STAKE, sender=provider)
    staking.slash(provider, 100 * STAKE, relayer, 1_000, 2**256 - 1, sender=side.slasher)
    token.setBlocked(treasury, True, sender=governance)

    with reverts(token.Blocked, account=treasury):
        staking.claim(sender=treasury)
    staking.claim(sender=relayer)

    assert token.balanceOf(relayer) == 10 * STAKE
    assert staking.claimable(treasury) == 90 * STAKE
    side.books()


# ─────────────────────────────── MockRebasingToken ───────────────────────────────


def test_rebasing_token__factor_rounds_delivery_down__create_job_transfer_amount_mismatch(
    reverts, protocol, escrow, rebasing_token, client, registered_provider, governance, books
):
    # At 3x every transfer moves floor(value / 3) shares: 10 units arrive as 9.
    rebasing_token.rebase(3 * 10**18, sender=governance)
    fund(rebasing_token, client, 30, escrow)

    with reverts(escrow.TransferAmountMismatch, expected=10, received=9):
        protocol.create_job(client, registered_provider, token=rebasing_token, unit_price=1, max_units=10)

    assert escrow.jobCount() == 0
    # A delivery that is exact at this factor goes through and is booked exactly.
    job = protocol.create_job(client, registered_provider, token=rebasing_token, unit_price=1, max_units=9)
    assert escrow.job(job).escrow == rebasing_token.balanceOf(escrow) == 9
    books(rebasing_token)


def test_rebasing_token__negative_rebase__escrow_short_first_withdrawer_paid_last_stuck(
    reverts, protocol, escrow, rebasing_token, client, other_client, registered_provider, governance, everyone, books
):
    token = rebasing_token
    first = create(protocol, client, registered_provider, token, UNIT_18)
    second = create(protocol, other_client, registered_provider, token, UNIT_18)
    escrow.cancel(first, sender=client)
    escrow.cancel(second, sender=other_client)
    books(token)

    token.rebase(10**18 // 2, sender=governance)  # every balance halves

    owed = escrow_liabilities(escrow, token, everyone)
    assert owed["claimable"] == 20 * TOKEN  # the books do not follow the rebase
    assert token.balanceOf(escrow) == 10 * TOKEN  # short by exactly half
    # First come, first served: the client takes the whole remaining balance ...
    escrow.withdraw(token, sender=client)
    assert token.balanceOf(client) == 10 * TOKEN
    assert token.balanceOf(escrow) == 0
    # ... and the last withdrawer cannot be paid; its claimable stays booked.
    with reverts(token.InsufficientBalance, account=escrow, balance=0, needed=10 * TOKEN):
        escrow.withdraw(token, sender=other_client)
    assert escrow.claimable(other_client, token) == 10 * TOKEN
    assert escrow.job(second).status == Status.CANCELLED


def test_rebasing_token__positive_rebase__surplus_stays_unbooked_everyone_paid_nominal(
    protocol, escrow, rebasing_token, client, registered_provider, treasury, governance, everyone
):
    token = rebasing_token
    job = create(protocol, client, registered_provider, token, UNIT_18)
    escrow.accept(job, sender=registered_provider)
    protocol.attest(job, units=60)
    protocol.warp(escrow.challengeWindow())
    escrow.settle(job, sender=client)
    token.rebase(2 * 10**18, sender=governance)

    for account in (client, registered_provider, treasury):
        escrow.withdraw(token, sender=account)

    net, fee, refund = settle_split(UNIT_18, 60)
    assert token.balanceOf(client) == refund  # nominal amounts, not the rebased ones
    assert token.balanceOf(registered_provider) == net
    assert token.balanceOf(treasury) == fee
    assert escrow_liabilities(escrow, token, everyone)["total"] == 0
    assert token.balanceOf(escrow) == 10 * TOKEN  # the rebase gain, owed to nobody


def test_rebasing_token__as_staking_token__negative_rebase_leaves_staking_short(
    reverts, protocol, staking_over, rebasing_token, provider, other_provider, governance
):
    token = rebasing_token
    side = staking_over(token)
    staking = side.staking
    for p in (provider, other_provider):
        fund(token, p, MIN_STAKE, staking)
        staking.register("ipfs://p", MIN_STAKE, sender=p)
        staking.requestUnbond(MIN_STAKE, sender=p)
    side.books()
    token.rebase(10**18 // 2, sender=governance)
    protocol.warp(UNBONDING_DELAY)

    staking.withdrawUnbonded(sender=provider)

    assert token.balanceOf(provider) == MIN_STAKE
    assert token.balanceOf(staking) == 0
    with reverts(token.InsufficientBalance, account=staking, balance=0, needed=MIN_STAKE):
        staking.withdrawUnbonded(sender=other_provider)
    assert staking.providerInfo(other_provider).unbonding == MIN_STAKE
    assert staking.totalUnbonding() == MIN_STAKE


# ─────────────────────────────── MockFeeToken ───────────────────────────────


def test_fee_token__as_staking_token__register_transfer_amount_mismatch_not_registered(
    reverts, staking_over, fee_token, provider
):
    side = staking_over(fee_token)
    staking = side.staking
    fund(fee_token, provider, 3 * MIN_STAKE, staking)

    with reverts(staking.TransferAmountMismatch, expected=MIN_STAKE, received=MIN_STAKE - MIN_STAKE // 100):
        staking.register("ipfs://p", MIN_STAKE, sender=provider)

    assert not staking.isRegistered(provider)
    assert fee_token.balanceOf(staking) == 0
    side.books()


def test_fee_token__batch_create_jobs__transfer_amount_mismatch_no_job(
    reverts, protocol, escrow, fee_token, client, registered_provider, books
):
    fund(fee_token, client, 20 * TOKEN, escrow)
    deadline = protocol.now() + DAY_S
    request = (registered_provider.address, fee_token.address, UNIT_18, MAX_UNITS, deadline, b"\x07" * 32)

    with reverts(escrow.TransferAmountMismatch, expected=20 * TOKEN, received=20 * TOKEN - 20 * TOKEN // 100):
        escrow.createJobs([request, request], sender=client)

    assert escrow.jobCount() == 0
    books(fee_token)
