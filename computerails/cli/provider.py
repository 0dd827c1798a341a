"""``computerails provider ...``."""

from __future__ import annotations

import click
from rich.progress import Progress
from rich.table import Table

from computerails.cli._common import ADDRESS, Settings, cli, console, parse_amount, print_table


@cli.group()
def provider() -> None:
    """Register, stake, unbond, accept jobs, claim rewards."""


@provider.command("register")
@click.option("--metadata-uri", required=True, help="Where hardware, endpoint and GPU class are described.")
@click.option("--stake", required=True, help="First stake in staking-token units.")
@click.pass_obj
def provider_register(s: Settings, metadata_uri: str, stake: str) -> None:
    """Register as a provider with a first stake."""
    status = s.rails().provider.register(metadata_uri, parse_amount(stake, "--stake"))
    s.out(status, lambda: print_table("Registered", status.model_dump()))


@provider.command("stake")
@click.argument("amount")
@click.pass_obj
def provider_stake(s: Settings, amount: str) -> None:
    """Add stake."""
    status = s.rails().provider.stake(parse_amount(amount, "amount"))
    s.out(status, lambda: console.print(f"Staked; active stake {status.staked}"))


@provider.command("unbond")
@click.argument("amount")
@click.pass_obj
def provider_unbond(s: Settings, amount: str) -> None:
    """Start unbonding free stake (it stays slashable until withdrawn)."""
    s.confirm(f"Unbond {amount}? A new request restarts the delay for everything unbonding.")
    status = s.rails().provider.request_unbond(parse_amount(amount, "amount"))
    s.out(status, lambda: console.print(f"Unbonding {status.unbonding} until {status.unbonding_end}"))


@provider.command("withdraw")
@click.pass_obj
def provider_withdraw(s: Settings) -> None:
    """Withdraw unbonded stake after the delay."""
    payout = s.rails().provider.withdraw_unbonded()
    s.out(payout, lambda: console.print(f"Withdrew {payout.amount} {payout.token.symbol}"))


@provider.command("accept")
@click.argument("job_id", type=int)
@click.pass_obj
def provider_accept(s: Settings, job_id: int) -> None:
    """Accept a job, locking its collateral."""
    job = s.rails().provider.accept(job_id)
    s.out(job, lambda: console.print(f"Accepted job {job_id}; collateral {job.collateral} locked"))


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
    s.confirm("Leave the network for good? No new jobs can be accepted afterwards.")
    status = s.rails().provider.leave()
    s.out(status, lambda: console.print(f"{status.address} has left; unbond with `provider unbond` once jobs end"))


@provider.command("claim")
@click.pass_obj
def provider_claim(s: Settings) -> None:
    """Withdraw everything claimable (payments and slash proceeds)."""
    rails = s.rails()
    if s.as_json:
        payouts = rails.provider.claim_rewards()
    else:
        with Progress(console=console, transient=True) as progress:
            progress.add_task("Claiming rewards", total=None)
            payouts = rails.provider.claim_rewards()

    def human() -> None:
        if not payouts:
            console.print("Nothing to claim")
            return
        table = Table(title="Claimed")
        for col in ("token", "amount", "from", "tx"):
            table.add_column(col)
        for p in payouts:
            table.add_row(p.token.symbol, str(p.amount), p.source, p.tx_hash)
        console.print(table)

    s.out(payouts, human)


@provider.command("status")
@click.argument("address", required=False, type=ADDRESS)
@click.pass_obj
def provider_status(s: Settings, address: str | None) -> None:
    """Stake, locked, unbonding, jailed and claimable."""
    rails = s.rails(signer=address is None)
    status = rails.provider.status(address)
    s.out(status, lambda: print_table(f"Provider {status.address}", status.model_dump()))
