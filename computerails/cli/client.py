"""``computerails client ...``."""

from __future__ import annotations

import click
from rich.table import Table

from computerails.cli._common import (
    ADDRESS,
    Settings,
    cli,
    console,
    parse_amount,
    parse_deadline,
    parse_hash32,
    print_table,
)


@cli.group()
def client() -> None:
    """Lock payment for jobs, cancel, reclaim, dispute, withdraw."""


@client.command("create-job")
@click.option("--provider", required=True, type=ADDRESS, help="Provider address.")
@click.option("--unit-price", required=True, help="Price per unit in token units, e.g. 0.10.")
@click.option("--max-units", required=True, type=click.IntRange(min=1))
@click.option("--deadline", default="2h", show_default=True, help="2h, 1d, unix seconds or ISO-8601.")
@click.option("--spec-hash", help="32-byte hex commitment to the workload.")
@click.option("--spec-file", type=click.Path(exists=True, dir_okay=False), help="Hash this file as the spec.")
@click.option("--token", type=ADDRESS, help="Payment token (default: the deployment's first).")
@click.pass_obj
def client_create_job(
    s: Settings,
    provider: str,
    unit_price: str,
    max_units: int,
    deadline: str,
    spec_hash: str | None,
    spec_file: str | None,
    token: str | None,
) -> None:
    """Create a job and lock its escrow (approves or permits as needed)."""
    job = s.rails().client.create_job(
        provider,
        parse_amount(unit_price, "--unit-price"),
        max_units,
        parse_deadline(deadline),
        parse_hash32(spec_hash, spec_file, "spec-hash"),
        token=token,
    )
    s.out(job, lambda: print_table(f"Job {job.id} created", job.model_dump()))


@client.command("cancel")
@click.argument("job_id", type=int)
@click.pass_obj
def client_cancel(s: Settings, job_id: int) -> None:
    """Cancel a job its provider has not accepted."""
    s.confirm(f"Cancel job {job_id}?")
    job = s.rails().client.cancel(job_id)
    s.out(job, lambda: console.print(f"Job {job_id} cancelled; {job.escrow} {job.token.symbol} is withdrawable"))


@client.command("reclaim")
@click.argument("job_id", type=int)
@click.pass_obj
def client_reclaim(s: Settings, job_id: int) -> None:
    """Reclaim an accepted job whose deadline passed unattested."""
    job = s.rails().client.reclaim_expired(job_id)
    s.out(job, lambda: console.print(f"Job {job_id} expired; {job.escrow} {job.token.symbol} is withdrawable"))


@client.command("dispute")
@click.argument("job_id", type=int)
@click.pass_obj
def client_dispute(s: Settings, job_id: int) -> None:
    """Dispute a success attestation, posting the bond."""
    rails = s.rails()
    bond = rails.escrow.functions.disputeBondFor(job_id).call()
    s.confirm(f"Dispute job {job_id}, posting a bond of {bond} raw units?")
    job = rails.client.dispute(job_id)
    s.out(job, lambda: console.print(f"Job {job_id} disputed; bond {job.dispute_bond} {job.token.symbol}"))


@client.command("withdraw")
@click.option("--token", type=ADDRESS, help="Payment token (default: the deployment's first).")
@click.pass_obj
def client_withdraw(s: Settings, token: str | None) -> None:
    """Withdraw refunds (everything claimable in one token)."""
    payout = s.rails().client.withdraw(token)
    s.out(payout, lambda: console.print(f"Withdrew {payout.amount} {payout.token.symbol} ({payout.tx_hash})"))


@client.command("status")
@click.argument("job_id", type=int, required=False)
@click.pass_obj
def client_status(s: Settings, job_id: int | None) -> None:
    """One job, or all of this client's jobs."""
    rails = s.rails()
    if job_id is not None:
        job = rails.client.job(job_id)
        s.out(job, lambda: print_table(f"Job {job_id}", job.model_dump()))
        return
    jobs = rails.client.jobs()

    def human() -> None:
        table = Table(title=f"Jobs of {rails.address}")
        for col in ("id", "status", "provider", "escrow", "units", "deadline"):
            table.add_column(col)
        for j in jobs:
            table.add_row(
                str(j.id),
                j.status.value,
                j.provider,
                f"{j.escrow} {j.token.symbol}",
                f"{j.units}/{j.max_units}",
                j.deadline.isoformat(),
            )
        console.print(table)

    s.out(jobs, human)
