"""Constants and assertions shared by the ProviderStaking and UptimeSlasher tests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tests.support.protocol import STAKE
from tests.support.views import fast

ZERO_ADDRESS = "0x" + "00" * 20
MAX_UINT120 = 2**120 - 1
MAX_UINT256 = 2**256 - 1
BPS = 10_000
DAY = 86_400
MIN_STAKE = 1_000 * STAKE  # DEFAULT_PARAMS["staking"]["min_stake"]
UNBONDING_DELAY = 7 * DAY  # DEFAULT_PARAMS["staking"]["unbonding_delay"]
PROVIDER_STAKE = 10_000 * STAKE  # what the `registered_provider` fixture stakes


def assert_books(staking: Any, stake_token: Any, accounts: Iterable[Any]) -> None:
    """The staking contract's accounting, checked against the sum over `accounts` (every test
    account: nobody else stakes or receives slash proceeds in these tests):

    - totalStaked / totalUnbonding / totalClaimable equal the per-account sums,
    - the contract holds exactly staked + unbonding + claimable tokens (no donations here),
    - every provider has locked <= staked and free == staked - locked,
    - a shortfall only with a downtime jail and no free or unbonding stake (it blocks exits).
    """
    staking, stake_token = fast(staking), fast(stake_token)
    staked = unbonding = claimable = 0
    for account in accounts:
        info = staking.providerInfo(account)
        assert info.locked <= info.staked, f"locked > staked for {account}"
        assert info.free == info.staked - info.locked
        if info.shortfall:
            assert info.jailedForDowntime and info.free == 0 and info.unbonding == 0, account
        staked += info.staked
        unbonding += info.unbonding
        claimable += staking.claimable(account)
    assert staking.totalStaked() == staked
    assert staking.totalUnbonding() == unbonding
    assert staking.totalClaimable() == claimable
    assert stake_token.balanceOf(staking.address) == staked + unbonding + claimable
