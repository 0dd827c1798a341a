"""Fixtures for the JobEscrow tests, on top of tests/conftest.py."""

from __future__ import annotations

import pytest

from tests.support.escrow import BOND, COLLATERAL_RATE, STAKE, snapshot


@pytest.fixture
def registered_other_provider(protocol, other_provider):
    protocol.register(other_provider, 10_000 * STAKE)
    return other_provider


@pytest.fixture
def second_usd(project, escrow, governance):
    """A second 6-decimal payment token, allowlisted with id 1."""
    token = project.MockUSD.deploy(sender=governance)
    escrow.setPaymentToken(token.address, True, COLLATERAL_RATE, sender=governance)
    return token


@pytest.fixture
def fee_token(project, escrow, governance):
    """An allowlisted fee-on-transfer token (1% burnt per transfer)."""
    token = project.MockFeeToken.deploy(sender=governance)
    escrow.setPaymentToken(token.address, True, COLLATERAL_RATE, sender=governance)
    return token


@pytest.fixture
def disputed_job(protocol, escrow, usd, client, attested_job):
    """`attested_job` (60 of 100 units), disputed by the client with the 1 USD bond."""
    usd.mint(client, BOND, sender=client)
    escrow.dispute(attested_job, sender=client)
    return attested_job


@pytest.fixture
def parties(client, other_client, provider, other_provider, treasury, attacker, relayer):
    return [client, other_client, provider, other_provider, treasury, attacker, relayer]


@pytest.fixture
def state(escrow, usd, parties):
    """state(*job_ids): a snapshot of USD balances, claimables, the given jobs and the job count."""

    def take(*job_ids, tokens=None, accounts=None):
        return snapshot(escrow, tokens or [usd], accounts or parties, list(job_ids))

    return take
