"""Node faults: anvil killed and restarted (state reloaded from --dump-state) mid-session.

Runs last (file name) and without the per-test snapshot: a restarted node has no snapshots,
so these tests change the session node for good.
"""

from decimal import Decimal

import pytest
import requests

from computerails import JobStatus, errors
from tests.support.sdk import CLIENT, nonce_of

pytestmark = pytest.mark.no_snapshot


def _mint(rails, amount):
    token = rails.erc20(rails.deployment.payment_tokens[0])
    return token, rails.send(token.functions.mint(rails.address, amount), "mint")


def _tx_nonce(rails, sent):
    return rails.w3.eth.get_transaction(sent.tx_hash)["nonce"]


def test_restart__between_sends__receipts_kept_and_nonce_sequence_continues(anvil, connect):
    rails = connect(CLIENT)
    token, first = _mint(rails, 7)
    balance = token.functions.balanceOf(rails.address).call()

    anvil.restart()

    assert rails.wait_for_receipt(first.tx_hash, timeout=5)["status"] == 1  # same hash, still known
    _, second = _mint(rails, 7)  # the cached nonce is used: no gap, no reuse
    assert _tx_nonce(rails, second) == _tx_nonce(rails, first) + 1
    assert token.functions.balanceOf(rails.address).call() == balance + 7


def test_send__node_down__rpc_unavailable_nothing_sent_then_effective_once(anvil, connect):
    rails = connect(CLIENT)
    rails.tx.retries = 1  # keep the wait short: web3 retries each request itself too
    token = rails.erc20(rails.deployment.payment_tokens[0])
    balance = token.functions.balanceOf(rails.address).call()
    before = nonce_of(rails)

    anvil.stop()
    try:
        with pytest.raises(errors.RPCUnavailable, match="node unreachable"):
            rails.send(token.functions.mint(rails.address, 11), "mint")
    finally:
        anvil.start(load_state=True)

    assert (nonce_of(rails), token.functions.balanceOf(rails.address).call()) == (before, balance)
    rails.tx.resync()
    _, sent = _mint(rails, 11)
    assert _tx_nonce(rails, sent) == before
    assert token.functions.balanceOf(rails.address).call() == balance + 11


def test_send__node_restarts_after_receiving_tx__retry_same_hash_effective_once(anvil, connect, make_job, monkeypatch):
    rails = connect(CLIENT)
    job = make_job(rails=rails)
    claimable = rails.views.claimable(rails.address)[rails.token()]
    before = nonce_of(rails)
    real = rails.w3.eth.send_raw_transaction
    hashes, refusals = [], []

    def crash_after_first_send(raw):
        try:
            result = real(raw)
        except Exception as exc:
            refusals.append(str(exc))
            raise
        hashes.append("0x" + bytes(result).hex())
        if len(hashes) == 1:
            rails.tx.wait_for_receipt(hashes[0], timeout=5)  # mined and dumped with the state
            anvil.restart()
            raise requests.ConnectionError("connection reset by peer")
        return result

    monkeypatch.setattr(rails.w3.eth, "send_raw_transaction", crash_after_first_send)

    cancelled = rails.client.cancel(job.id)

    assert hashes == [rails.tx.sent[-1].tx_hash]  # the SDK reports the hash it first sent
    assert len(refusals) == 1 and "nonce too low" in refusals[0]  # the re-broadcast of the same bytes
    assert cancelled.status is JobStatus.CANCELLED
    assert nonce_of(rails) == before + 1  # sent once
    assert rails.views.claimable(rails.address)[rails.token()] == claimable + Decimal(10)
    _, after = _mint(rails, 1)
    assert _tx_nonce(rails, after) == before + 1
