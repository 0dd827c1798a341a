"""Metered answers checked by the oracle network, real processes: a payer's client forwards a
provider-signed receipt with its request to one node; a correct answer is confirmed, a wrong
one opens a fraud round whose evidence every node recomputes before signing, and one of them
relays the fraud attestation: the provider is slashed and jailed, once."""

from __future__ import annotations

import httpx
import pytest

from computerails import _http, eip712, receipts
from computerails.devnet import dev_address, dev_key
from computerails.models import digits
from computerails.receipts import ReceiptSigner, ResponseReceipt
from tests.support.agent import mint
from tests.support.sdk import FIRST_STAKE
from tests.support.wait import wait_until

PROVIDER, PAYER = 14, 15
COLLECTION = "0x" + "ab" * 32


@pytest.fixture(scope="module")
def fraud_provider(net_connect, net_w3):
    rails = net_connect(PROVIDER)
    mint(rails, stake=5_000)
    rails.provider.register("http://127.0.0.1:9", FIRST_STAKE)
    return rails


def receipt_for(rails, index: int, pixels, *, wrong: bool) -> tuple[ResponseReceipt, str]:
    """A receipt the provider's own key signs; `wrong`: for an answer the model never gives."""
    answer = digits.infer(pixels).response_hash
    receipt = ResponseReceipt(
        payer=dev_address(PAYER),
        provider=rails.address,
        token=rails.deployment.payment_tokens[0],
        collection_id=COLLECTION,
        request_index=index,
        request_hash=digits.request_hash(pixels),
        response_hash=bytes(32) if wrong else answer,
        units=1,
    )
    signature = ReceiptSigner(rails.collector.domain, dev_key(PROVIDER)).sign(receipt)
    return receipt, "0x" + signature.hex()


def forward(node, receipt, signature, pixels) -> httpx.Response:
    body = {"receipt": receipt.model_dump(mode="json"), "provider_signature": signature, "pixels": list(pixels)}
    return _http.post(f"{node.url}/v1/receipts", json=body, timeout=30)


def test_receipts__correct_answer_confirmed__mismatched_request_or_foreign_signature_422(make_network, fraud_provider):
    (node,) = make_network(indices=(17,))
    node.start()
    pixels = list(digits.samples()[0][0])
    receipt, signature = receipt_for(fraud_provider, 1, pixels, wrong=False)

    assert forward(node, receipt, signature, pixels).json() == {"verdict": "correct"}
    other_pixels = list(digits.samples()[1][0])
    mismatch = forward(node, receipt, signature, other_pixels)
    assert (mismatch.status_code, "not the receipt's request" in mismatch.json()["error"]) == (422, True)
    digest = receipts.digest(fraud_provider.collector.domain, receipt)
    foreign = "0x" + eip712.sign_digest(digest, dev_key(PAYER)).hex()  # another key over the same receipt
    refused = forward(node, receipt, foreign, pixels)
    assert (refused.status_code, "not signed by its provider" in refused.json()["error"]) == (422, True)
    assert forward(node, receipt, signature, [99] * 64).status_code == 422
    assert node.metric("computerails_oracle_open_rounds") == 0
    assert node.stop() == 0


def test_receipts__wrong_answer__fraud_agreed_relayed_once_provider_slashed_and_jailed(make_network, fraud_provider):
    nodes = make_network()
    for node in nodes:
        node.start()
    pixels = list(digits.samples()[2][0])
    receipt, signature = receipt_for(fraud_provider, 3, pixels, wrong=True)
    staked = fraud_provider.provider.status().staked

    answer = forward(nodes[0], receipt, signature, pixels)

    assert answer.status_code == 202 and answer.json()["verdict"] == "fraud"
    wait_until(lambda: fraud_provider.provider.status().jailed, "the provider jailed")
    metered = fraud_provider.collector.domain.escrow
    punished = fraud_provider.abi["MeteredEscrow"].events["FraudPunished"]
    logs = fraud_provider.w3.eth.get_logs({"address": metered, "fromBlock": 0, "toBlock": "latest"})
    (event,) = punished.logs({"logs": logs}, metered)
    assert (event["provider"], event["requestIndex"]) == (fraud_provider.address, 3)
    status = fraud_provider.provider.status()
    assert status.staked == staked * 9 / 10  # the 10 % fraud penalty of free stake
    signed = []
    for node in nodes:
        wait_until(lambda n=node: n.metric("computerails_oracle_open_rounds") == 0, "every node closing the round")
        signed.append(node.metric("computerails_oracle_signed_total", 'kind="fraud"'))
    assert set(signed) <= {0.0, 1.0} and sum(signed) >= 2  # a late node may find it punished already
    assert sum(n.metric("computerails_oracle_submissions_total", 'status="mined"') for n in nodes) == 1
    for node in nodes:
        assert node.stop() == 0
