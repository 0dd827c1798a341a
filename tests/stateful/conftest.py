"""Fixtures for the stateful suite: one harness anvil per worker process, deployed, wired and
funded once (tests/stateful/harness.py)."""

import pytest

from tests.stateful.harness import build_world, harness_anvil


@pytest.fixture(scope="session")
def world():
    with harness_anvil() as node:
        yield build_world(node.url)
