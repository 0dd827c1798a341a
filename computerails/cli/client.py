"""``computerails client ...``."""

from __future__ import annotations

from decimal import Decimal

import click
from rich.table import Table

from computerails.cli._common import (
    ADDRESS,
    CliError,
    Settings,
    cli,
    console,
    parse_deadline,
    parse_hash32,
)
from computerails.cli._ui import (
    AMOUNT,
    JOB_ID,
    RoleGroup,
    amount,
    job_rows,
    party,
    pending_note,
    print_jobs_by_stage,
    print_rows,
    warn_and_confirm,
)
from computerails.errors import NothingClaimable
from computerails.rails import ComputeRails
from computerails.types import JobStatus


@cli.group(cls=RoleGroup)
def client() -> None:
    """Lock payment for jobs, cancel, reclaim, dispute, withdraw."""


def _check_provider(s: Settings, rails: ComputeRails, provider: str) -> None:
    """Warn, and ask for --yes, before locking payment for a provider that cannot take the job."""
    status = rails.views.provider(provider)
    if not status.registered:
        problem = f"{provider} is not a registered provider: it cannot accept the job"
    elif status.jailed:
        problem = f"provider {provider} is jailed: it cannot accept the job until it unjails"
    elif status.left:
        problem = f"provider {provider} has left the network: it takes no new jobs"
    else:
        return
    warn_and_confirm(s, problem, "Lock the payment anyway? (it comes back only once you cancel the job)")


@client.command("create-job")
@click.option("--provider", required=True, type=ADDRESS, help="Provider address.")
@click.option("--unit-price", required=True, type=AMOUNT, help="Price per unit in token units, e.g. 0.10.")
@click.option("--max-units", required=True, type=click.IntRange(min=1))
@click.option("--deadline", default="2h", show_default=True, help="2h, 1d, unix seconds or ISO-8601.")
@click.option("--spec-hash", help="32-byte hex commitment to the workload.")
@click.option("--spec-file", type=click.Path(exists=True, dir_okay=False), help="Hash this file as the spec.")
@click.option("--token", type=ADDRESS, help="Payment token (default: the deployment's first).")
@click.pass_obj
def client_create_job(
    s: Settings,
    provider: str,
    unit_price: Decimal,
    max_units: int,
    deadline: str,
    spec_hash: str | None,
    spec_file: str | None,
    token: str | None,
) -> None:
    """Create a job and lock its escrow (approves or permits as needed). Asks for --yes first
    when the provider is not registered, is jailed or has left."""
    when_due = parse_deadline(deadline)
    spec = parse_hash32(spec_hash, spec_file, "spec-hash")
    rails = s.rails()
    _check_provider(s, rails, provider)
    job = rails.client.create_job(provider, unit_price, max_units, when_due, spec, token=token)
    s.out(job, lambda: print_rows(f"Job {job.id} created", job_rows(job, rails.staking_token.symbol)))


@client.command("cancel")
@click.argument("job_id", type=JOB_ID)
@click.pass_obj
def client_cancel(s: Settings, job_id: int) -> None:
    """Cancel a job its provider has not accepted."""
    rails = s.rails()
    job = rails.client.check_cancel(job_id)
    s.confirm(f"Cancel job {job_id} and get {amount(job.escrow, job.token.symbol)} back?")
    job = rails.client.cancel(job_id)
    refund = amount(job.escrow, job.token.symbol)
    s.out(job, lambda: console.print(f"Job {job_id} cancelled; {refund} is withdrawable"))


@client.command("reclaim")
@click.argument("job_id", type=JOB_ID)
@click.pass_obj
def client_reclaim(s: Settings, job_id: int) -> None:
    """Reclaim an accepted job whose deadline passed unattested."""
    job = s.rails().client.reclaim_expired(job_id)
    refund = amount(job.escrow, job.token.symbol)
    s.out(job, lambda: console.print(f"Job {job_id} expired; {refund} is withdrawable"))


@client.command("dispute")
@click.argument("job_id", type=JOB_ID)
@click.pass_obj
def client_dispute(s: Settings, job_id: int) -> None:
    """Dispute a success attestation, posting the bond."""
    rails = s.rails()
    job, bond = rails.client.check_dispute(job_id)  # refused before any question
    s.confirm(f"Dispute job {job_id}, posting a bond of {amount(bond, job.token.symbol)}?")
    job = rails.client.dispute(job_id)
    posted = amount(job.dispute_bond, job.token.symbol)
    s.out(job, lambda: console.print(f"Job {job_id} disputed; bond {posted} posted"))


@client.command("withdraw")
@click.option("--token", type=ADDRESS, help="Payment token (default: the deployment's first).")
@click.pass_obj
def client_withdraw(s: Settings, token: str | None) -> None:
    """Withdraw refunds (everything claimable in one token)."""
    rails = s.rails()
    try:
        payout = rails.client.withdraw(token)
    except NothingClaimable as exc:
        pending = rails.views.jobs(client=rails.address, status=(JobStatus.ATTESTED, JobStatus.DISPUTED))
        note = pending_note(pending, rails.now())
        raise CliError(f"NothingClaimable: {exc}" + (f"; {note}" if note else "")) from None
    s.out(payout, lambda: console.print(f"Withdrew {amount(payout.amount, payout.token.symbol)} ({payout.tx_hash})"))


@client.command("status")
@click.argument("job_id", type=JOB_ID, required=False)
@click.pass_obj
def client_status(s: Settings, job_id: int | None) -> None:
    """One job with the spec hash it was created with (no key needed), or all of this
    client's jobs."""
    if job_id is not None:
        rails = s.rails(signer=False)
        job = rails.client.job(job_id)
        now = rails.now()
        s.out(job, lambda: print_rows(f"Job {job_id}", job_rows(job, rails.staking_token.symbol, now)))
        return
    _list_jobs(s, None)


@client.command("jobs")
@click.argument("address", required=False, type=ADDRESS)
@click.option("--all", "show_all", is_flag=True, help="Also list ended jobs.")
@click.pass_obj
def client_jobs(s: Settings, address: str | None, show_all: bool) -> None:
    """This client's jobs (or ADDRESS's, no key needed), grouped by what comes next."""
    print_jobs_by_stage(s, "client", address, show_all)


def _list_jobs(s: Settings, address: str | None) -> None:
    rails, who = party(s, address)
    jobs = rails.views.jobs(client=who)
    now = rails.now()

    def human() -> None:
        table = Table(title=f"Jobs of {who}")
        for col in ("id", "status", "stage", "provider", "escrow", "units", "deadline"):
            table.add_column(col)
        for j in jobs:
            table.add_row(
                str(j.id),
                j.status.value,
                j.stage(now).value,
                j.provider,
                amount(j.escrow, j.token.symbol),
                f"{j.units}/{j.max_units}",
                j.deadline.strftime("%Y-%m-%d %H:%M:%S UTC"),
            )
        console.print(table)

    s.out(jobs, human)
