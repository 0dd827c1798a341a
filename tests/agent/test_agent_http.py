"""The agent's HTTP API against a real agent process and anvil: paid inference, 402 terms and
refusals with reasons, input limits, the signed health challenge, metrics, the paying client
and `computerails infer`. One agent serves the whole module (collection off); each test pays on
its own collection, so the tests do not depend on each other's vouchers."""

from __future__ import annotations

import json
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from computerails import _http, errors
from computerails.agent.app import verify_health
from computerails.cli import main
from computerails.devnet import dev_address, dev_key
from computerails.models import digits
from computerails.pay_client import PayingAuth, infer
from computerails.types import Raw
from computerails.voucher_header import VOUCHER_HEADER, encode_voucher_header
from computerails.vouchers import VOUCHER_FIELDS, signed_to_json
from tests.agent.conftest import PRICE_RAW, mint
from tests.support.sdk import CLIENT, KEY_VAR, OTHER_CLIENT, warp

HOT_KEY = "0x" + "7d" * 32
MIN_ESCROW = "0.02"  # mUSD the agent requires in a payer's escrow
SHALLOW_PAYER = 8  # a dev account with 0.01 mUSD in escrow, below the minimum
THAWING_PAYER = 9  # a dev account that thaws and withdraws its escrow mid-session
THAW_PERIOD = 3 * 86_400  # computerails/devnet/params.py "metered": thawPeriod
SIGNER_THAW = 2 * 86_400  # computerails/devnet/params.py "metered": signerThawPeriod


@pytest.fixture(scope="module")
def agent(make_agent, w3, payer_rails, small_payer_rails):
    # These tests warp the devnet's clock past thaw periods between two requests, which no real
    # chain does: the escrow-view cache (whose safety is argued in real time) is off here;
    # test_agent_cover_cache.py tests it.
    process = make_agent(request_timeout=1, min_escrow=MIN_ESCROW, cover_ttl=0).start()
    yield process
    assert process.stop() == 0  # SIGTERM: graceful, exit code 0


@pytest.fixture
def auth(payer_rails, tmp_path):
    """The paying client of the payer's own key, budget 1 mUSD, a fresh wallet (a new collection)."""
    paying = PayingAuth(
        dev_key(CLIENT),
        chain_id=payer_rails.chain_id,
        escrow=payer_rails.collector.domain.escrow,
        tokens=payer_rails.deployment.payment_tokens,
        budget=100 * PRICE_RAW,
        wallet=tmp_path / "wallet.sqlite",
    )
    yield paying
    paying.close()


def sample(i: int = 0) -> tuple[list[int], int]:
    pixels, label = digits.samples()[i]
    return list(pixels), label


def post(agent, pixels, header: str | None = None) -> httpx.Response:
    headers = {VOUCHER_HEADER: header} if header is not None else {}
    return _http.post(f"{agent.url}/v1/infer", json={"pixels": pixels}, headers=headers)


# ───────────────────────── payment ─────────────────────────


def test_infer__unpaid__402_with_terms(agent, payer_rails, provider_rails):
    response = post(agent, sample()[0])

    assert response.status_code == 402
    terms = response.json()
    assert terms["scheme"] == "computerails-voucher"
    assert terms["price"] == {"raw": str(PRICE_RAW), "amount": "0.01"}
    assert terms["token"]["address"] == payer_rails.deployment.payment_tokens[0]
    assert (terms["escrow"], terms["chain_id"]) == (payer_rails.collector.domain.escrow, payer_rails.chain_id)
    assert terms["provider"] == provider_rails.address
    assert (terms["min_escrow"], terms["safety_margin_bps"]) == ({"raw": "20000", "amount": "0.02"}, 1_000)
    assert terms["collection_id"]["policy"] == "payer-chosen"
    assert terms["eip712"]["types"]["Voucher"] == VOUCHER_FIELDS


