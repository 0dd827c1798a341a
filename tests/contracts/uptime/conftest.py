"""Fixtures for the UptimeSlasher tests. Reports go through the AttestationHub with a real
oracle quorum (`protocol.report_uptime`); time moves with `protocol.finish_epoch()`."""

from __future__ import annotations

import pytest

from tests.contracts.staking.staking_support import assert_books


@pytest.fixture
def check_books(accounts, staking, stake_token):
    """Call it to assert the staking contract's books (see `assert_books`)."""
    return lambda: assert_books(staking, stake_token, accounts)
