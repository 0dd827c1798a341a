"""Two steps of Ape's in-process EVM stack that cost much and do nothing for these tests, turned
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

Measured on ``tests/contracts``, ``tests/adversarial`` and ``tests/stateful`` (775 tests, two
workers): 158 s before, 105 s after.
"""

from __future__ import annotations

import weakref
from typing import Any

import ape_ethereum.provider
import web3.providers.eth_tester.middleware as tester_middleware

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


def skip_idle_work() -> None:
    """Turn both steps off for this process (idempotent)."""
    ape_ethereum.provider._post_send_transaction = _skip_debug_logs
    tester_middleware.guess_from = _guess_from
