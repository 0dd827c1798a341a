"""Addresses from users: a mixed-case address with a wrong EIP-55 checksum (a typo) is refused
with InvalidAddress before anything is sent; all-lower-case and all-upper-case addresses are
accepted, as wallets accept them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from eth_utils import to_checksum_address
from pydantic import ValidationError

from computerails import Attestation, Signature, UptimeReport, errors
from computerails.addresses import parse_address
from tests.support.sdk import RESULT, SPEC, nonce_of

CHECKSUMMED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # the first example of EIP-55


def flip_case(address: str) -> str:
    """`address` with the case of its first hex letter flipped: still mixed case, checksum broken."""
    i = next(i for i, c in enumerate(address) if i >= 2 and c.isalpha())
    typo = address[:i] + address[i].swapcase() + address[i + 1 :]
    assert typo[2:] not in (typo[2:].lower(), typo[2:].upper())
    return typo


def mistype_digit(address: str) -> str:
    """`address` with one digit mistyped and its letters' case kept: a checksum of another address."""
    i = next(i for i, c in enumerate(address) if i >= 2 and c.isdigit())
    typo = address[:i] + str((int(address[i]) + 1) % 10) + address[i + 1 :]
    assert to_checksum_address(typo) != typo
    return typo


TYPOS = [pytest.param(flip_case, id="case_flipped"), pytest.param(mistype_digit, id="digit_mistyped")]


# ───────────────────────── the parser ─────────────────────────


@pytest.mark.parametrize(
    "given", [CHECKSUMMED, CHECKSUMMED.lower(), "0x" + CHECKSUMMED[2:].upper()], ids=["checksummed", "lower", "upper"]
)
def test_parse_address__checksummed_lower_or_upper__accepted_checksummed(given):
    assert parse_address(given) == CHECKSUMMED


@pytest.mark.parametrize("typo", TYPOS)
def test_parse_address__mistyped_checksum__invalid_address_names_it(typo):
    wrong = typo(CHECKSUMMED)

    with pytest.raises(errors.InvalidAddress) as info:
        parse_address(wrong, "provider")

    assert str(info.value) == (
        f"provider address {wrong} has a wrong EIP-55 checksum: it is probably mistyped; copy it again from its source"
    )
    assert (info.value.address, info.value.what) == (wrong, "provider")
    assert isinstance(info.value, errors.PreconditionError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "given",
    [
        "0x" + "ab" * 19,
        "0x" + "ab" * 21,
        "ab" * 20,
        "0X" + "ab" * 20,
        "0x" + "zz" * 20,
        " " + CHECKSUMMED,
        CHECKSUMMED + "\n",
        "",
        1234,
    ],
    ids=[
        "19_bytes",
        "21_bytes",
        "no_0x",
        "capital_0X",
        "not_hex",
        "leading_space",
        "trailing_newline",
        "empty",
        "not_a_string",
    ],
)
def test_parse_address__not_20_bytes_hex__invalid_address(given):
    with pytest.raises(errors.InvalidAddress, match="is not 20 bytes of hex"):
        parse_address(given)


# ───────────────────────── the SDK refuses before sending ─────────────────────────


def _books(rails, usd):
    """What a wrongly sent createJob (or its approval) would change."""
    token = rails.erc20(usd.address)
    pending = rails.w3.eth.get_transaction_count(rails.address, "pending")
    return (
        nonce_of(rails),
        pending,
        rails.views.wallet(rails.address),
        rails.views.job_count(),
        token.functions.allowance(rails.address, rails.escrow.address).call(),
    )


@pytest.mark.parametrize("typo", TYPOS)
@pytest.mark.parametrize("payment", ["auto", "approve"])
def test_create_job__mistyped_checksum__refused_nothing_sent(
    client_rails, registered_provider, faucet, usd, typo, payment
):
    faucet(client_rails, usd=100)
    wrong = typo(registered_provider.address)
    before = _books(client_rails, usd)

    with pytest.raises(errors.InvalidAddress, match=f"provider address {wrong} has a wrong EIP-55 checksum"):
        client_rails.client.create_job(wrong, "0.10", 100, timedelta(hours=2), SPEC, payment=payment)

    assert _books(client_rails, usd) == before == (before[0], before[0], Decimal(100), 0, 0)


