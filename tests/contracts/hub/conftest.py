"""Fixtures for the AttestationHub tests (signature tools live in tests/support/signatures.py;
`quorum`, `sorted_oracles` and `outsider` are in tests/conftest.py, shared with the
adversarial suite)."""

from __future__ import annotations

import pytest


@pytest.fixture
def attestation(protocol, accepted_job):
    """A success attestation of `accepted_job` for 60 units, valid for an hour."""
    return protocol.attestation(accepted_job, units=60)


@pytest.fixture
def digest(protocol, attestation):
    return protocol.attestation_digest(attestation)
