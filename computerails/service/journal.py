"""Settle a journalled transaction after a crash or a restart: a daemon records each transaction
it signs (hash, nonce, raw bytes) before broadcasting it (``TxManager.before_broadcast``), and
later asks :func:`resolve` what became of it. Nothing is ever signed twice for one intent: a
transaction the node forgot is broadcast again from its journalled bytes, and one whose nonce
another transaction used is reported dropped."""

from __future__ import annotations

import logging
from typing import Any

from web3 import Web3
from web3.exceptions import TimeExhausted, TransactionNotFound, Web3RPCError

log = logging.getLogger("computerails.service")

#: :func:`resolve`'s answer for a transaction that can never be mined (its nonce is used).
DROPPED = "dropped"


def receipt_of(w3: Web3, tx_hash: str) -> Any:
    """The transaction's receipt, or None while it is not mined."""
    try:
        return w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        return None


def resolve(w3: Web3, tx_hash: str, raw: bytes, *, timeout: float, what: str = "transaction") -> Any:
    """What became of a journalled transaction: its receipt once mined; ``DROPPED`` when its
    nonce was used by another; None when it is still unmined after `timeout` seconds (ask again
    later). A transaction the node does not hold is broadcast again from `raw` first."""
    receipt = receipt_of(w3, tx_hash)
    if receipt is not None:
        return receipt
    try:
        w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        if not rebroadcast(w3, tx_hash, raw, what):
            return DROPPED
    try:
        return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.05)  # type: ignore[arg-type]
    except TimeExhausted:
        log.warning("%s %s still unmined after %ss", what, tx_hash, timeout)
        return None


def rebroadcast(w3: Web3, tx_hash: str, raw: bytes, what: str = "transaction") -> bool:
    """Broadcast journalled bytes again (the node forgot them, or they were never sent).

    Returns:
        False when their nonce is used by another transaction: this one can never be mined.
    """
    try:
        w3.eth.send_raw_transaction(raw)
    except Web3RPCError as exc:
        message = str(exc).lower()
        if "nonce too low" in message and receipt_of(w3, tx_hash) is None:
            log.warning("%s %s dropped: its nonce is used", what, tx_hash)
            return False
        if "already known" not in message and "nonce too low" not in message:
            raise
    log.info("%s %s broadcast again from the journal", what, tx_hash)
    return True


def gas_cost(receipt: Any) -> int:
    """Wei a mined transaction paid: gas used times the effective gas price."""
    return int(receipt["gasUsed"]) * int(receipt.get("effectiveGasPrice", 0))
