"""``computerails job ...``: what anyone may do with a job (settle it, look at it)."""

from __future__ import annotations

import click
from rich.table import Table

from computerails.cli._common import Settings, cli, console
from computerails.cli._ui import JOB_ID, RoleGroup, amount, job_rows, print_rows


@cli.group(cls=RoleGroup)
def job() -> None:
    """Settle jobs (anyone may) and show them."""


@job.command("settle")
@click.argument("job_ids", nargs=-1, required=True, type=JOB_ID, metavar="JOB_ID...")
@click.pass_obj
def job_settle(s: Settings, job_ids: tuple[int, ...]) -> None:
    """Settle jobs whose challenge window closed (or whose dispute lapsed): the provider is paid
    for the attested units, the client refunded the rest. One id: settle; several: settleMany."""
    rails = s.rails()
    if len(job_ids) == 1:
        settlements = [rails.keeper.settle(job_ids[0])]
    else:
        settlements = rails.keeper.settle_many(job_ids)

    def human() -> None:
        table = Table(title=f"Settled ({settlements[0].tx_hash})")
        for col in ("job", "provider gets", "fee", "client refund", "provider"):
            table.add_column(col)
        for t in settlements:
            sym = t.token.symbol
            table.add_row(
                str(t.job_id), amount(t.provider_net, sym), amount(t.fee, sym), amount(t.refund, sym), t.provider
            )
        console.print(table)
        console.print("Claim with `computerails provider claim` (provider) and `computerails client withdraw` (client)")

    s.out(settlements, human)


@job.command("show")
@click.argument("job_id", type=JOB_ID)
@click.pass_obj
def job_show(s: Settings, job_id: int) -> None:
    """A job's state, timers and the spec hash it was created with (no key needed)."""
    rails = s.rails(signer=False)
    found = rails.views.job_with_spec(job_id)
    now = rails.now()
    s.out(found, lambda: print_rows(f"Job {job_id}", job_rows(found, rails.staking_token.symbol, now)))
