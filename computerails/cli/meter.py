"""``computerails meter ...``: the payer's side of pay per request (MeteredEscrow, issue 12)."""

from __future__ import annotations

import os
from decimal import Decimal

import click

from computerails.cli._common import ADDRESS, CliError, Settings, cli, console, parse_deadline
from computerails.cli._ui import AMOUNT, RoleGroup, amount, party, print_rows, when
from computerails.errors import TooEarly
from computerails.types import EscrowAccount, SignerState, SignerStatus


@cli.group(cls=RoleGroup)
def meter() -> None:
    """Pay per request: fund an escrow per provider, thaw, withdraw, authorize signers."""


def account_rows(a: EscrowAccount) -> dict[str, str]:
    return {
        "payer": a.payer,
        "provider": a.provider,
        "balance": amount(a.balance, a.token.symbol),
        "thawing": amount(a.thawing, a.token.symbol),
        "thaw ends": when(a.thaw_end),
    }


def signer_rows(status: SignerStatus) -> dict[str, str]:
    return {
        "signer": status.signer,
        "payer": status.payer or "-",
        "state": status.state.value,
        "thaw ends": when(status.thaw_end),
    }


@meter.command("deposit")
@click.argument("amount_", metavar="AMOUNT", type=AMOUNT)
@click.option("--provider", required=True, type=ADDRESS, help="The provider the escrow pays.")
@click.option("--token", type=ADDRESS, help="Payment token (default: the deployment's first).")
@click.option("--for", "payer", type=ADDRESS, help="Fund this payer's account instead of your own (they own it).")
@click.pass_obj
def meter_deposit(s: Settings, amount_: Decimal, provider: str, token: str | None, payer: str | None) -> None:
    """Add AMOUNT to the escrow for a provider (permits or approves as needed)."""
    rails = s.rails()
    if payer:
        account = rails.payer.deposit_for(payer, provider, amount_, token=token)
    else:
        account = rails.payer.deposit(provider, amount_, token=token)
    s.out(account, lambda: print_rows("Escrow funded", account_rows(account)))


@meter.command("thaw")
@click.argument("amount_", metavar="AMOUNT", type=AMOUNT, required=False)
@click.option("--provider", required=True, type=ADDRESS, help="The provider the escrow pays.")
@click.option("--token", type=ADDRESS, help="Payment token (default: the deployment's first).")
@click.option("--cancel", is_flag=True, help="Stop the running thaw instead.")
@click.pass_obj
def meter_thaw(s: Settings, amount_: Decimal | None, provider: str, token: str | None, cancel: bool) -> None:
    """Start thawing AMOUNT for withdrawal (replaces a running thaw and restarts its clock);
    collections keep drawing on the whole balance meanwhile."""
    if cancel == (amount_ is not None):
        raise CliError("give AMOUNT to thaw, or --cancel to stop the running thaw")
    rails = s.rails()
    if amount_ is None:
        account = rails.payer.cancel_thaw(provider, token=token)
        s.out(account, lambda: print_rows("Thaw cancelled", account_rows(account)))
        return
    account = rails.payer.thaw(provider, amount_, token=token)
    s.out(account, lambda: print_rows("Thawing", account_rows(account)))


@meter.command("withdraw")
@click.option("--provider", required=True, type=ADDRESS, help="The provider the escrow pays.")
@click.option("--token", type=ADDRESS, help="Payment token (default: the deployment's first).")
@click.pass_obj
def meter_withdraw(s: Settings, provider: str, token: str | None) -> None:
    """Withdraw what has thawed, once the thaw period ended."""
    payout = s.rails().payer.withdraw(provider, token=token)
    s.out(payout, lambda: console.print(f"Withdrew {amount(payout.amount, payout.token.symbol)} ({payout.tx_hash})"))


@meter.command("status")
@click.argument("payer", required=False, type=ADDRESS)
@click.option("--provider", required=True, type=ADDRESS, help="The provider the escrow pays.")
@click.option("--token", type=ADDRESS, help="Payment token (default: the deployment's first).")
@click.pass_obj
def meter_status(s: Settings, payer: str | None, provider: str, token: str | None) -> None:
    """The escrow account for a provider: balance, thawing, thaw end (of PAYER: no key needed)."""
    rails, who = party(s, payer)
    account = rails.payer.account(provider, token=token, payer=who)
    s.out(account, lambda: print_rows(f"Escrow of {who}", account_rows(account)))


@meter.group("signer", cls=RoleGroup)
def meter_signer() -> None:
    """Authorize and revoke hot keys that sign vouchers for you."""


@meter_signer.command("add")
@click.option(
    "--signer-key-env", required=True, help="Env var holding the hot key's private key (it signs its consent)."
)
@click.option("--deadline", default="1h", show_default=True, help="How long the consent proof is valid: 1h, unix, ISO.")
@click.pass_obj
def meter_signer_add(s: Settings, signer_key_env: str, deadline: str) -> None:
    """Authorize a hot key to sign vouchers for you, for life (a key never serves another payer)."""
    key = os.environ.get(signer_key_env)
    if not key:
        raise CliError(f"environment variable {signer_key_env} is empty or unset")
    valid_until = parse_deadline(deadline)
    status = s.rails().payer.authorize_signer(key, deadline=valid_until)
    s.out(status, lambda: print_rows("Signer authorized", signer_rows(status)))


@meter_signer.command("revoke")
@click.argument("signer", type=ADDRESS)
@click.pass_obj
def meter_signer_revoke(s: Settings, signer: str) -> None:
    """Revoke SIGNER in two steps: the first run starts its thaw (its vouchers keep paying for
    the signer thaw period); a run after the thaw ended revokes it for good."""
    rails = s.rails()
    status = rails.payer.signer(signer)
    if status.state is SignerState.THAWING and status.thaw_end is not None:
        if rails.now() < int(status.thaw_end.timestamp()):
            raise TooEarly(
                f"signer {signer} thaws until {when(status.thaw_end)}; run this again after that to revoke it"
            )
        s.confirm(f"Revoke {signer} for good? Its uncollected vouchers will pay nothing.")
        status = rails.payer.revoke_signer(signer)
        s.out(status, lambda: print_rows("Signer revoked", signer_rows(status)))
        return
    status = rails.payer.thaw_signer(signer)
    s.out(
        status,
        lambda: console.print(
            f"Signer {signer} thaws until {when(status.thaw_end)}; its vouchers pay until then. "
            "Run `computerails meter signer revoke` again after that to revoke it.",
            soft_wrap=True,
        ),
    )