def test_infer__paying_client__answers_with_verified_receipts(agent, auth, provider_rails):
    with httpx.Client() as client:
        first = infer(client, f"{agent.url}/v1/infer", sample(0)[0], auth)
        second = infer(client, f"{agent.url}/v1/infer", sample(1)[0], auth)  # paid up front: cached terms

    assert (first.label, second.label) == (sample(0)[1], sample(1)[1])
    assert (first.receipt.request_index, second.receipt.request_index) == (1, 2)
    assert first.receipt.provider == provider_rails.address
    assert auth.spent() == {provider_rails.address: 2 * PRICE_RAW}


def test_paying_client__concurrent_threads__each_paid_in_order(agent, auth, provider_rails):
    with httpx.Client() as client, ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda i: infer(client, f"{agent.url}/v1/infer", sample(i)[0], auth), range(8)))

    assert sorted(a.receipt.request_index for a in answers) == list(range(1, 9))
    assert [a.label for a in answers] == [digits.infer(sample(i)[0]).label for i in range(8)]
    assert auth.spent() == {provider_rails.address: 8 * PRICE_RAW}


def test_infer__plain_json_header__accepted(agent, payer_rails, provider_rails):
    meter = payer_rails.payer.meter(dev_key(CLIENT), provider_rails.address, Decimal(1))
    voucher, signature = meter.next(Raw(PRICE_RAW))

    response = post(agent, sample()[0], json.dumps(signed_to_json(voucher, signature)))

    assert response.status_code == 200
    assert response.json()["receipt"]["request_index"] == 1


def test_infer__replayed_voucher__402_stale(agent, payer_rails, provider_rails):
    meter = payer_rails.payer.meter(dev_key(CLIENT), provider_rails.address, Decimal(1))
    header = encode_voucher_header(*meter.next(Raw(PRICE_RAW)))
    assert post(agent, sample()[0], header).status_code == 200

    response = post(agent, sample()[0], header)

    assert response.status_code == 402
    assert response.json()["reason"] == "StaleVoucher"
    assert "replayed" in response.json()["error"]


def test_infer__lower_cumulative_value__402_stale(agent, payer_rails, provider_rails):
    meter = payer_rails.payer.meter(dev_key(CLIENT), provider_rails.address, Decimal(1))
    assert post(agent, sample()[0], encode_voucher_header(*meter.next(Raw(3 * PRICE_RAW)))).status_code == 200
    lower = payer_rails.payer.meter(
        dev_key(CLIENT),
        provider_rails.address,
        Decimal(1),
        collection_id=meter.collection_id,
        request_count=1,
    )

    response = post(agent, sample()[0], encode_voucher_header(*lower.next(Raw(PRICE_RAW))))

    assert response.status_code == 402
    assert response.json()["reason"] == "StaleVoucher"
    assert "value_aggregate 10000 must be at least the latest accepted 30000" in response.json()["error"]


def test_infer__increment_below_price__402(agent, payer_rails, provider_rails):
    meter = payer_rails.payer.meter(dev_key(CLIENT), provider_rails.address, Decimal(1))

    response = post(agent, sample()[0], encode_voucher_header(*meter.next(Raw(PRICE_RAW - 1))))

    assert response.status_code == 402
    assert response.json()["reason"] == "InvalidVoucher"
    assert "a request costs 10000" in response.json()["error"]


def test_infer__voucher_for_another_provider__402(agent, payer_rails):
    stranger = payer_rails.payer.meter(dev_key(CLIENT), dev_address(9), Decimal(1))

    response = post(agent, sample()[0], encode_voucher_header(*stranger.next(Raw(PRICE_RAW))))

    assert response.status_code == 402
    assert response.json()["reason"] == "InvalidVoucher"
    assert "is for provider" in response.json()["error"]


