"""Three steps of Ape's in-process EVM stack that cost much and do nothing for these tests, turned
off for the test session (:func:`skip_idle_work`, called by ``tests/conftest.py``).

- **Ape traces every transaction after sending it**, to print Hardhat ``console.log`` lines
  (``ape_ethereum.provider._post_send_transaction``; no setting turns it off). No contract here
  logs that way, and on the in-process EVM the trace runs the transaction again: a third of a
  transaction-heavy test's time. A test that wants a trace still asks the receipt for one
  (``receipt.trace``), and a revert is decoded as before (it raises before that step).
- **web3's eth-tester middleware fills a view call's missing ``from``** by asking the node for
  its accounts three times per call (``web3.providers.eth_tester.middleware.guess_from``), each
  answer formatted address by address: a tenth of a view-heavy test's time. The accounts of a
  provider never change, so its first account is asked for once.
- **eth-tester reverts to a snapshot by importing the snapshot's block again**
  (``PyEVMBackend.revert_to_snapshot``): it makes that block the canonical head, then executes
  its transactions a second time only so that the mining chain's pending header is built on it.
  The block and its state are in the database already, so the pending header is built on the
  head directly (what ``MiningChain.import_block`` ends with). Ape reverts before every test:
  about a tenth of a contract suite's time.

Measured on ``tests/contracts``, ``tests/adversarial`` and ``tests/stateful`` (775 tests, two
workers): 158 s before the first two, 105 s after; the third took ``tests/contracts`` and
``tests/adversarial`` (778 tests, two workers) from 243 to 220 busy core-seconds.
"""

from __future__ import annotations

import weakref
from typing import Any

import ape_ethereum.provider
import web3.providers.eth_tester.middleware as tester_middleware
from eth.constants import GENESIS_PARENT_HASH
from eth_tester.backends.pyevm.main import PyEVMBackend

#: A provider's first account (None when it has none), asked for once per provider.
_first_account: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _skip_debug_logs(_tx: Any, _receipt: Any) -> None:
    """Ape's post-send step without the console.log trace."""


def _guess_from(w3: Any, _transaction: Any) -> Any:
    """web3's ``guess_from`` (the node's first account) with the answer kept per provider."""
    provider = w3.provider
    if provider not in _first_account:
        accounts = w3.eth.accounts
        _first_account[provider] = accounts[0] if accounts else None
    return _first_account[provider]


#: eth-tester's own revert (tests/contracts/test_fast_evm.py compares the two).
_original_revert_to_snapshot = PyEVMBackend.revert_to_snapshot


def _revert_to_snapshot(backend: Any, snapshot: Any) -> None:
    """eth-tester's revert without executing the snapshot's block again."""
    chain = backend.chain
    block = chain.get_block_by_hash(snapshot)
    chain.chaindb._set_as_canonical_chain_head(chain.chaindb.db, block.header, GENESIS_PARENT_HASH)
    if block.number > 0:
        chain.header = chain.ensure_header()
    else:
        backend.chain = chain.from_genesis_header(chain.chaindb.db, block.header)


def skip_idle_work() -> None:
    """Turn the three steps off for this process (idempotent)."""
    ape_ethereum.provider._post_send_transaction = _skip_debug_logs
    tester_middleware.guess_from = _guess_from
    PyEVMBackend.revert_to_snapshot = _revert_to_snapshot
