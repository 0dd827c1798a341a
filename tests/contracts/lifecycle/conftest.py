"""Helpers for whole-job lifecycle tests: a job that stays live in the background, everyone
withdrawing at the end, and exact balance checks in both tokens.

Every lifecycle test starts from zero balances for client, provider and treasury, so the
amounts it asserts are the absolute outcome of one job. A second client's accepted job runs
alongside, so "the contracts hold exactly what is still owed" is checked against a non-zero
amount: that job's escrow and its provider's stake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

USD = 10**6
STAKE = 10**18
ESCROW = 10 * USD  # the default job: 100 units at 0.10 USD
COLLATERAL = 5 * STAKE  # 50% of the escrow's value, in 18-decimal stake tokens
FEE_BPS = 250


@dataclass
class Lifecycle:
    protocol: Any
    client: Any
    provider: Any
    treasury: Any
    background_job: int
    background_client: Any
    background_provider: Any

    def withdraw_everything(self) -> None:
        """Client, provider and treasury take out every balance the protocol owes them, and the
        provider leaves: it unbonds all its stake and withdraws it after the delay."""
        p = self.protocol
        for account in (self.client, self.provider, self.treasury):
            if p.escrow.claimable(account, p.usd) > 0:
                p.escrow.withdraw(p.usd, sender=account)
            if p.staking.claimable(account) > 0:
                p.staking.claim(sender=account)
        info = p.staking.providerInfo(self.provider)
        assert info.locked == 0, "a finished job must not keep collateral locked"
        if info.staked > 0:
            p.staking.requestUnbond(info.staked, sender=self.provider)
            p.warp(p.staking.unbondingDelay())
            p.staking.withdrawUnbonded(sender=self.provider)

    def assert_balances(self, *, usd: dict[Any, int], stake: dict[Any, int]) -> None:
        p = self.protocol
        actual_usd = {a.address: p.usd.balanceOf(a) for a in usd}
        actual_stake = {a.address: p.stake_token.balanceOf(a) for a in stake}
        assert actual_usd == {a.address: v for a, v in usd.items()}
        assert actual_stake == {a.address: v for a, v in stake.items()}

    def assert_contracts_hold_only_what_is_owed(self) -> None:
        """Escrow holds the background job's escrow, staking its provider's stake; nothing else
        is owed to anyone, and every token minted is accounted for."""
        p = self.protocol
        for account in (self.client, self.provider, self.treasury):
            assert p.escrow.claimable(account, p.usd) == 0
            assert p.staking.claimable(account) == 0
        assert p.staking.slashableStake(self.provider) == 0

        background = p.escrow.job(self.background_job)
        assert background.status == 2  # still Accepted
        assert p.usd.balanceOf(p.escrow) == background.escrow == ESCROW
        assert p.stake_token.balanceOf(p.staking) == p.staking.stakeOf(self.background_provider) == 10_000 * STAKE
        assert p.stake_token.balanceOf(p.staking) == (
            p.staking.totalStaked() + p.staking.totalUnbonding() + p.staking.totalClaimable()
        )
        holders = [self.client, self.provider, self.treasury, self.background_client, self.background_provider]
        assert p.usd.totalSupply() == p.usd.balanceOf(p.escrow) + sum(p.usd.balanceOf(a) for a in holders)
        assert p.stake_token.totalSupply() == p.stake_token.balanceOf(p.staking) + sum(
            p.stake_token.balanceOf(a) for a in holders
        )


@pytest.fixture
def lifecycle(protocol, client, provider, treasury, other_client, other_provider):
    for account in (client, provider, treasury):
        assert protocol.usd.balanceOf(account) == 0
        assert protocol.stake_token.balanceOf(account) == 0
    protocol.register(provider, 10_000 * STAKE)
    protocol.register(other_provider, 10_000 * STAKE)
    background_job = protocol.accepted_job(other_client, other_provider)
    return Lifecycle(protocol, client, provider, treasury, background_job, other_client, other_provider)


@pytest.fixture
def job(lifecycle, protocol, client, provider):
    """The job under test: 100 units at 0.10 USD (10 USD escrow), accepted by `provider`."""
    job_id = protocol.accepted_job(client, provider)
    assert protocol.escrow.job(job_id).collateral == COLLATERAL
    return job_id
