"""Fixtures for the ProviderStaking tests.

The protocol's escrow and uptime slasher normally hold SLASHER_ROLE and COLLATERAL_MANAGER_ROLE.
To drive `slash`, `lockCollateral` and `releaseCollateral` directly, governance grants those
roles to plain test accounts here (each test runs in its own snapshot, so grants never leak).
"""

from __future__ import annotations

import pytest

from tests.support.staking import assert_books
from tests.support.views import fast


@pytest.fixture
def slasher_account(accounts, staking, governance):
    """A test account holding SLASHER_ROLE, standing in for the escrow / uptime slasher."""
    account = accounts[8]
    staking.grantRole(staking.SLASHER_ROLE(), account.address, sender=governance)
    return account


@pytest.fixture
def collateral_manager(accounts, staking, governance):
    """A test account holding COLLATERAL_MANAGER_ROLE, standing in for the escrow."""
    account = accounts[9]
    staking.grantRole(staking.COLLATERAL_MANAGER_ROLE(), account.address, sender=governance)
    return account


@pytest.fixture(scope="session")
def beneficiary(accounts):
    """Receives the beneficiary share of direct slashes (a job's client in production)."""
    return accounts[11]


@pytest.fixture
def check_books(accounts, staking, stake_token):
    """Call it to assert the staking contract's books: see `assert_books`."""
    return lambda: assert_books(staking, stake_token, accounts)


@pytest.fixture
def snapshot_provider(staking):
    """Returns a comparable snapshot of everything the staking contract holds about an account,
    plus the global totals: use it to assert that a reverted call changed nothing."""

    views = fast(staking)

    def snap(account) -> tuple:
        return (
            tuple(views.providerInfo(account)),
            views.claimable(account),
            views.totalStaked(),
            views.totalUnbonding(),
            views.totalClaimable(),
        )

    return snap
