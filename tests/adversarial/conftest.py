"""Adversarial suite: hostile tokens, hostile signatures, staking and escrow attacks.

Shared pieces:

- ``assert_books(protocol, tokens, accounts)``: THE accounting check every adversarial test
  ends with (escrow per payment token, staking per its staking token, totals per account);
- hostile-token fixtures (deployed per test, allowlisted by governance);
- the hub suite's signature tools (``quorum``, ``sorted_oracles``, ``outsider``), imported, not
  copied, from tests/contracts/hub/conftest.py.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Iterable

import pytest
from ape import project
from eth_utils import to_checksum_address

from scripts.deploy import collateral_rate
from tests.contracts.hub.conftest import outsider, quorum, sorted_oracles  # noqa: F401  (fixtures)
from tests.contracts.escrow.escrow_helpers import Status  # noqa: F401  (re-exported to the adversarial tests)

USD = 10**6
STAKE = 10**18
DAY = 86_400
HOUR = 3_600
BPS = 10_000
FEE_BPS = 250  # DEFAULT_PARAMS["escrow"]["fee_bps"]
MIN_STAKE = 1_000 * STAKE
UNBONDING_DELAY = 7 * DAY
SPEC_HASH = b"\x07" * 32
MAX_UINT256 = 2**256 - 1




LIVE = (Status.OPEN, Status.ACCEPTED, Status.ATTESTED, Status.DISPUTED)


# ─────────────────────────────── the books ───────────────────────────────


def _address(a: Any) -> str:
    return to_checksum_address(a.address if hasattr(a, "address") else a)


def _unique(accounts: Iterable[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for a in accounts:
        seen.setdefault(_address(a), None)
    return list(seen)


def escrow_liabilities(escrow: Any, token: Any, accounts: Iterable[Any]) -> dict[str, int]:
    """What the escrow owes in `token`: live job escrows, posted dispute bonds, and the
    claimable balances of `accounts` (which must include everyone who can hold one)."""
    token_address = _address(token)
    live = bonds = 0
    for job_id in range(1, escrow.jobCount() + 1):
        job = escrow.job(job_id)
        if job.token != token_address or job.status not in LIVE:
            continue
        live += job.escrow
        bonds += job.disputeBond  # non-zero only while Disputed
    claimable = sum(escrow.claimable(a, token_address) for a in _unique(accounts))
    return {"live": live, "bonds": bonds, "claimable": claimable, "total": live + bonds + claimable}


def staking_liabilities(staking: Any, accounts: Iterable[Any]) -> dict[str, int]:
    """Per-account sums of the staking contract's three buckets, checked against its totals,
    plus `locked <= staked` for every account and, where a shortfall is owed, a downtime jail
    with no free and no unbonding stake."""
    staked = unbonding = claimable = 0
    for a in _unique(accounts):
        info = staking.providerInfo(a)
        assert info.locked <= info.staked, f"{a}: locked {info.locked} > staked {info.staked}"
        assert info.free == info.staked - info.locked
        if info.shortfall:  # an unpaid uptime slash blocks every exit (IProviderStaking)
            assert info.jailedForDowntime and info.free == 0 and info.unbonding == 0, (a, info.shortfall)
        staked += info.staked
        unbonding += info.unbonding
        claimable += staking.claimable(a)
    assert staking.totalStaked() == staked, ("totalStaked", staking.totalStaked(), staked)
    assert staking.totalUnbonding() == unbonding, ("totalUnbonding", staking.totalUnbonding(), unbonding)
    assert staking.totalClaimable() == claimable, ("totalClaimable", staking.totalClaimable(), claimable)
    return {"staked": staked, "unbonding": unbonding, "claimable": claimable, "total": staked + unbonding + claimable}


def assert_books(protocol: Any, tokens: Iterable[Any], accounts: Iterable[Any]) -> None:
    """The accounting invariant, exactly (no surplus, no shortfall):

    - escrow, per payment token in `tokens`: balanceOf(escrow) == Σ escrow of live jobs
      (Open/Accepted/Attested/Disputed) + Σ posted dispute bonds + Σ claimable over `accounts`;
    - staking: totalStaked / totalUnbonding / totalClaimable equal the sums over `accounts`,
      locked <= staked for each, and balanceOf(staking) == the three totals.

    `protocol` is the `protocol` driver or anything with `escrow` and `staking` attributes
    (either may be None to skip it: e.g. a stand-alone ProviderStaking over a hostile token).
    `accounts` must include every holder of a claimable balance or stake (pass contracts that
    act as accounts, such as a re-entrant token, too).
    """
    accounts = _unique(accounts)
    escrow = getattr(protocol, "escrow", None)
    if escrow is not None:
        for token in tokens:
            owed = escrow_liabilities(escrow, token, accounts)
            held = token.balanceOf(escrow.address)
            assert held == owed["total"], f"escrow holds {held} of {_address(token)}, owes {owed}"
    staking = getattr(protocol, "staking", None)
    if staking is not None:
        owed = staking_liabilities(staking, accounts)
        held = project.MockStakeToken.at(staking.stakingToken()).balanceOf(staking.address)
        assert held == owed["total"], f"staking holds {held}, owes {owed}"


#: The accounts that can hold a claimable balance or stake in this suite: treasury (1),
#: client (3), other_client (4), provider (5), other_provider (6), relayer (7), attacker (10)
#: and oracles[0] (17), the driver's default relayer. The books are checked with `==`, so
#: leaving out an account that does hold something fails the check instead of hiding it:
#: the list is kept short for speed without weakening the invariant.
PARTICIPANTS = (1, 3, 4, 5, 6, 7, 10, 17)


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


def allow_token(escrow: Any, governance: Any, token: Any, decimals: int) -> int:
    """Allowlists `token` with the default 50 % collateral rate for its decimals; returns the rate."""
    rate = collateral_rate(decimals, 18, 5_000)
    escrow.setPaymentToken(token.address, True, rate, sender=governance)
    return rate


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


def fund(token: Any, account: Any, amount: int, spender: Any) -> None:
    """Mint `amount` of `token` to `account` and approve `spender` for everything."""
    token.mint(account.address, amount, sender=account)
    token.approve(_address(spender), MAX_UINT256, sender=account)


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
            token.address, governance.address, treasury_address or treasury.address, MIN_STAKE, UNBONDING_DELAY,
            sender=governance,
        )
        staking.grantRole(staking.SLASHER_ROLE(), slasher.address, sender=governance)
        ns = SimpleNamespace(staking=staking, escrow=None, token=token, slasher=slasher)
        ns.books = lambda: assert_books(ns, [], [*everyone, *extra])
        return ns

    return make
