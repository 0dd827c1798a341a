"""The oracle's side of metered fraud (issue 12): a provider's countersigned receipt with a wrong
answer becomes a fraud attestation, k oracles sign it, a relayer submits it, and the outcome is
read back: the provider slashed (its collections' stake lock first) and jailed, the payer's share
claimable. Bad evidence is refused before anything is signed or sent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from computerails import errors
from computerails.devnet import dev_key
from computerails.receipts import ReceiptSigner, ResponseReceipt
from computerails.types import Raw
from tests.support.sdk import CLIENT, PROVIDER, raises_unsent

MUSD = 10**6
WRONG = "0x" + "aa" * 32
RIGHT = "0x" + "bb" * 32


@pytest.fixture
def served(client_rails, registered_provider, faucet):
    """The provider collected one 10 mUSD voucher and signed a receipt answering WRONG."""
    faucet(client_rails, usd=20)
    client_rails.payer.deposit(registered_provider.address, 20)
    meter = client_rails.payer.meter(dev_key(CLIENT), registered_provider.address, 20)
    voucher, signature = meter.next(Raw(10 * MUSD))
    registered_provider.collector.collect(voucher, signature)
    receipt = ResponseReceipt(
        payer=client_rails.address,
        provider=registered_provider.address,
        token=voucher.token,
        collection_id=voucher.collection_id,
        request_index=1,
        request_hash="0x" + "cc" * 32,
        response_hash=WRONG,
        units=1,
    )
    signed = ReceiptSigner(registered_provider.collector.domain, dev_key(PROVIDER)).sign(receipt)
    return receipt, signed


def test_fraud__k_oracles_sign__relayed__provider_slashed_and_jailed(
    relayer_rails, registered_provider, client_rails, oracle_keys, served
):
    receipt, signed = served
    before = registered_provider.provider.status()
    oracle = relayer_rails.oracle
    attestation = oracle.fraud_attestation(receipt, signed, RIGHT)
    signatures = oracle.collect_signatures(attestation, oracle_keys)
    assert oracle.digest(attestation) == bytes(
        relayer_rails.read(
            "MeteredEscrow",
            relayer_rails.deployment.address("MeteredEscrow"),
            "fraudAttestationDigest",
            attestation.as_tuple(),
        )
    )

    outcome = oracle.fraud_outcome(oracle.submit_fraud_attestation(attestation, signatures))

    lock = Decimal(50)  # 10 mUSD x 5 stake per payment unit
    assert outcome.from_locked == lock
    assert outcome.slashed == (lock + before.free) * Decimal("0.1")  # fraud_penalty_bps 1,000 of lock + free
    assert outcome.payer_amount == outcome.slashed / 2
    assert outcome.jailed and outcome.payer == client_rails.address
    assert registered_provider.provider.status().jailed
    assert client_rails.oracle.reward() == outcome.payer_amount  # the payer's share, claimable from staking


def test_fraud__answer_matches__fraud_not_proven_nothing_signed(relayer_rails, served):
    receipt, signed = served
    with pytest.raises(errors.FraudNotProven, match="matches"):
        relayer_rails.oracle.fraud_attestation(receipt, signed, WRONG)


def test_fraud__receipt_signed_by_someone_else__refused(relayer_rails, client_rails, served):
    receipt, _ = served
    forged = ReceiptSigner(client_rails.collector.domain, dev_key(CLIENT))
    with pytest.raises(errors.InvalidReceipt):
        forged.sign(receipt)  # a key signs only receipts naming it
    other = ResponseReceipt(**(receipt.model_dump() | {"provider": client_rails.address}))
    signature = forged.sign(other)
    with pytest.raises(errors.InvalidReceiptSignature, match="not by its provider"):
        relayer_rails.oracle.fraud_attestation(receipt, signature, RIGHT)


def test_fraud__already_punished__refused_before_sending(relayer_rails, oracle_keys, served):
    receipt, signed = served
    oracle = relayer_rails.oracle
    attestation = oracle.fraud_attestation(receipt, signed, RIGHT)
    oracle.submit_fraud_attestation(attestation, oracle.collect_signatures(attestation, oracle_keys))
    again = oracle.fraud_attestation(receipt, signed, "0x" + "dd" * 32)
    with raises_unsent(relayer_rails, errors.PreconditionError, match="already punished"):
        oracle.submit_fraud_attestation(again, oracle.collect_signatures(again, oracle_keys))


def test_fraud__too_few_oracles__invalid_signatures_unsent(relayer_rails, oracle_keys, served):
    receipt, signed = served
    oracle = relayer_rails.oracle
    attestation = oracle.fraud_attestation(receipt, signed, RIGHT)
    one = oracle.collect_signatures(attestation, oracle_keys, k=1)
    with raises_unsent(relayer_rails, errors.InvalidSignatures, match="need signatures from 2"):
        oracle.submit_fraud_attestation(attestation, one)
