"""``computerails arbitrator ...``."""

from __future__ import annotations

import click
from rich.table import Table

from computerails.cli._common import Settings, cli, console
from computerails.cli._ui import JOB_ID, RoleGroup, amount, status, when


@cli.group(cls=RoleGroup)
def arbitrator() -> None:
    """List open disputes and rule on them."""


@arbitrator.command("disputes")
@click.option("--open-only", is_flag=True, help="Leave out lapsed disputes (no longer resolvable).")
@click.pass_obj
def arbitrator_disputes(s: Settings, open_only: bool) -> None:
    """Disputed jobs, with the bond and the time by which to rule (no key needed)."""
    rails = s.rails(signer=False)
    disputes = rails.arbitrator.disputes(include_lapsed=not open_only)

    def human() -> None:
        if not disputes:
            console.print("No open disputes")
            return
        table = Table(title=f"Disputes ({len(disputes)})")
        for col in ("job", "rule by", "bond", "escrow", "units", "client", "provider"):
            table.add_column(col)
        for d in disputes:
            sym = d.token.symbol
            table.add_row(
                str(d.job_id),
                when(d.dispute_ends) + (" (lapsed: settle it)" if d.lapsed else ""),
                amount(d.bond, sym),
                amount(d.escrow, sym),
                f"{d.units}/{d.max_units}",
                d.client,
                d.provider,
            )
        console.print(table)

    s.out(disputes, human)


@arbitrator.command("resolve")
@click.argument("job_id", type=JOB_ID)
@click.option(
    "--upheld/--rejected",
    default=None,
    help="--upheld: the client is right (refund, bond back, collateral slashed); "
    "--rejected: the provider is paid and receives the bond.",
)
@click.pass_obj
def arbitrator_resolve(s: Settings, job_id: int, upheld: bool | None) -> None:
    """Rule on a disputed job."""
    if upheld is None:
        raise click.UsageError("say how: --upheld (for the client) or --rejected (for the provider)")
    rails = s.rails()
    disputed = rails.arbitrator.check_resolve(job_id)  # refused before any question
    bond = amount(disputed.dispute_bond, disputed.token.symbol)
    if upheld:
        question = f"Uphold the dispute on job {job_id}? The client is refunded and gets its {bond} bond back."
    else:
        question = f"Reject the dispute on job {job_id}? The provider is paid and receives the {bond} bond."
    s.confirm(question)
    job = rails.arbitrator.resolve(job_id, upheld)
    s.out(
        job,
        lambda: console.print(
            f"Dispute on job {job_id} {'upheld' if upheld else 'rejected'}: job {status(job.status)}"
        ),
    )
