"""TxManager and a node that drops transactions (pool eviction, a restart without state).

Anvil runs with automine off. What the node does after each broadcast is scripted through
the connection's ``send_raw_transaction``: evict the transaction (``anvil_dropTransaction``,
which also drops the account's later ones, as pools do), put a conflicting transaction with
the same nonce in its place, answer "underpriced", or mine. The manager waits 0.2 s for a
receipt before it asks the node; nothing here asserts how long anything took.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest
import requests
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound, Web3RPCError

from computerails import errors
from computerails.tx import bumped
from tests.support.sdk import CLIENT, nonce_of

TIMEOUT = 0.2  # seconds a send waits for a receipt before it asks the node about the transaction
UNDERPRICED = "{'code': -32003, 'message': 'replacement transaction underpriced'}"

Step = Callable[[Callable[[Any], Any], bytes, str], Any]


def rpc(w3, method: str, *params: Any) -> Any:
    response = w3.provider.make_request(method, list(params))
    assert "error" not in response, response
    return response["result"]


class Node:
    """The node as one connection's broadcasts meet it. Each broadcast runs the next scripted
    step (``step(send, raw, tx_hash)``; by default it is simply delivered), and every attempt
    is recorded with what the node answered."""

    def __init__(self, rails, monkeypatch, *steps: Step) -> None:
        self.steps = list(steps)
        self.attempts: list[tuple[str, str]] = []  # (tx hash, "accepted" or the node's refusal)
        self.raws: list[bytes] = []
        real = rails.w3.eth.send_raw_transaction

        def send_raw_transaction(raw: Any) -> HexBytes:
            raw = bytes(raw)
            tx_hash = "0x" + keccak(raw).hex()
            step = self.steps.pop(0) if self.steps else deliver
            self.raws.append(raw)
            try:
                result = step(real, raw, tx_hash)
            except Web3RPCError as exc:
                self.attempts.append((tx_hash, str(exc)))
                raise
            self.attempts.append((tx_hash, "accepted"))
            return result

        monkeypatch.setattr(rails.w3.eth, "send_raw_transaction", send_raw_transaction)

    @property
    def accepted(self) -> list[str]:
        return [h for h, answer in self.attempts if answer == "accepted"]


def deliver(send: Callable[[Any], Any], raw: bytes, tx_hash: str) -> Any:
    return send(raw)


def deliver_then(action: Callable[[str], None]) -> Step:
    """The node takes the transaction, then `action(tx_hash)` happens to it."""

    def step(send: Callable[[Any], Any], raw: bytes, tx_hash: str) -> Any:
        result = send(raw)
        action(tx_hash)
        return result

    return step


def deliver_but_answer(message: str) -> Step:
    """The node takes the transaction but answers with an error (a lying or confused node)."""

    def step(send: Callable[[Any], Any], raw: bytes, tx_hash: str) -> Any:
        send(raw)
        raise Web3RPCError(message)

    return step


def refuse(message: str) -> Step:
    """The node refuses the transaction with `message` and keeps nothing."""

    def step(send: Callable[[Any], Any], raw: bytes, tx_hash: str) -> Any:
        raise Web3RPCError(message)

    return step


def lose_then(action: Callable[[str], None]) -> Step:
    """The node answers with the hash but never keeps the transaction; then `action(tx_hash)`."""

    def step(send: Callable[[Any], Any], raw: bytes, tx_hash: str) -> Any:
        action(tx_hash)
        return HexBytes(tx_hash)

    return step


@pytest.fixture
def rails(connect, manual_mining):
    return connect(CLIENT, timeout=TIMEOUT)


@pytest.fixture
def token(rails):
    return rails.erc20(rails.deployment.payment_tokens[0])


def mint(rails, token, amount: int):
    return rails.send(token.functions.mint(rails.address, amount), "mint")


def balance(rails, token) -> int:
    return token.functions.balanceOf(rails.address).call()


def block_of(w3, tx_hash: str) -> list[str]:
    """The hashes of the transactions in the block that holds `tx_hash`."""
    number = w3.eth.get_transaction_receipt(tx_hash)["blockNumber"]
    return ["0x" + bytes(h).hex() for h in w3.eth.get_block(number)["transactions"]]


def pool(w3) -> list[str]:
    return ["0x" + bytes(h).hex() for h in w3.eth.get_block("pending")["transactions"]]


def nonce_in_tx(w3, tx_hash: str) -> int:
    return int(w3.eth.get_transaction(tx_hash)["nonce"])


def sign_other(rails, nonce: int, max_fee: int, priority: int):
    """Another wallet holding the same key signs a plain transfer with `nonce`."""
    return rails.account.sign_transaction(
        {
            "type": 2,
            "chainId": 31337,
            "nonce": nonce,
            "to": rails.address,
            "value": 0,
            "gas": 21_000,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": priority,
        }
    )


def fields(raw: bytes) -> dict[str, Any]:
    """The fields of a signed EIP-1559 transaction."""
    return TypedTransaction.from_bytes(HexBytes(raw)).as_dict()


def test_bumped__replacement_rule__at_least_12_5_percent_and_a_wei():
    assert [bumped(fee) for fee in (0, 1, 8, 9, 10**9)] == [1, 2, 9, 11, 1_125_000_000]


def test_send__node_drops_transaction__rebroadcast_same_nonce_once(w3, rails, token, monkeypatch):
    before, funds = nonce_of(rails), balance(rails, token)
    node = Node(
        rails,
        monkeypatch,
        deliver_then(lambda h: rpc(w3, "anvil_dropTransaction", h)),  # evicted right after it arrives
        deliver_then(lambda h: rpc(w3, "evm_mine")),
    )  # the second broadcast is mined

    sent = mint(rails, token, 5)

    assert node.accepted == [sent.tx_hash, sent.tx_hash]
    assert node.raws[0] == node.raws[1]  # the same signed bytes, not a new signature
    assert block_of(w3, sent.tx_hash) == [sent.tx_hash]
    assert nonce_in_tx(w3, sent.tx_hash) == before
    assert nonce_of(rails) == w3.eth.get_transaction_count(rails.address, "pending") == before + 1
    assert balance(rails, token) == funds + 5  # minted once
    assert rails.tx.in_flight == {}


def test_send__node_drops_all_transactions__both_rebroadcast_in_nonce_order_once(w3, rails, token, monkeypatch):
    before, funds = nonce_of(rails), balance(rails, token)
    with pytest.raises(errors.TransactionTimeout) as first:  # in the pool, and nothing mines
        mint(rails, token, 3)
    with pytest.raises(errors.TransactionTimeout) as second:
        mint(rails, token, 4)
    a, b = first.value.tx_hash, second.value.tx_hash
    assert pool(w3) == [a, b] and rails.tx.in_flight == {before: (a,), before + 1: (b,)}

    rpc(w3, "anvil_dropAllTransactions")
    assert pool(w3) == []
    node = Node(rails, monkeypatch, deliver, deliver_then(lambda h: rpc(w3, "evm_mine")))

    receipt = rails.wait_for_receipt(b)  # waiting on the later one puts the earlier one back first

    assert node.accepted == [a, b]
    assert rails.wait_for_receipt(a)["blockNumber"] == receipt["blockNumber"]
    assert block_of(w3, b) == [a, b]
    assert [nonce_in_tx(w3, h) for h in (a, b)] == [before, before + 1]
    assert nonce_of(rails) == before + 2
    assert balance(rails, token) == funds + 7
    assert rails.tx.in_flight == {}


def test_send__after_node_dropped_earlier_tx__later_send_not_stuck_behind_gap(w3, rails, token, monkeypatch):
    before, funds = nonce_of(rails), balance(rails, token)
    with pytest.raises(errors.TransactionTimeout) as first:
        mint(rails, token, 3)
    a = first.value.tx_hash
    rpc(w3, "anvil_dropTransaction", a)  # nonce `before` is now a gap below the next send
    node = Node(rails, monkeypatch, deliver, deliver_then(lambda h: rpc(w3, "evm_mine")))

    later = mint(rails, token, 4)  # queued behind the gap until the manager puts the first one back

    assert node.accepted == [later.tx_hash, a]
    assert block_of(w3, later.tx_hash) == [a, later.tx_hash]
    assert [nonce_in_tx(w3, h) for h in (a, later.tx_hash)] == [before, before + 1]
    assert rails.wait_for_receipt(a)["status"] == 1
    assert nonce_of(rails) == before + 2
    assert balance(rails, token) == funds + 7


def test_send__rebroadcast_refused_underpriced__fee_bump_same_nonce_one_mined(w3, rails, token, monkeypatch):
    before, funds = nonce_of(rails), balance(rails, token)
    squatter = {}

    def evict_and_take_the_nonce(tx_hash: str) -> None:
        original = w3.eth.get_transaction(tx_hash)
        rpc(w3, "anvil_dropTransaction", tx_hash)
        # Another wallet holding the same key sends something else with that nonce and the same fees.
        other = sign_other(rails, original["nonce"], original["maxFeePerGas"], original["maxPriorityFeePerGas"])
        squatter["hash"] = "0x" + bytes(w3.eth.send_raw_transaction(other.raw_transaction)).hex()
        squatter["fees"] = (original["maxFeePerGas"], original["maxPriorityFeePerGas"])

    node = Node(
        rails, monkeypatch, deliver_then(evict_and_take_the_nonce), deliver, deliver_then(lambda h: rpc(w3, "evm_mine"))
    )

    sent = mint(rails, token, 5)

    (original, _), (again, refusal), (replacement, accepted) = node.attempts
    assert again == original and "replacement transaction underpriced" in refusal  # the same bytes, refused
    assert sent.tx_hash == replacement != original and accepted == "accepted"
    mined = w3.eth.get_transaction(sent.tx_hash)
    max_fee, priority = squatter["fees"]
    assert mined["nonce"] == before  # the replacement keeps the nonce
    assert mined["maxFeePerGas"] >= max_fee * 1.125 and mined["maxPriorityFeePerGas"] >= priority * 1.125
    assert block_of(w3, sent.tx_hash) == [sent.tx_hash]
    for gone in (original, squatter["hash"]):
        with pytest.raises(TransactionNotFound):
            w3.eth.get_transaction(gone)
    assert nonce_of(rails) == w3.eth.get_transaction_count(rails.address, "pending") == before + 1
    assert balance(rails, token) == funds + 5  # minted once
    assert rails.wait_for_receipt(original)["transactionHash"] == HexBytes(sent.tx_hash)  # either hash finds it


def test_send__replacement_signed_but_original_mined__original_counts_once(w3, rails, token, monkeypatch):
    before, funds = nonce_of(rails), balance(rails, token)
    node = Node(
        rails,
        monkeypatch,
        deliver_then(lambda h: rpc(w3, "anvil_dropTransaction", h)),
        deliver_but_answer(UNDERPRICED),  # the node keeps the original this time, yet says underpriced
        lose_then(lambda h: rpc(w3, "evm_mine")),
    )  # it loses the replacement; the next block has the original

    sent = mint(rails, token, 5)

    original = node.attempts[0][0]
    replacement = node.attempts[2][0]
    assert [h for h, _ in node.attempts] == [original, original, replacement] and replacement != original
    assert sent.tx_hash == original  # whichever version is mined is the result
    assert nonce_in_tx(w3, original) == before
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction(replacement)
    assert nonce_of(rails) == before + 1
    assert balance(rails, token) == funds + 5
    assert rails.wait_for_receipt(replacement)["transactionHash"] == HexBytes(original)


def test_send__squatter_outbids_every_fee_bump__dropped_error_fees_capped_one_mined(w3, rails, token, monkeypatch):
    before, funds = nonce_of(rails), balance(rails, token)
    squatter = {}

    def evict_and_outbid(tx_hash: str) -> None:
        original = w3.eth.get_transaction(tx_hash)
        rpc(w3, "anvil_dropTransaction", tx_hash)
        other = sign_other(
            rails, original["nonce"], 100 * original["maxFeePerGas"], 100 * original["maxPriorityFeePerGas"]
        )
        squatter["hash"] = "0x" + bytes(w3.eth.send_raw_transaction(other.raw_transaction)).hex()
        squatter["priority"] = original["maxPriorityFeePerGas"]

    node = Node(rails, monkeypatch, deliver_then(evict_and_outbid))

    with pytest.raises(errors.TransactionDropped, match="fee bumps it still does not outbid") as info:
        mint(rails, token, 5)

    # The original, its same bytes again, then one replacement per bump (retries = 4): all refused.
    assert len(node.attempts) == 2 + rails.tx.retries
    assert all("underpriced" in answer for _, answer in node.attempts[1:])
    sent = [fields(raw) for raw in node.raws]
    assert {tx["nonce"] for tx in sent} == {before}
    priority = squatter["priority"]
    assert [tx["maxPriorityFeePerGas"] for tx in sent] == [
        priority,
        priority,
        bumped(priority),
        bumped(bumped(priority)),
        bumped(bumped(bumped(priority))),
        bumped(bumped(bumped(bumped(priority)))),
    ]  # bounded: ~1.6x
    assert all(b["maxFeePerGas"] >= bumped(a["maxFeePerGas"]) for a, b in pairwise(sent[1:]))
    assert info.value.tx_hash == node.attempts[-1][0] and info.value.nonce == before
    assert rails.tx.in_flight == {}
    rpc(w3, "evm_mine")
    assert block_of(w3, squatter["hash"]) == [squatter["hash"]]  # only one transaction has the nonce
    assert (nonce_of(rails), balance(rails, token)) == (before + 1, funds)


def test_send__dropped_then_refused_when_sent_again__dropped_error_nonce_reused_once(w3, rails, token, monkeypatch):
    before, funds = nonce_of(rails), balance(rails, token)
    Node(
        rails,
        monkeypatch,
        deliver_then(lambda h: rpc(w3, "anvil_dropTransaction", h)),
        refuse("{'code': -32003, 'message': 'insufficient funds for gas * price + value'}"),
    )

    with pytest.raises(errors.TransactionDropped, match="refused when sent again .*insufficient funds") as info:
        mint(rails, token, 5)

    assert info.value.nonce == before and rails.tx.in_flight == {}
    rpc(w3, "evm_setAutomine", True)
    after = mint(rails, token, 1)  # the next send takes the freed nonce: the dropped one is void
    assert nonce_in_tx(w3, after.tx_hash) == before
    assert (nonce_of(rails), balance(rails, token)) == (before + 1, funds + 1)


def test_send__dropped_and_nonce_used_by_another_tx__transaction_dropped_nothing_minted(w3, rails, token, monkeypatch):
    before, funds = nonce_of(rails), balance(rails, token)

    def evict_and_mine_another(tx_hash: str) -> None:
        original = w3.eth.get_transaction(tx_hash)
        rpc(w3, "anvil_dropTransaction", tx_hash)
        other = sign_other(rails, original["nonce"], original["maxFeePerGas"], original["maxPriorityFeePerGas"])
        w3.eth.send_raw_transaction(other.raw_transaction)
        rpc(w3, "evm_mine")

    Node(rails, monkeypatch, deliver_then(evict_and_mine_another))

    used = f"nonce {before} of {rails.address} was used by another transaction"
    with pytest.raises(errors.TransactionDropped, match=used) as info:
        mint(rails, token, 5)

    assert (info.value.nonce, balance(rails, token), nonce_of(rails)) == (before, funds, before + 1)
    with pytest.raises(errors.TransactionDropped):
        rails.wait_for_receipt(info.value.tx_hash)  # the outcome stays known
    rpc(w3, "evm_setAutomine", True)
    after = mint(rails, token, 1)  # the next send takes the next free nonce
    assert nonce_in_tx(w3, after.tx_hash) == before + 1 and balance(rails, token) == funds + 1


def test_send__gap_below_held_by_no_tx_of_ours__resync_next_send_fills_it(w3, rails, token, monkeypatch):
    before, funds = nonce_of(rails), balance(rails, token)
    # Another wallet holding the same key has a transaction in the pool: this send comes after it.
    other = sign_other(rails, before, 10**11, 10**9)
    foreign = "0x" + bytes(w3.eth.send_raw_transaction(other.raw_transaction)).hex()
    # The node evicts the foreign one, and with it ours that depends on it.
    node = Node(rails, monkeypatch, deliver_then(lambda h: rpc(w3, "anvil_dropTransaction", foreign)))

    with pytest.raises(errors.TransactionTimeout) as stuck:  # put back, but queued behind the gap
        mint(rails, token, 3)

    b = stuck.value.tx_hash
    assert node.accepted == [b, b] and nonce_in_tx(w3, b) == before + 1
    node.steps = [deliver_then(lambda h: rpc(w3, "evm_mine"))]
    filler = mint(rails, token, 4)  # resynced: takes the free nonce below, and both are mined
    assert nonce_in_tx(w3, filler.tx_hash) == before
    assert block_of(w3, filler.tx_hash) == [filler.tx_hash, b]
    assert rails.wait_for_receipt(b)["status"] == 1
    assert nonce_of(rails) == before + 2
    assert balance(rails, token) == funds + 7


def test_send__node_unreachable_when_checking__timeout_keeps_hash_nothing_resent(w3, rails, token, monkeypatch):
    before, funds = nonce_of(rails), balance(rails, token)
    rails.tx.retries = 1
    node = Node(rails, monkeypatch)

    real_run = rails.tx.rpc.run

    def unreachable_for_the_check(batch):
        if any(request.method == "eth_getTransactionByHash" for request in batch):
            raise requests.ConnectionError("connection refused")
        return real_run(batch)

    monkeypatch.setattr(rails.tx.rpc, "run", unreachable_for_the_check)  # the node goes away after the broadcast

    with pytest.raises(errors.TransactionTimeout) as info:
        mint(rails, token, 5)

    assert node.accepted == [info.value.tx_hash] and pool(w3) == [info.value.tx_hash]
    monkeypatch.undo()
    rpc(w3, "evm_mine")
    assert rails.wait_for_receipt(info.value.tx_hash)["status"] == 1
    assert (nonce_of(rails), balance(rails, token)) == (before + 1, funds + 5)
