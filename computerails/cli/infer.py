"""``computerails infer``: one paid request to a provider agent (issue 13)."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import click

from computerails.cli._common import ADDRESS, CliError, Settings, cli, console
from computerails.cli._ui import AMOUNT
from computerails.errors import InvalidAmount
from computerails.types import from_raw, to_raw

DEFAULT_WALLET = "~/.computerails/payments.sqlite"


@cli.command("infer")
@click.option("--provider", "url", required=True, help="The provider agent's base URL (http://host:port).")
@click.option(
    "--input",
    "input_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON file: 64 integers 0..16, or {"pixels": [...]}.',
)
@click.option(
    "--budget", required=True, type=AMOUNT, help="The most this provider's collection may reach (token units)."
)
@click.option("--max-price", type=AMOUNT, help="The most one request may cost (token units).")
@click.option("--allow", "allowed", multiple=True, type=ADDRESS, help="Pay only these providers (repeatable).")
@click.option("--token", type=ADDRESS, help="Payment token (default: the deployment's first).")
@click.option(
    "--wallet",
    default=lambda: os.environ.get("COMPUTERAILS_WALLET", DEFAULT_WALLET),
    show_default=DEFAULT_WALLET,
    help="SQLite file of the cumulative voucher figures ($COMPUTERAILS_WALLET).",
)
@click.option("--timeout", default=30.0, show_default=True, help="Seconds per HTTP request.")
@click.pass_obj
def infer_command(
    s: Settings,
    url: str,
    input_file: Path,
    budget: Decimal,
    max_price: Decimal | None,
    allowed: tuple[str, ...],
    token: str | None,
    wallet: str,
    timeout: float,
) -> None:
    """Classify an 8x8 digit with a provider's model, paying per request with a voucher."""
    import httpx  # the paying client (httpx, the model's numpy) loads when the command runs

    from computerails import _http
    from computerails.pay_client import PayingAuth, infer

    try:
        data = json.loads(input_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CliError(f"cannot read {input_file}: {exc}") from None
    pixels = data.get("pixels") if isinstance(data, dict) else data
    if not isinstance(pixels, list):
        raise CliError(f'{input_file} holds neither a list of pixels nor {{"pixels": [...]}}')
    rails = s.rails()
    info = rails.token(token)
    try:
        budget_raw = to_raw(budget, info.decimals)
        max_raw = None if max_price is None else to_raw(max_price, info.decimals)
    except InvalidAmount as exc:
        raise CliError(str(exc)) from None
    auth = PayingAuth(
        rails.require_account().key,
        chain_id=rails.chain_id,
        escrow=rails.collector.domain.escrow,
        tokens=[info.address],
        budget=budget_raw,
        wallet=Path(wallet).expanduser(),
        max_price=max_raw,
        allowed_providers=list(allowed) or None,
    )
    try:
        with _http.client(timeout=timeout) as client:
            answer = infer(client, url.rstrip("/") + "/v1/infer", pixels, auth)
        spent = auth.spent().get(answer.receipt.provider, 0)
    except httpx.HTTPStatusError as exc:
        raise CliError(f"the provider answered {exc.response.status_code}: {exc.response.text[:300]}") from None
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach {url}: {exc}") from None
    finally:
        auth.close()
    out = answer.model_dump(mode="json") | {"spent": {"raw": str(spent), "amount": str(from_raw(spent, info.decimals))}}
    s.out(
        out,
        lambda: console.print(
            f"{answer.label}  (request {answer.receipt.request_index}; spent {from_raw(spent, info.decimals)} "
            f"{info.symbol} with {answer.receipt.provider})"
        ),
    )
