"""Fixtures for the RewardsDistributor tests: one distributor per session on the session's hub
(its oracle quorum signs roots), funded with a reserve; Ape reverts each test's changes."""

from __future__ import annotations

import pytest

from tests.support.rewards import STAKE, RewardsDesk, deploy_rewards

RESERVE = 1_000_000 * STAKE


@pytest.fixture(scope="session")
def distributor(project, governance, hub, stake_token, chain):
    d = deploy_rewards(project, governance, hub, stake_token, genesis=chain.pending_timestamp)
    stake_token.mint(governance.address, RESERVE, sender=governance)
    stake_token.approve(d.address, RESERVE, sender=governance)
    d.fund(RESERVE, sender=governance)
    return d


@pytest.fixture(scope="session")
def desk(distributor, protocol, chain):
    return RewardsDesk(distributor, protocol, chain)
