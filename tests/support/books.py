"""The accounting check every adversarial test ends with, the adversarial suite's constants,
and token helpers (allowlist a token, fund an account)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ape import project
from eth_utils import to_checksum_address

from computerails.devnet import collateral_rate
from tests.support.escrow import Status
from tests.support.views import fast

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
    escrow = fast(escrow)
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
    staking = fast(staking)
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
            held = fast(token).balanceOf(escrow.address)
            assert held == owed["total"], f"escrow holds {held} of {_address(token)}, owes {owed}"
    staking = getattr(protocol, "staking", None)
    if staking is not None:
        owed = staking_liabilities(staking, accounts)
        held = fast(project.MockStakeToken.at(fast(staking).stakingToken())).balanceOf(staking.address)
        assert held == owed["total"], f"staking holds {held}, owes {owed}"


#: The accounts that can hold a claimable balance or stake in this suite: treasury (1),
#: client (3), other_client (4), provider (5), other_provider (6), relayer (7), attacker (10)
#: and oracles[0] (17), the driver's default relayer. The books are checked with `==`, so
#: leaving out an account that does hold something fails the check instead of hiding it:
#: the list is kept short for speed without weakening the invariant.
PARTICIPANTS = (1, 3, 4, 5, 6, 7, 10, 17)


def allow_token(escrow: Any, governance: Any, token: Any, decimals: int) -> int:
    """Allowlists `token` with the default 50 % collateral rate for its decimals; returns the rate."""
    rate = collateral_rate(decimals, 18, 5_000)
    escrow.setPaymentToken(token.address, True, rate, sender=governance)
    return rate


def fund(token: Any, account: Any, amount: int, spender: Any) -> None:
    """Mint `amount` of `token` to `account` and approve `spender` for everything."""
    token.mint(account.address, amount, sender=account)
    token.approve(_address(spender), MAX_UINT256, sender=account)
