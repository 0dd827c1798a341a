"""TxManager: shared nonces under threads, timeouts carrying the hash, safe re-broadcasts,
chain-id and read-only guards."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.logs import DISCARD

import computerails
from computerails import Attestation, JobStatus, errors
from computerails.client import MAX_UINT
from computerails.tx import TxManager
from tests.support.anvil import dev_key, free_port
from tests.support.sdk import RESULT, SPEC, nonce_of, warp

THREADS = 20


def _nonces(rails, sent):
    return sorted(rails.w3.eth.get_transaction(s.tx_hash)["nonce"] for s in sent)


def test_send__20_threads_one_connection__distinct_jobs_and_provider_paid_for_all(
    w3, client_rails, registered_provider, relayer_rails, faucet, oracle_keys, usd
):
    faucet(client_rails, usd=THREADS)
    client_rails.send(
        client_rails.erc20(usd.address).functions.approve(client_rails.escrow.address, MAX_UINT), "approve"
    )
    first_nonce = nonce_of(client_rails)
    provider = registered_provider.address

    with ThreadPoolExecutor(THREADS) as pool:
        jobs = list(
            pool.map(
                lambda i: client_rails.client.create_job(
                    provider, Decimal("0.01") * (i + 1), 1, timedelta(hours=2), SPEC
                ),
                range(THREADS),
            )
        )

    creates = [s for s in client_rails.tx.sent if s.label == "createJob"]
    assert _nonces(client_rails, creates) == list(range(first_nonce, first_nonce + THREADS))
    events = [
        e for s in creates for e in client_rails.escrow.events.JobCreated().process_receipt(s.receipt, errors=DISCARD)
    ]
    assert sorted(e.args.jobId for e in events) == sorted(j.id for j in jobs) == list(range(1, THREADS + 1))
    total = sum(Decimal("0.01") * (i + 1) for i in range(THREADS))  # 2.10 mUSD
    assert client_rails.views.wallet(client_rails.escrow.address) == total == sum(j.escrow for j in jobs)

    first_nonce = nonce_of(registered_provider)
    with ThreadPoolExecutor(THREADS) as pool:
        accepted = list(pool.map(lambda j: registered_provider.provider.accept(j.id), jobs))
    assert {j.status for j in accepted} == {JobStatus.ACCEPTED}
    accepts = [s for s in registered_provider.tx.sent if s.label == "accept"]
    assert _nonces(registered_provider, accepts) == list(range(first_nonce, first_nonce + THREADS))

    batch = []
    for job in jobs:
        att = Attestation(
            job_id=job.id,
            provider=provider,
            success=True,
            units=1,
            result_hash=RESULT,
            deadline=relayer_rails.now() + 600,
        )
        batch.append((att, relayer_rails.oracle.collect_signatures(att, oracle_keys)))
    assert relayer_rails.oracle.submit_attestations(batch)[1] == []
    warp(w3, 3_600)
    relayer_rails.send(relayer_rails.escrow.functions.settleMany([j.id for j in jobs]), "settleMany")
    (payout,) = registered_provider.provider.claim_rewards()
    assert payout.amount == total * Decimal("0.975")


def test_wait_for_receipt__unknown_hash_timeout_zero__timeout_carries_hash(client_rails):
    unknown = "0x" + "ab" * 32
    with pytest.raises(errors.TransactionTimeout) as info:
        client_rails.wait_for_receipt(unknown, timeout=0)
    assert (info.value.tx_hash, info.value.timeout) == (unknown, 0)
    assert unknown in str(info.value)


def test_send__block_not_mined_in_time__timeout_with_hash_then_receipt(w3, connect, faucet, manual_mining):
    rails = connect(3, timeout=0.3)
    token = rails.erc20(rails.deployment.payment_tokens[0])
    before = nonce_of(rails)

    with pytest.raises(errors.TransactionTimeout) as info:
        rails.send(token.functions.mint(rails.address, 5), "mint")

    pending = w3.eth.get_block("pending", full_transactions=True)["transactions"]
    assert ["0x" + bytes(tx["hash"]).hex() for tx in pending] == [info.value.tx_hash]
    assert nonce_of(rails) == before
    w3.provider.make_request("evm_mine", [])
    assert rails.wait_for_receipt(info.value.tx_hash, timeout=5)["status"] == 1
    assert nonce_of(rails) == before + 1
    assert token.functions.balanceOf(rails.address).call() == 5


def test_broadcast__same_signed_tx_twice__already_known_is_success(w3, client_rails, manual_mining):
    manager = client_rails.tx
    tx = {
        "type": 2,
        "chainId": 31337,
        "nonce": nonce_of(client_rails),
        "to": client_rails.address,
        "value": 1,
        "gas": 21_000,
        "maxFeePerGas": 10**11,
        "maxPriorityFeePerGas": 10**9,
    }
    signed = client_rails.account.sign_transaction(tx)
    tx_hash = "0x" + bytes(signed.hash).hex()

    manager._broadcast(signed.raw_transaction, tx_hash)
    manager._broadcast(signed.raw_transaction, tx_hash)  # "transaction already imported": no error, no second tx

    assert len(w3.eth.get_block("pending")["transactions"]) == 1
    w3.provider.make_request("evm_mine", [])
    assert manager.wait_for_receipt(tx_hash, timeout=5)["status"] == 1
    manager._broadcast(signed.raw_transaction, tx_hash)  # mined now: "nonce too low" for a known hash is success too
    assert nonce_of(client_rails) == tx["nonce"] + 1


def test_broadcast__nonce_too_low_for_unknown_tx__transaction_error(client_rails, faucet):
    faucet(client_rails, usd=1)  # nonce 0 is used
    signed = client_rails.account.sign_transaction(
        {
            "type": 2,
            "chainId": 31337,
            "nonce": 0,
            "to": client_rails.address,
            "value": 2,
            "gas": 21_000,
            "maxFeePerGas": 10**11,
            "maxPriorityFeePerGas": 10**9,
        }
    )
    with pytest.raises(errors.TransactionError, match="nonce too low"):
        client_rails.tx._broadcast(signed.raw_transaction, "0x" + bytes(signed.hash).hex())


def test_send__response_lost_after_broadcast__retried_same_bytes_effective_once(client_rails, make_job, monkeypatch):
    job = make_job()
    real = client_rails.w3.eth.send_raw_transaction
    calls = []

    def flaky(raw):
        calls.append(bytes(raw))
        result = real(raw)
        if len(calls) == 1:
            raise requests.ConnectionError("connection reset after the node received the transaction")
        return result

    monkeypatch.setattr(client_rails.w3.eth, "send_raw_transaction", flaky)
    before = nonce_of(client_rails)

    client_rails.client.cancel(job.id)

    assert len(calls) == 2 and calls[0] == calls[1]  # re-broadcast of the very same signed bytes
    assert nonce_of(client_rails) == before + 1
    assert client_rails.views.claimable(client_rails.address)[client_rails.token()] == Decimal(10)


def test_send__node_unreachable__rpc_unavailable_nothing_sent(client_rails):
    dead = Web3(HTTPProvider(f"http://127.0.0.1:{free_port()}"))
    manager = TxManager(dead, client_rails.account, 31337, retries=1)
    with pytest.raises(errors.RPCUnavailable, match="node unreachable"):
        manager.send(client_rails.escrow.functions.cancel(1))
    assert manager.sent == []


def test_connect__deployment_for_other_chain__chain_mismatch(anvil, deployment_file, tmp_path):
    data = json.loads(deployment_file.read_text())
    other = tmp_path / "1.json"
    other.write_text(json.dumps({**data, "chainId": 1}))

    with pytest.raises(errors.ChainMismatch) as info:
        computerails.connect(anvil.url, deployment=other, account=dev_key(3))

    assert (info.value.expected, info.value.actual) == (1, 31337)
    assert isinstance(info.value, errors.DeploymentError)


def test_send__readonly_connection__no_account(readonly):
    with pytest.raises(errors.NoAccount, match="read-only"):
        readonly.send(readonly.escrow.functions.cancel(1), "cancel")
    with pytest.raises(errors.NoAccount):
        readonly.client.withdraw()
    assert readonly.account is None


def test_connect__account_as_local_account_or_web3__same_address(anvil, deployment_file, w3):
    account = Account.from_key(dev_key(4))
    rails = computerails.connect(w3, deployment=deployment_file, account=account)
    assert rails.address == account.address and rails.w3 is w3