def test_create_job__mistyped_token__refused_nothing_sent(client_rails, registered_provider, faucet, usd):
    faucet(client_rails, usd=100)
    before = _books(client_rails, usd)

    with pytest.raises(errors.InvalidAddress, match="token address .* has a wrong EIP-55 checksum"):
        client_rails.client.create_job(
            registered_provider.address, "0.10", 100, timedelta(hours=2), SPEC, token=flip_case(usd.address)
        )

    assert _books(client_rails, usd) == before


def test_create_jobs__one_mistyped_provider__refused_nothing_sent(client_rails, registered_provider, faucet, usd):
    faucet(client_rails, usd=100)
    good = {
        "provider": registered_provider.address,
        "unit_price": "0.10",
        "max_units": 10,
        "deadline": timedelta(hours=2),
        "spec_hash": SPEC,
    }
    before = _books(client_rails, usd)

    with pytest.raises(errors.InvalidAddress, match="has a wrong EIP-55 checksum"):
        client_rails.client.create_jobs([good, {**good, "provider": mistype_digit(registered_provider.address)}])

    assert _books(client_rails, usd) == before


@pytest.mark.parametrize("case", [str.lower, str.upper], ids=["lower", "upper"])
def test_create_job__provider_all_lower_or_upper_case__accepted_as_checksummed(
    client_rails, registered_provider, faucet, case
):
    faucet(client_rails, usd=10)
    typed = "0x" + case(registered_provider.address[2:])

    job = client_rails.client.create_job(typed, "0.10", 100, timedelta(hours=2), SPEC)

    assert job.provider == registered_provider.address
    assert client_rails.views.job(job.id).provider == registered_provider.address


def test_views__mistyped_address__invalid_address_each(readonly, registered_provider, client_rails):
    wrong = flip_case(registered_provider.address)
    reads = {
        "provider": lambda: readonly.views.provider(wrong),
        "status": lambda: readonly.provider.status(wrong),
        "claimable": lambda: readonly.views.claimable(wrong),
        "claimable_raw": lambda: readonly.views.claimable_raw(wrong),
        "wallet": lambda: readonly.views.wallet(wrong),
        "balances": lambda: readonly.views.balances(wrong),
        "jobs_by_provider": lambda: readonly.views.jobs(provider=wrong),
        "jobs_by_client": lambda: readonly.views.jobs(client=flip_case(client_rails.address)),
        "is_reported": lambda: readonly.views.is_reported(wrong, 0),
        "payment_token": lambda: readonly.views.payment_token(flip_case(readonly.token().address)),
        "token": lambda: readonly.token(flip_case(readonly.token().address)),
    }
    refused = {}
    for name, read in reads.items():
        with pytest.raises(errors.InvalidAddress) as info:
            read()
        refused[name] = "has a wrong EIP-55 checksum" in str(info.value)
    assert refused == {name: True for name in reads}
    assert readonly.views.provider(registered_provider.address.lower()).staked == Decimal(2_000)


@pytest.mark.parametrize(
    "model, field",
    [
        (
            lambda a: Attestation(job_id=1, provider=a, success=True, units=1, result_hash=RESULT, deadline=1),
            "provider",
        ),
        (lambda a: UptimeReport(provider=a, epoch=1, uptime_bps=1), "provider"),
        (lambda a: Signature(signer=a, signature="0x" + "00" * 65), "signer"),
    ],
    ids=["attestation", "uptime_report", "signature"],
)
def test_models__mistyped_address__validation_error_from_invalid_address(model, field):
    wrong = flip_case(CHECKSUMMED)

    with pytest.raises(ValidationError) as info:
        model(wrong)

    (error,) = info.value.errors()
    assert error["loc"] == (field,)
    assert isinstance(error["ctx"]["error"], errors.InvalidAddress)
    assert f"{field} address {wrong} has a wrong EIP-55 checksum" in str(info.value)
    assert getattr(model(CHECKSUMMED.lower()), field) == CHECKSUMMED
