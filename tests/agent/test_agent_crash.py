"""Crash recovery of the agent, real processes: kill -9 right after vouchers were acknowledged
(the book still holds the latest, and one collection pays it), kill -9 while a collection is in
flight (exactly one collection on chain, its outcome recorded after the restart), and SIGTERM
(exit code 0)."""

from __future__ import annotations

import json
import signal
import socket
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from web3.exceptions import TransactionNotFound

from computerails import _http
from computerails.agent.store import AgentStore
from computerails.devnet import dev_key
from computerails.models import digits
from computerails.types import Raw
from computerails.voucher_header import VOUCHER_HEADER, encode_voucher_header
from computerails.vouchers import Meter, VoucherSigner
from tests.agent.conftest import PRICE_RAW
from tests.support.sdk import CLIENT
from tests.support.wait import wait_until


def pay(agent, meter, n: int):
    pixels = list(digits.samples()[0][0])
    signed = None
    for _ in range(n):
        signed = meter.next(Raw(PRICE_RAW))
        response = _http.post(
            f"{agent.url}/v1/infer", json={"pixels": pixels}, headers={VOUCHER_HEADER: encode_voucher_header(*signed)}
        )
        assert response.status_code == 200, response.text
    return signed


def collected_events(rails, collection_id: str) -> list:
    """Every VoucherCollected of `collection_id` on chain, from the logs (not the agent's word)."""
    escrow = rails.collector.domain.escrow
    codec = rails.abi["MeteredEscrow"].events["VoucherCollected"]
    logs = rails.w3.eth.get_logs({"address": escrow, "fromBlock": 0, "toBlock": "latest"})
    events = codec.logs({"logs": logs}, escrow)
    return [e for e in events if "0x" + bytes(e["collectionId"]).hex() == collection_id]


def in_pool(w3, tx_hash: str) -> bool:
    try:
        return w3.eth.get_transaction(tx_hash) is not None
    except TransactionNotFound:
        return False


def test_kill9_after_acknowledged_vouchers__restart_collects_latest_once(make_agent, payer_rails, provider_rails):
    agent = make_agent().start()
    meter = payer_rails.payer.meter(dev_key(CLIENT), provider_rails.address, Decimal(1))
    latest, _ = pay(agent, meter, 3)

    agent.kill()
    book = AgentStore(agent.config.parent / "data" / "agent.sqlite")
    kept = book.vouchers.load(provider_rails.address)
    receipts = book.receipt_count(meter.collection_id)
    book.close()
    assert kept[meter.collection_id][0] == latest  # acknowledged, so on disk
    assert receipts == 3  # and every receipt signed

    agent.start(COMPUTERAILS_AGENT_COLLECT_INTERVAL="0.2")
    wait_until(lambda: agent.metric("computerails_agent_collections_total", 'status="mined"') >= 1, "the collection")
    wait_until(lambda: agent.metric("computerails_agent_outstanding") == 0 or None, "nothing outstanding")

    events = collected_events(provider_rails, meter.collection_id)
    assert [(e["gross"], e["collected"], e["requestCount"]) for e in events] == [(3 * PRICE_RAW, 3 * PRICE_RAW, 3)]
    assert agent.stop() == 0