def test_infer__revoked_signer__402(agent, w3, payer_rails, provider_rails):
    signer = payer_rails.payer.authorize_signer(HOT_KEY).signer
    meter = payer_rails.payer.meter(HOT_KEY, provider_rails.address, Decimal(1))
    assert post(agent, sample()[0], encode_voucher_header(*meter.next(Raw(PRICE_RAW)))).status_code == 200
    payer_rails.payer.thaw_signer(signer)
    warp(w3, SIGNER_THAW)
    payer_rails.payer.revoke_signer(signer)

    response = post(agent, sample()[0], encode_voucher_header(*meter.next(Raw(PRICE_RAW))))

    assert response.status_code == 402
    assert response.json()["reason"] == "InvalidVoucherSignature"
    assert "not a signer authorized" in response.json()["error"]


def test_infer__forged_signature__402(agent, payer_rails, provider_rails):
    meter = payer_rails.payer.meter(dev_key(CLIENT), provider_rails.address, Decimal(1))
    voucher, signature = meter.next(Raw(PRICE_RAW))
    forged = voucher.model_copy(update={"value_aggregate": 10 * PRICE_RAW})

    response = post(agent, sample()[0], encode_voucher_header(forged, signature))

    assert response.status_code == 402
    assert response.json()["reason"] == "InvalidVoucherSignature"


def test_infer__escrow_short__402_with_runway__shared_by_the_payers_collections(
    agent, small_payer_rails, provider_rails
):
    meter = small_payer_rails.payer.meter(dev_key(OTHER_CLIENT), provider_rails.address, Decimal(1))
    for _ in range(4):  # cover: 0.05 mUSD less 10 % = 0.045 mUSD, 4 requests
        assert post(agent, sample()[0], encode_voucher_header(*meter.next(Raw(PRICE_RAW)))).status_code == 200

    response = post(agent, sample()[0], encode_voucher_header(*meter.next(Raw(PRICE_RAW))))

    assert response.status_code == 402
    body = response.json()
    assert body["reason"] == "VoucherNotCovered"
    assert body["runway"] == {
        "cover": "45000",
        "outstanding": "40000",
        "price": str(PRICE_RAW),
        "requests_left": 0,
        "collection_id": meter.collection_id,
    }
    # a second collection of the same payer shares the cover: it gets none left
    second = small_payer_rails.payer.meter(dev_key(OTHER_CLIENT), provider_rails.address, Decimal(1))
    response = post(agent, sample()[0], encode_voucher_header(*second.next(Raw(PRICE_RAW))))
    assert response.status_code == 402
    assert response.json()["runway"]["cover"] == "5000"  # 0.045 cover less the 0.04 the first holds


def test_infer__escrow_below_minimum__402(agent, connect, provider_rails):
    shallow = connect(SHALLOW_PAYER)
    mint(shallow, usd=1)
    shallow.payer.deposit(provider_rails.address, Decimal("0.01"))
    meter = shallow.payer.meter(dev_key(SHALLOW_PAYER), provider_rails.address, Decimal(1))

    response = post(agent, sample()[0], encode_voucher_header(*meter.next(Raw(PRICE_RAW))))

    assert response.status_code == 402
    assert response.json()["reason"] == "EscrowBelowMinimum"
    assert "holds 10000 but this provider serves only against at least 20000" in response.json()["error"]


def test_infer__escrow_thaws_mid_session__served_until_withdrawn_then_402(agent, w3, connect, provider_rails):
    """A thaw reserves nothing: the agent goes on serving against the whole balance while it runs
    (the provider's collection policy collects before it ends); once the payer has withdrawn,
    the next voucher finds no escrow and is refused, with the reason."""
    payer = connect(THAWING_PAYER)
    mint(payer, usd=1)
    payer.payer.deposit(provider_rails.address, Decimal("0.1"))
    meter = payer.payer.meter(dev_key(THAWING_PAYER), provider_rails.address, Decimal(1))
    assert post(agent, sample()[0], encode_voucher_header(*meter.next(Raw(PRICE_RAW)))).status_code == 200

    account = payer.payer.thaw(provider_rails.address, Decimal("0.1"))
    assert account.thawing == Decimal("0.1")
    pixels, label = sample(1)
    during = post(agent, pixels, encode_voucher_header(*meter.next(Raw(PRICE_RAW))))
    assert during.status_code == 200 and during.json()["label"] == label  # served during the thaw

    warp(w3, THAW_PERIOD + 1)
    payer.payer.withdraw(provider_rails.address)
    after = post(agent, sample()[0], encode_voucher_header(*meter.next(Raw(PRICE_RAW))))

    assert after.status_code == 402
    assert after.json()["reason"] == "EscrowBelowMinimum"


