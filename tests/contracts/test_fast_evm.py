"""tests/support/fast_evm.py's snapshot revert leaves the in-process chain as eth-tester's own
revert does: the same head, the same pending block built on it, the same state, and the chain
goes on from there."""

from __future__ import annotations

import pytest
from eth_tester.backends.pyevm.main import PyEVMBackend

from tests.support import fast_evm


def _pending(backend: PyEVMBackend) -> dict[str, object]:
    """The pending header's fields, less its timestamp (read from the wall clock)."""
    header = backend.chain.header
    return {
        "parent_hash": header.parent_hash,
        "block_number": header.block_number,
        "state_root": header.state_root,
        "gas_limit": header.gas_limit,
        "base_fee_per_gas": header.base_fee_per_gas,
        "canonical_head": backend.chain.get_canonical_head().hash,
    }


@pytest.fixture
def backend(chain) -> PyEVMBackend:
    return chain.provider.evm_backend


def test_revert__after_two_blocks__same_head_pending_header_and_state_as_eth_testers_own(backend, chain, accounts):
    assert PyEVMBackend.revert_to_snapshot is fast_evm._revert_to_snapshot
    sender, receiver = accounts[11], accounts[12]
    sender.transfer(receiver, 1)  # a snapshot past genesis (eth-tester rebuilds genesis otherwise)
    snapshot = chain.snapshot()
    assert chain.blocks.height > 0
    before = (chain.blocks.height, sender.nonce, receiver.balance)
    sender.transfer(receiver, 10**18)
    sender.transfer(receiver, 10**18)
    assert chain.blocks.height == before[0] + 2

    chain.restore(snapshot)
    patched = _pending(backend)
    assert (chain.blocks.height, sender.nonce, receiver.balance) == before
    assert patched["canonical_head"] == snapshot

    # eth-tester's own revert from the same point: the same canonical head and pending block
    original = fast_evm._original_revert_to_snapshot
    sender.transfer(receiver, 10**18)
    original(backend, snapshot)
    assert _pending(backend) == patched

    # and the chain goes on from there: a transaction mines at the next height
    sender.transfer(receiver, 3)
    assert chain.blocks.height == before[0] + 1
    assert receiver.balance == before[2] + 3
    assert sender.nonce == before[1] + 1