def test_payers_at_once__kill9__each_collection_kept_at_its_latest_and_collected_once(
    make_agent, payer_rails, provider_rails
):
    """Several payers over HTTP at once (the agent admits on its event loop; their commits are
    shared): every answer is paid and receipted in order, and after kill -9 the book holds each
    collection's latest voucher, which one collection then pays exactly once."""
    agent = make_agent().start()
    provider = provider_rails.address
    domain = payer_rails.collector.domain
    token = payer_rails.payer.meter(dev_key(CLIENT), provider, Decimal(1)).latest.token
    meters = []
    for i in range(4):
        signer = VoucherSigner(domain, bytes([0x61 + i]) * 32)
        payer_rails.payer.deposit_for(signer.address, provider, Decimal(1))  # 100 requests' worth
        meters.append(Meter(signer, payer=signer.address, provider=provider, token=token, budget=10**12))
    each = 6
    lanes = [[meter.next(Raw(PRICE_RAW)) for _ in range(each)] for meter in meters]
    pixels = list(digits.samples()[0][0])

    def send(lane):
        url = f"{agent.url}/v1/infer"
        with _http.client(timeout=30) as client:
            return [
                client.post(url, json={"pixels": pixels}, headers={VOUCHER_HEADER: encode_voucher_header(*v)})
                for v in lane
            ]

    with ThreadPoolExecutor(len(lanes)) as pool:
        answers = list(pool.map(send, lanes))

    for lane, responses in zip(lanes, answers, strict=True):
        assert [r.status_code for r in responses] == [200] * each, [r.text for r in responses if r.status_code != 200]
        receipts = [r.json()["receipt"] for r in responses]
        assert [(x["collection_id"], x["request_index"]) for x in receipts] == [
            (v.collection_id, v.request_count) for v, _sig in lane
        ]
    agent.kill()
    book = AgentStore(agent.config.parent / "data" / "agent.sqlite")
    kept = book.vouchers.load(provider)
    counts = {lane[0][0].collection_id: book.receipt_count(lane[0][0].collection_id) for lane in lanes}
    book.close()
    assert {cid: kept[cid] for cid in counts} == {lane[-1][0].collection_id: lane[-1] for lane in lanes}
    assert counts == dict.fromkeys(counts, each)

    agent.start(COMPUTERAILS_AGENT_COLLECT_INTERVAL="0.2")
    wait_until(lambda: agent.metric("computerails_agent_outstanding") == 0 or None, "nothing outstanding")
    for cid in counts:
        events = collected_events(provider_rails, cid)
        assert [(e["gross"], e["requestCount"]) for e in events] == [(each * PRICE_RAW, each)]
    assert agent.stop() == 0


def test_kill9_during_collection__exactly_one_collection_on_chain(make_agent, w3, payer_rails, provider_rails):
    agent = make_agent().start()
    meter = payer_rails.payer.meter(dev_key(CLIENT), provider_rails.address, Decimal(1))
    pay(agent, meter, 2)
    agent.stop()
    database = agent.config.parent / "data" / "agent.sqlite"
    nonce = w3.eth.get_transaction_count(provider_rails.address)
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        # Housekeeping off: its first pass after a start claims whatever was collected by then,
        # a transaction of its own that would blur the count of collections below.
        agent.start(COMPUTERAILS_AGENT_COLLECT_INTERVAL="0.2", COMPUTERAILS_AGENT_HOUSEKEEPING__INTERVAL="0")
        store = AgentStore(database)
        (entry,) = wait_until(store.pending, "the journalled collection")
        agent.kill()  # signed, journalled and (maybe) broadcast; not mined

        agent.start(COMPUTERAILS_AGENT_COLLECT_INTERVAL="0.2", COMPUTERAILS_AGENT_HOUSEKEEPING__INTERVAL="0")
        # the restarted agent finds it in the node's pool, or broadcasts the journalled bytes again
        wait_until(lambda: in_pool(w3, entry.tx_hash), "the collection in the node's pool")
        w3.provider.make_request("evm_mine", [])
        wait_until(lambda: [e for e in store.journal() if e.status == "mined"], "the outcome recorded")
        wait_until(lambda: agent.metric("computerails_agent_outstanding") == 0 or None, "nothing outstanding")
        journal = store.journal()
        store.close()
    finally:
        w3.provider.make_request("evm_setAutomine", [True])

    assert [(e.tx_hash, e.status) for e in journal] == [(entry.tx_hash, "mined")]
    assert w3.eth.get_transaction_count(provider_rails.address) == nonce + 1  # no second transaction
    events = collected_events(provider_rails, meter.collection_id)
    assert [(e["gross"], e["requestCount"]) for e in events] == [(2 * PRICE_RAW, 2)]
    assert agent.stop() == 0


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_sigterm__in_flight_request_finishes__exit_0(make_agent):
    agent = make_agent(request_timeout=30).start()
    body = json.dumps({"pixels": list(digits.samples()[0][0])}).encode()
    with socket.create_connection(("127.0.0.1", agent.port)) as conn:
        head = b"POST /v1/infer HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\n"
        conn.sendall(head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10])
        agent.process.send_signal(signal.SIGTERM)
        wait_until(lambda: refuses_connections(agent.port), "the agent to stop accepting")  # shutting down

        conn.sendall(body[10:])  # the request in flight completes
        answer = conn.recv(65_536)

    assert answer.startswith(b"HTTP/1.1 402")  # served as usual: the terms
    assert agent.process.wait(timeout=60) == 0
