"""Fixtures for the MeteredEscrow tests, on top of tests/conftest.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from eth_account import Account
from eth_utils import keccak

from tests.support.metered import STAKE, USD, deploy_metered, sign_proof, sign_voucher, voucher


@pytest.fixture(scope="session")
def metered(project, governance, treasury, staking, hub, usd):
    """A MeteredEscrow on the session's ProviderStaking and AttestationHub (its oracles sign fraud
    attestations) with USD allowlisted, governance holding every role."""
    return deploy_metered(project, governance, treasury, staking, hub, usd)


@pytest.fixture(scope="module", autouse=True)
def staked_providers(protocol, metered, provider, other_provider):
    """`provider` and `other_provider` registered with 1,000,000 stake tokens each, enough to back
    every collection in these suites (module scope: Ape reverts it after each module, so other
    suites see them unregistered)."""
    for account in (provider, other_provider):
        protocol.register(account, 1_000_000 * STAKE)


@pytest.fixture(scope="session")
def hot_key():
    """A gateway's hot signer key (not a test account: it never sends transactions)."""
    key = keccak(text="computerails metered hot signer")
    return SimpleNamespace(address=Account.from_key(key).address, private_key=key)


@pytest.fixture(scope="session")
def other_hot_key():
    key = keccak(text="computerails metered other hot signer")
    return SimpleNamespace(address=Account.from_key(key).address, private_key=key)


@pytest.fixture
def fund(metered, usd):
    """fund(payer, provider, amount): mints, approves and deposits."""

    def go(payer, provider, amount=100 * USD, token=None):
        token = token or usd
        token.mint(payer, amount, sender=payer)
        token.approve(metered, amount, sender=payer)
        return metered.deposit(provider, token, amount, sender=payer)

    return go


@pytest.fixture
def funded(fund, client, provider):
    """`client` has 100 USD escrowed for `provider`."""
    fund(client, provider)
    return client


@pytest.fixture
def authorize(metered, chain):
    """authorize(payer, key): the key consents and the payer authorizes it."""

    def go(payer, key, deadline=None):
        deadline = deadline or chain.pending_timestamp + 3_600
        proof = sign_proof(metered, chain.chain_id, payer, key.private_key, deadline)
        return metered.authorizeSigner(key.address, deadline, proof, sender=payer)

    return go


@pytest.fixture
def make_voucher(metered, chain, usd):
    """make_voucher(payer, provider, key=payer, **fields) -> (Voucher, signature)."""

    def go(payer, provider, key=None, token=None, **fields):
        v = voucher(payer, provider, token or usd, **fields)
        signer = key or payer
        return v, sign_voucher(metered, chain.chain_id, v, signer.private_key)

    return go
