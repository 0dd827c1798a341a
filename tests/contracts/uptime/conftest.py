"""Fixtures for the UptimeSlasher tests. Reports go through the AttestationHub with a real
oracle quorum (`protocol.report_uptime`); time moves with `protocol.finish_epoch()`."""

from __future__ import annotations

import pytest

from tests.support.protocol import STAKE
from tests.support.staking import assert_books


@pytest.fixture
def check_books(accounts, staking, stake_token):
    """Call it to assert the staking contract's books (see `assert_books`)."""
    return lambda: assert_books(staking, stake_token, accounts)


@pytest.fixture
def registered_provider(protocol, provider):
    """`provider`, registered with 10,000 stake tokens, at the start of the first epoch it is
    under the SLA for (registration starts the SLA from the next epoch)."""
    protocol.register(provider, 10_000 * STAKE)
    protocol.warp_past_sla_start(provider)
    return provider