def test_paying_client__budget_cap__refuses_to_sign(agent, payer_rails, provider_rails, tmp_path):
    paying = PayingAuth(
        dev_key(CLIENT),
        chain_id=payer_rails.chain_id,
        escrow=payer_rails.collector.domain.escrow,
        tokens=payer_rails.deployment.payment_tokens,
        budget=PRICE_RAW + PRICE_RAW // 2,
        wallet=tmp_path / "wallet.sqlite",
    )
    with httpx.Client() as client:
        infer(client, f"{agent.url}/v1/infer", sample()[0], paying)
        with pytest.raises(errors.BudgetExceeded) as info:
            infer(client, f"{agent.url}/v1/infer", sample()[0], paying)

    assert (info.value.budget, info.value.value_aggregate, info.value.value) == (15_000, PRICE_RAW, PRICE_RAW)
    assert paying.spent() == {provider_rails.address: PRICE_RAW}


def test_paying_client__provider_not_allowed__refuses(agent, payer_rails, tmp_path):
    paying = PayingAuth(
        dev_key(CLIENT),
        chain_id=payer_rails.chain_id,
        escrow=payer_rails.collector.domain.escrow,
        tokens=payer_rails.deployment.payment_tokens,
        budget=PRICE_RAW,
        wallet=tmp_path / "wallet.sqlite",
        allowed_providers=[dev_address(9)],
    )
    with httpx.Client() as client, pytest.raises(errors.PaymentRefused, match="not among the providers"):
        infer(client, f"{agent.url}/v1/infer", sample()[0], paying)
    assert paying.spent() == {}


def test_paying_client__restarted__continues_the_collection(agent, payer_rails, provider_rails, tmp_path):
    def client_auth() -> PayingAuth:
        return PayingAuth(
            dev_key(CLIENT),
            chain_id=payer_rails.chain_id,
            escrow=payer_rails.collector.domain.escrow,
            tokens=payer_rails.deployment.payment_tokens,
            budget=100 * PRICE_RAW,
            wallet=tmp_path / "wallet.sqlite",
        )

    first = client_auth()
    with httpx.Client() as client:
        infer(client, f"{agent.url}/v1/infer", sample()[0], first)
    first.close()
    again = client_auth()
    with httpx.Client() as client:
        answer = infer(client, f"{agent.url}/v1/infer", sample()[0], again)
    again.close()

    assert answer.receipt.request_index == 2


# ───────────────────────── inputs ─────────────────────────


def test_infer__malformed_json__422_body(agent):
    response = _http.post(
        f"{agent.url}/v1/infer", content=b'{"pixels": [1, 2', headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "body"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"pixels": [1, 2]}, "pixels"),
        ({"pixels": [0] * 3 + [17] + [0] * 60}, "pixels.3"),
        ({"pixels": [0.5] * 64}, "pixels.0"),
        ({"image": [0] * 64}, "pixels"),
    ],
)
def test_infer__invalid_body__422_names_the_field(agent, body, field):
    response = _http.post(f"{agent.url}/v1/infer", json=body)

    assert response.status_code == 422
    assert field in [f["field"] for f in response.json()["fields"]]


def test_infer__oversized_body__413(agent):
    response = _http.post(f"{agent.url}/v1/infer", content=b"[" + b"0," * 4_096 + b"0]")

    assert response.status_code == 413
    assert "4096" in response.json()["error"]


