"""Adversarial suite: hostile tokens, hostile signatures, staking and escrow attacks.

Shared pieces:

- ``assert_books(protocol, tokens, accounts)``: THE accounting check every adversarial test
  ends with (escrow per payment token, staking per its staking token, totals per account);
- hostile-token fixtures (deployed per test, allowlisted by governance);
- the signature tools (``quorum``, ``sorted_oracles``, ``outsider``) come from tests/conftest.py;
  helpers (``assert_books``, constants, ``allow_token``, ``fund``) from tests/support/books.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ape import project

from tests.support.books import MIN_STAKE, PARTICIPANTS, UNBONDING_DELAY, allow_token, assert_books


@pytest.fixture(scope="session")
def everyone(accounts):
    return [accounts[i] for i in PARTICIPANTS]


@pytest.fixture
def books(protocol, usd, everyone):
    """``books(*extra_tokens, extra_accounts=())``: assert_books on the session protocol for
    USD plus `extra_tokens`, over every test account plus `extra_accounts`."""

    def check(*extra_tokens, extra_accounts=()):
        assert_books(protocol, [usd, *extra_tokens], [*everyone, *extra_accounts])

    return check


# ─────────────────────────────── hostile tokens ───────────────────────────────


@pytest.fixture
def false_token(escrow, governance):
    token = project.MockFalseToken.deploy(sender=governance)
    allow_token(escrow, governance, token, 18)
    return token


@pytest.fixture
def no_return_token(escrow, governance):
    token = project.MockNoReturnToken.deploy(sender=governance)
    allow_token(escrow, governance, token, 6)
    return token


@pytest.fixture
def reentrant_token(escrow, governance):
    token = project.MockReentrantToken.deploy(sender=governance)
    allow_token(escrow, governance, token, 18)
    return token


@pytest.fixture
def blocklist_token(escrow, governance):
    token = project.MockBlocklistToken.deploy(governance.address, sender=governance)
    allow_token(escrow, governance, token, 6)
    return token


@pytest.fixture
def rebasing_token(escrow, governance):
    token = project.MockRebasingToken.deploy(governance.address, sender=governance)
    allow_token(escrow, governance, token, 18)
    return token


@pytest.fixture
def fee_token(escrow, governance):
    token = project.MockFeeToken.deploy(sender=governance)
    allow_token(escrow, governance, token, 18)
    return token


@pytest.fixture
def staking_over(accounts, governance, treasury, everyone):
    """``staking_over(token, treasury=...)``: a stand-alone ProviderStaking whose staking token
    is `token` (default parameters), with governance as admin and `slasher` — a plain test
    account (accounts[8]) holding SLASHER_ROLE — to slash directly. Returns a namespace with
    `staking`, `token`, `slasher` and `books()` (assert_books over every test account plus
    `extra`)."""
    slasher = accounts[8]

    def make(token, *, treasury_address=None, extra=()):
        staking = project.ProviderStaking.deploy(
            token.address,
            governance.address,
            treasury_address or treasury.address,
            MIN_STAKE,
            UNBONDING_DELAY,
            sender=governance,
        )
        staking.grantRole(staking.SLASHER_ROLE(), slasher.address, sender=governance)
        ns = SimpleNamespace(staking=staking, escrow=None, token=token, slasher=slasher)
        ns.books = lambda: assert_books(ns, [], [*everyone, *extra])
        return ns

    return make
