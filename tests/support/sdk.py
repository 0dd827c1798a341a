"""Helpers of the SDK suites (tests/sdk): the roles of the test mnemonic's accounts, time
moves on the anvil, and checks that nothing was sent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from web3 import Web3

# Roles of the test mnemonic's accounts, as computerails.devnet assigns them on local networks.
GOVERNANCE, TREASURY = 0, 1
CLIENT, OTHER_CLIENT, PROVIDER, OTHER_PROVIDER, RELAYER = 3, 4, 5, 6, 7
ORACLES = (17, 18, 19)

SPEC = b"\x01" * 32
RESULT = b"\x02" * 32
#: The env var the CLI tests pass a dev key in (--private-key-env).
KEY_VAR = "CR_TEST_KEY"
FIRST_STAKE = Decimal(2_000)


def warp(w3: Web3, seconds: int) -> None:
    w3.provider.make_request("evm_increaseTime", [seconds])
    w3.provider.make_request("evm_mine", [])


def warp_to(w3: Web3, timestamp: int) -> None:
    """Mine a block at exactly `timestamp` (a relative warp can land a second later when the
    node's wall clock ticks between the read and the warp)."""
    w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    w3.provider.make_request("evm_mine", [])


def finish_sla_epoch(w3: Web3, rails: Any) -> int:
    """Move to the end of the epoch after the current one and return that epoch: it started
    after every registration so far, so every registered provider was under the SLA in it."""
    epoch = rails.views.current_epoch() + 1
    w3.provider.make_request("evm_setNextBlockTimestamp", [rails.slasher.functions.epochEnd(epoch).call()])
    w3.provider.make_request("evm_mine", [])
    return epoch


def nonce_of(rails: Any) -> int:
    """The account's mined transaction count: unchanged means nothing was sent."""
    return rails.w3.eth.get_transaction_count(rails.address)


@contextmanager
def raises_unsent(rails: Any, exc_type: type[BaseException], match: str | None = None) -> Iterator[Any]:
    """Expect `exc_type` and assert the account sent no transaction meanwhile."""
    before = nonce_of(rails)
    with pytest.raises(exc_type, match=match) as info:
        yield info
    assert nonce_of(rails) == before
