"""``computerails provider ...``."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress
from rich.table import Table

from computerails.cli._common import ADDRESS, CliError, Settings, cli, console
from computerails.cli._ui import (
    AMOUNT,
    JOB_ID,
    RoleGroup,
    amount,
    party,
    pending_note,
    print_jobs_by_stage,
    print_rows,
    provider_rows,
    when,
)
from computerails.collector import CollectOutcome
from computerails.types import JobStatus, to_raw
from computerails.vouchers import signed_from_json


@cli.group(cls=RoleGroup)
def provider() -> None:
    """Register, stake, unbond, accept jobs, collect vouchers, claim rewards."""


@provider.command("register")
@click.option("--metadata-uri", required=True, help="Where hardware, endpoint and GPU class are described.")
@click.option("--stake", required=True, type=AMOUNT, help="First stake in staking-token units.")
@click.pass_obj
def provider_register(s: Settings, metadata_uri: str, stake: Decimal) -> None:
    """Register as a provider with a first stake."""
    rails = s.rails()
    status = rails.provider.register(metadata_uri, stake)
    s.out(status, lambda: print_rows("Registered", provider_rows(status, rails.staking_token.symbol)))


@provider.command("stake")
@click.argument("amount_", metavar="AMOUNT", type=AMOUNT)
@click.pass_obj
def provider_stake(s: Settings, amount_: Decimal) -> None:
    """Add stake (in staking-token units)."""
    rails = s.rails()
    status = rails.provider.stake(amount_)
    symbol = rails.staking_token.symbol
    s.out(
        status, lambda: console.print(f"Staked {amount(amount_, symbol)}; active stake {amount(status.staked, symbol)}")
    )


@provider.command("unbond")
@click.argument("amount_", metavar="AMOUNT", type=AMOUNT)
@click.pass_obj
def provider_unbond(s: Settings, amount_: Decimal) -> None:
    """Start unbonding free stake (it stays slashable until withdrawn)."""
    rails = s.rails()
    symbol = rails.staking_token.symbol
    rails.provider.check_unbond(amount_)  # the limit is said before anything is asked
    s.confirm(f"Unbond {amount(amount_, symbol)}? A new request restarts the delay for everything unbonding.")
    status = rails.provider.request_unbond(amount_)
    s.out(
        status,
        lambda: console.print(f"Unbonding {amount(status.unbonding, symbol)} until {when(status.unbonding_end)}"),
    )


@provider.command("withdraw")
@click.pass_obj
def provider_withdraw(s: Settings) -> None:
    """Withdraw unbonded stake after the delay."""
    payout = s.rails().provider.withdraw_unbonded()
    s.out(payout, lambda: console.print(f"Withdrew {amount(payout.amount, payout.token.symbol)}"))


@provider.command("accept")
@click.argument("job_id", type=JOB_ID)
@click.pass_obj
def provider_accept(s: Settings, job_id: int) -> None:
    """Accept a job, locking its collateral."""
    rails = s.rails()
    job = rails.provider.accept(job_id)
    collateral = amount(job.collateral, rails.staking_token.symbol)
    s.out(job, lambda: console.print(f"Accepted job {job_id}; collateral {collateral} locked"))


@provider.command("unjail")
@click.pass_obj
def provider_unjail(s: Settings) -> None:
    """Leave jail once stake is back to the minimum."""
    status = s.rails().provider.unjail()
    s.out(status, lambda: console.print("Unjailed"))


@provider.command("leave")
@click.pass_obj
def provider_leave(s: Settings) -> None:
    """Stop taking new jobs for good (the uptime SLA ends with the current epoch)."""
    rails = s.rails()
    rails.provider.check_leave()
    s.confirm("Leave the network for good? No new jobs can be accepted afterwards.")
    status = rails.provider.leave()
    s.out(
        status,
        lambda: console.print(
            f"{status.address} has left; unbond with `computerails provider unbond AMOUNT` once its jobs end"
        ),
    )


@provider.command("claim")
@click.option(
    "--rewards",
    "rewards_source",
    metavar="FILE|URL",
    help="Also claim incentive emissions from this rewards file of the active root (a path or an http(s) URL).",
)
@click.pass_obj
def provider_claim(s: Settings, rewards_source: str | None) -> None:
    """Withdraw everything claimable: job payments and slash proceeds, and the MeteredEscrow's
    collected vouchers (what the provider agent earned per request); with --rewards, the
    provider's incentive emissions too."""
    rails = s.rails()
    if s.as_json:
        payouts = rails.provider.claim_rewards(rewards_source)
    else:
        with Progress(console=console, transient=True) as progress:
            progress.add_task("Claiming rewards", total=None)
            payouts = rails.provider.claim_rewards(rewards_source)

    def human() -> None:
        if not payouts:
            pending = rails.views.jobs(provider=rails.address, status=(JobStatus.ATTESTED, JobStatus.DISPUTED))
            note = pending_note(pending, rails.now())
            console.print("Nothing to claim" + (f": {note}" if note else ""), soft_wrap=True)
            return
        table = Table(title="Claimed")
        for col in ("token", "amount", "from", "tx"):
            table.add_column(col)
        for p in payouts:
            table.add_row(p.token.symbol, amount(p.amount, p.token.symbol), p.source, p.tx_hash)
        console.print(table)

    s.out(payouts, human)