def test_infer__oversized_streamed_body__413(agent):
    def chunks():
        for _ in range(8):
            yield b" " * 1_024

    response = _http.post(f"{agent.url}/v1/infer", content=chunks())  # chunked: no Content-Length

    assert response.status_code == 413


def test_infer__slow_client__408_after_the_request_timeout(agent):
    """A client that sends the headers and a piece of the body, then stalls (slow loris): the
    agent answers 408 once ``request_timeout`` (1 s here) passes, and frees the connection."""
    with socket.create_connection(("127.0.0.1", agent.port)) as conn:
        conn.sendall(b"POST /v1/infer HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\n")
        conn.sendall(b'Content-Length: 300\r\n\r\n{"pixels": [0, ')
        answer = conn.recv(4_096)

    assert answer.startswith(b"HTTP/1.1 408")


# ───────────────────────── health and metrics ─────────────────────────


def test_health__signed_challenge__verifies_as_the_provider(agent, provider_rails):
    challenge = os.urandom(32)

    answer = _http.get(f"{agent.url}/v1/health", params={"challenge": "0x" + challenge.hex()}).json()

    assert answer["provider"] == provider_rails.address
    assert verify_health(answer, challenge, provider_rails.chain_id, provider_rails.address)
    assert not verify_health(answer, os.urandom(32), provider_rails.chain_id, provider_rails.address)


@pytest.mark.parametrize("params", [{}, {"challenge": "0x1234"}, {"challenge": "zz" * 32}])
def test_health__missing_or_bad_challenge__422(agent, params):
    response = _http.get(f"{agent.url}/v1/health", params=params)

    assert response.status_code == 422
    assert response.json()["field"] == "challenge"


def test_metrics__counts_requests_and_paid_value(agent, auth):
    served = agent.metric("computerails_agent_requests_total", 'outcome="served"')
    paid = agent.metric("computerails_agent_paid_value_total")
    with httpx.Client() as client:
        infer(client, f"{agent.url}/v1/infer", sample()[0], auth)

    assert agent.metric("computerails_agent_requests_total", 'outcome="served"') == served + 1
    assert agent.metric("computerails_agent_paid_value_total") == paid + PRICE_RAW
    assert agent.metric("computerails_agent_outstanding") >= PRICE_RAW


# ───────────────────────── the command line ─────────────────────────


def test_cli_infer__prints_the_label(agent, anvil, deployment_file, tmp_path, monkeypatch, capsys):
    pixels, label = sample(2)
    (tmp_path / "digit.json").write_text(json.dumps(pixels))
    monkeypatch.setenv(KEY_VAR, dev_key(CLIENT))
    base = ["--rpc", anvil.url, "--deployment", str(deployment_file), "--private-key-env", KEY_VAR]
    args = ["infer", "--provider", agent.url, "--input", str(tmp_path / "digit.json"), "--budget", "1"]
    args += ["--wallet", str(tmp_path / "wallet.sqlite")]

    assert main(base + args) == 0
    assert capsys.readouterr().out.split()[0] == str(label)
    assert main(base + ["--json"] + args) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["label"], out["receipt"]["request_index"], out["spent"]["amount"]) == (label, 2, "0.02")


def test_cli_infer__over_max_price__one_error_line(agent, anvil, deployment_file, tmp_path, monkeypatch, capsys):
    (tmp_path / "digit.json").write_text(json.dumps({"pixels": sample()[0]}))
    monkeypatch.setenv(KEY_VAR, dev_key(CLIENT))
    base = ["--rpc", anvil.url, "--deployment", str(deployment_file), "--private-key-env", KEY_VAR]
    args = ["infer", "--provider", agent.url, "--input", str(tmp_path / "digit.json"), "--budget", "1"]
    args += ["--max-price", "0.001", "--wallet", str(tmp_path / "wallet.sqlite")]

    assert main(base + args) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: PaymentRefused: the provider asks 10000 per request")
