"""`computerails meter ...` and `computerails provider collect` (issue 12): the payer's escrow and
signers from the command line, collection from a voucher file or the provider agent's book, and
every refused input as one `error:` line with nothing sent."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from eth_account import Account

from computerails.devnet import dev_key
from computerails.types import Raw
from computerails.vouchers import signed_to_json
from tests.support.sdk import CLIENT, PROVIDER, nonce_of, warp

PROVIDER_ADDRESS = Account.from_key(dev_key(PROVIDER)).address
HOT_KEY = "0x" + "4b" * 32
HOT = Account.from_key(HOT_KEY).address
MUSD = 10**6


@pytest.fixture
def funded(client_rails, registered_provider, faucet):
    """20 mUSD escrowed for the provider, registered with stake to back its collections."""
    faucet(client_rails, usd=100)
    client_rails.payer.deposit(PROVIDER_ADDRESS, 20)
    return client_rails


@pytest.fixture
def meter(funded):
    return funded.payer.meter(dev_key(CLIENT), PROVIDER_ADDRESS, 20)


def test_meter_deposit__then_status_without_key__balance_shown(run, client_rails, faucet):
    faucet(client_rails, usd=10)

    deposited = run(CLIENT, "meter", "deposit", "7.5", "--provider", PROVIDER_ADDRESS)
    status = run(None, "meter", "status", client_rails.address, "--provider", PROVIDER_ADDRESS)

    assert deposited["balance"] == status["balance"] == "7.5"
    assert status["thaw_end"] is None


def test_meter_thaw__then_cancel__human_output(run, funded):
    text = run(CLIENT, "meter", "thaw", "5", "--provider", PROVIDER_ADDRESS, as_json=False)
    cancelled = run(CLIENT, "meter", "thaw", "--cancel", "--provider", PROVIDER_ADDRESS)

    assert "Thawing" in text and "5 mUSD" in text
    assert (cancelled["thawing"], cancelled["thaw_end"]) == ("0", None)


def test_meter_withdraw__after_thaw__payout(w3, run, funded):
    run(CLIENT, "meter", "thaw", "5", "--provider", PROVIDER_ADDRESS)
    warp(w3, 3 * 86_400)

    payout = run(CLIENT, "meter", "withdraw", "--provider", PROVIDER_ADDRESS)

    assert (payout["amount"], payout["source"]) == ("5", "metered")


def test_meter_signer__add_then_revoke_in_two_runs(w3, run):
    added = run(CLIENT, "meter", "signer", "add", "--signer-key-env", "HOT_KEY", env={"HOT_KEY": HOT_KEY})
    thawing = run(CLIENT, "meter", "signer", "revoke", HOT)
    warp(w3, 2 * 86_400)
    revoked = run(CLIENT, "--yes", "meter", "signer", "revoke", HOT)

    assert (added["signer"], added["state"]) == (HOT, "authorized")
    assert thawing["state"] == "thawing"
    assert revoked["state"] == "revoked"


def test_provider_collect__voucher_file__good_and_stale_reported(run, meter, tmp_path):
    stale = meter.next(Raw(MUSD))
    latest = meter.next(Raw(2 * MUSD))
    path = tmp_path / "vouchers.json"
    path.write_text(json.dumps([signed_to_json(*latest), signed_to_json(*stale)]))

    good, skipped = run(PROVIDER, "provider", "collect", "--voucher-file", path)

    assert (good["payment"]["gross"], good["payment"]["provider_net"], good["error"]) == ("3", "2.925", None)
    assert skipped["payment"] is None and skipped["error"]["name"] == "StaleVoucher"


def test_provider_collect__book__collects_what_pays_then_nothing(run, provider_rails, meter, tmp_path):
    path = tmp_path / "book.sqlite"
    book = provider_rails.collector.open_book(path)
    provider_rails.collector.accept(book, *meter.next(Raw(MUSD)))

    (collected,) = run(PROVIDER, "provider", "collect", "--book", path)
    text = run(PROVIDER, "provider", "collect", "--book", path, as_json=False)

    assert collected["payment"]["gross"] == "1"
    assert "Nothing to collect" in text


def test_provider_claim__collected_vouchers__withdrawn_to_the_wallet(run, provider_rails, meter, tmp_path):
    path = tmp_path / "book.sqlite"
    provider_rails.collector.accept(provider_rails.collector.open_book(path), *meter.next(Raw(MUSD)))
    (collected,) = run(PROVIDER, "provider", "collect", "--book", path)
    wallet = provider_rails.views.wallet(PROVIDER_ADDRESS)

    (payout,) = run(PROVIDER, "provider", "claim")

    assert payout["source"] == "metered" and payout["amount"] == collected["payment"]["provider_net"]
    assert provider_rails.views.wallet(PROVIDER_ADDRESS) == wallet + Decimal(payout["amount"])
    assert provider_rails.collector.claimable() == 0
    assert run(PROVIDER, "provider", "claim") == []


def test_provider_collect__due_at_a_low_native_price__waits(run, provider_rails, meter, tmp_path):
    path = tmp_path / "book.sqlite"
    provider_rails.collector.accept(provider_rails.collector.open_book(path), *meter.next(Raw(MUSD)))

    outcomes = run(
        PROVIDER, "provider", "collect", "--book", path, "--due", "--native-price", "3000", "--gas-price", 10
    )

    assert outcomes == []  # 1 mUSD is not worth 42,470 gas at 10 gwei and 3,000 mUSD per coin


# ───────────────────────── refused input: one line, nothing sent ─────────────────────────


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("meter", "deposit", "-5", "--provider", PROVIDER_ADDRESS), "-5 is negative"),
        (("meter", "deposit", "5"), "Missing option '--provider'"),
        (("meter", "deposit", "5", "--provider", PROVIDER_ADDRESS.lower()[:-1]), "address"),
        (("meter", "thaw", "--provider", PROVIDER_ADDRESS), "give AMOUNT to thaw, or --cancel"),
        (("meter", "thaw", "50", "--provider", PROVIDER_ADDRESS), "InsufficientBalance"),
        (("meter", "withdraw", "--provider", PROVIDER_ADDRESS), "computerails meter thaw --provider"),
        (("meter", "signer", "add", "--signer-key-env", "UNSET_VAR_FOR_TEST"), "UNSET_VAR_FOR_TEST is empty or unset"),
        (("meter", "signer", "revoke", HOT), "NotAllowed"),
        (("provider", "collect"), "give --book FILE"),
        (("provider", "collect", "--book", "/nonexistent/book.sqlite", "--due"), "--due needs --native-price"),
    ],
)
def test_meter_and_collect__bad_input__one_error_line_nothing_sent(fail, funded, args, expected):
    before = nonce_of(funded)

    line = fail(CLIENT, *args)

    assert expected in line
    assert nonce_of(funded) == before


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "error: "),
        ('{"voucher": 1}', "InvalidVoucher"),
        ('{"voucher": {"payer": "0x12"}, "signature": "0x00"}', "InvalidVoucher"),
    ],
)
def test_provider_collect__bad_voucher_file__one_error_line(fail, tmp_path, content, expected):
    path = tmp_path / "vouchers.json"
    path.write_text(content)

    assert expected in fail(PROVIDER, "provider", "collect", "--voucher-file", path)


def test_provider_collect__voucher_for_another_provider__refused_unsent(fail, funded, provider_rails, tmp_path):
    other = funded.payer.meter(dev_key(CLIENT), funded.address, 1)
    path = tmp_path / "vouchers.json"
    path.write_text(json.dumps(signed_to_json(*other.next(Raw(1)))))
    before = nonce_of(provider_rails)

    line = fail(PROVIDER, "provider", "collect", "--voucher-file", path)

    assert line.startswith("error: NotAllowed: voucher of collection")
    assert nonce_of(provider_rails) == before