@provider.command("jobs")
@click.argument("address", required=False, type=ADDRESS)
@click.option("--all", "show_all", is_flag=True, help="Also list ended jobs.")
@click.pass_obj
def provider_jobs(s: Settings, address: str | None, show_all: bool) -> None:
    """Jobs addressed to this provider (or ADDRESS, no key needed), grouped by what comes next:
    to accept, awaiting attestation, in challenge window, settleable, disputed ..."""
    print_jobs_by_stage(s, "provider", address, show_all)


@provider.command("status")
@click.argument("address", required=False, type=ADDRESS)
@click.pass_obj
def provider_status(s: Settings, address: str | None) -> None:
    """Stake, locked, unbonding, jailed and claimable (of ADDRESS: no key needed)."""
    rails, who = party(s, address)
    status = rails.provider.status(who)
    s.out(status, lambda: print_rows(f"Provider {status.address}", provider_rows(status, rails.staking_token.symbol)))


@provider.command("collect")
@click.option("--book", type=click.Path(dir_okay=False), help="The provider agent's voucher book (SQLite file).")
@click.option(
    "--voucher-file",
    type=click.Path(exists=True, dir_okay=False),
    help='JSON: {"voucher": {...}, "signature": "0x..."}, or a list of them.',
)
@click.option("--due", is_flag=True, help="Only what the collection policy says is due (with --book).")
@click.option("--native-price", type=AMOUNT, help="Payment-token units one native coin is worth (for --due).")
@click.option("--gas-price", type=AMOUNT, help="Gwei per gas the policy counts (default: the node's).")
@click.option("--token", type=ADDRESS, help="The token --native-price is for (default: the deployment's first).")
@click.pass_obj
def provider_collect(
    s: Settings,
    book: str | None,
    voucher_file: str | None,
    due: bool,
    native_price: Decimal | None,
    gas_price: Decimal | None,
    token: str | None,
) -> None:
    """Collect vouchers in one transaction: the book's latest voucher of every collection that
    pays (or, with --due, only those worth the gas or whose payer's or signer's thaw ends within
    a collection interval), or the vouchers of a file. Skipped vouchers are listed with the
    escrow's reason."""
    if (book is None) == (voucher_file is None):
        raise CliError("give --book FILE (the provider agent's voucher book) or --voucher-file FILE")
    if due and book is None:
        raise CliError("--due decides over a --book; a --voucher-file is collected as it is")
    if due and native_price is None:
        raise CliError("--due needs --native-price: how many payment-token units one native coin is worth")
    rails = s.rails()
    collector = rails.collector
    if voucher_file is not None:
        data: Any = json.loads(Path(voucher_file).read_text())
        signed = [signed_from_json(item) for item in (data if isinstance(data, list) else [data])]
        outcomes = collector.collect_many(signed) if signed else []
    else:
        assert book is not None
        if not Path(book).exists():
            raise CliError(f"no voucher book at {book}")
        info = rails.token(token)
        prices = {info.address: to_raw(native_price, info.decimals)} if native_price is not None else {}
        wei = None if gas_price is None else to_raw(gas_price, 9)
        policy = collector.policy(prices)
        outcomes = collector.collect_due(collector.open_book(book), policy, gas_price=wei, on_demand=not due)
    s.out([_outcome(o) for o in outcomes], lambda: _print_outcomes(outcomes))


def _outcome(o: CollectOutcome) -> dict[str, Any]:
    return {
        "index": o.index,
        "collection_id": o.voucher.collection_id,
        "payer": o.voucher.payer,
        "payment": o.payment,
        "error": None if o.error is None else {"name": o.error.error_name, "message": str(o.error)},
    }


def _print_outcomes(outcomes: list[CollectOutcome]) -> None:
    if not outcomes:
        console.print("Nothing to collect")
        return
    table = Table(title="Collected")
    for col in ("#", "collection", "payer", "gross", "net", "outstanding", "result"):
        table.add_column(col)
    for o in outcomes:
        p = o.payment
        if p is None:
            table.add_row(str(o.index), o.voucher.collection_id[:10], o.voucher.payer, "-", "-", "-", str(o.error))
            continue
        symbol = p.token.symbol
        row = [amount(p.gross, symbol), amount(p.provider_net, symbol), amount(p.outstanding, symbol)]
        table.add_row(str(o.index), p.collection_id[:10], p.payer, *row, "collected")
    console.print(table)


@provider.command("serve")
@click.option(
    "--config",
    "config",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The agent's TOML settings (COMPUTERAILS_AGENT_* variables override it).",
)
def provider_serve(config: Path) -> None:
    """Run the provider agent: paid inference over HTTP, vouchers collected by policy.

    The agent reads its node, deployment and keystore from the settings file, not from the
    global options. It stops gracefully on SIGTERM or Ctrl-C."""
    from computerails.agent.config import load_settings
    from computerails.agent.serve import serve
    from computerails.service.serving import configure_logging

    configure_logging()
    serve(load_settings(config))
