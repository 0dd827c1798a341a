"""What the role command modules share beyond the root group: argument types that name the
parameter they refuse, the role group (SDK advice phrased as ``computerails`` commands), and
one way to print amounts, times, statuses, jobs and what is pending."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import click
from rich.table import Table

from computerails.cli._common import CliError, Settings, console
from computerails.errors import PreconditionError
from computerails.rails import ComputeRails
from computerails.types import Epochs, Job, JobStage, JobStatus, ProviderStatus

# ───────────────────────── argument types ─────────────────────────


class AmountType(click.ParamType):
    """A token amount in token units (``0.10``, ``2000``): refuses, by the parameter's name,
    what is not a finite number of a token's size and what is negative."""

    name = "amount"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Decimal:
        if isinstance(value, Decimal):
            return value
        try:
            amount = Decimal(str(value))
        except ArithmeticError:  # decimal.InvalidOperation
            self.fail(f"{value!r} is not a number", param, ctx)
        if not amount.is_finite() or amount.adjusted() > 77:  # beyond any uint256 amount
            self.fail(f"{value!r} is not a finite number of a token's size", param, ctx)
        if amount < 0:
            self.fail(f"{value} is negative", param, ctx)
        return amount


AMOUNT = AmountType()
#: A job id: a positive integer.
JOB_ID = click.IntRange(min=1)

_NEGATIVE = re.compile(r"^-\d")


class RoleCommand(click.Command):
    """A command whose numeric arguments may be typed negative by mistake: ``stake -5`` is
    refused by the argument's name (click alone reads ``-5`` as an unknown option)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)  # the parser consumes `args`
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption:
            token = next((a for a in given if _NEGATIVE.match(a)), None)
            argument = next((p for p in self.params if isinstance(p, click.Argument)), None)
            if token is None or argument is None:
                raise
            raise click.BadParameter(f"{token} is negative", ctx=ctx, param=argument) from None


class RoleGroup(click.Group):
    """A role's command group: its commands are :class:`RoleCommand` s, and an SDK precondition
    error that carries advice is printed with the advice naming ``computerails`` commands."""

    command_class = RoleCommand

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PreconditionError as exc:
            if not exc.cli_fix:
                raise
            raise CliError(f"{type(exc).__name__}: {exc.for_cli()}") from None


# ───────────────────────── output ─────────────────────────


def print_rows(title: str, rows: dict[str, str]) -> None:
    """A two-column table whose long values (hashes, addresses) wrap instead of being cut."""
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in rows.items():
        table.add_row(key, value)
    console.print(table)


def amount(value: Decimal, symbol: str) -> str:
    """``7.8 mUSD``: an amount always shown in token units with its symbol."""
    return f"{value:f} {symbol}"


def when(moment: datetime | None) -> str:
    """``2026-11-22 14:05:00 UTC``, or ``-``."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def status(value: JobStatus) -> str:
    """A job status as the escrow's state machine names it: ``open``, never ``JobStatus.OPEN``."""
    return value.value


def job_rows(job: Job, stake_symbol: str, now: int | None = None) -> dict[str, str]:
    """A job as a two-column table: every amount with its symbol, every time in UTC."""
    sym = job.token.symbol
    rows = {
        "id": str(job.id),
        "status": status(job.status),
        "stage": job.stage(now).value if now is not None else "",
        "client": job.client,
        "provider": job.provider,
        "unit price": amount(job.unit_price, sym),
        "units": f"{job.units} of {job.max_units}",
        "escrow": amount(job.escrow, sym),
        "fee": f"{Decimal(job.fee_bps) / 100:f} %",
        "collateral": amount(job.collateral, stake_symbol),
        "deadline": when(job.deadline),
        "accept by": when(job.accept_by),
        "challenge ends": when(job.challenge_ends),
        "dispute ends": when(job.dispute_ends),
        "dispute bond": amount(job.dispute_bond, sym),
        "spec hash": job.spec_hash or "-",
    }
    return {k: v for k, v in rows.items() if v}


def provider_rows(p: ProviderStatus, stake_symbol: str) -> dict[str, str]:
    """A provider's status as a two-column table, amounts with their symbols."""
    return {
        "address": p.address,
        "registered": _yes(p.registered),
        "active": _yes(p.active),
        "jailed": ("yes, for downtime" if p.jailed_for_downtime else "yes") if p.jailed else "no",
        "left": when(p.left_at) if p.left else "no",
        "staked": amount(p.staked, stake_symbol),
        "locked": amount(p.locked, stake_symbol),
        "free": amount(p.free, stake_symbol),
        "unbonding": amount(p.unbonding, stake_symbol) + (f" until {when(p.unbonding_end)}" if p.unbonding_end else ""),
        "shortfall": amount(p.shortfall, stake_symbol),
        "slashed in total": amount(p.total_slashed, stake_symbol),
        "SLA from": when(p.sla_from),
        "metadata": p.metadata_uri,
        "claimable": ", ".join(amount(v, k) for k, v in p.claimable.items()) or "nothing",
    }


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def job_table_row(job: Job, now: int) -> list[str]:
    """id, stage, status, counterparty columns shared by the ``jobs`` listings."""
    return [
        str(job.id),
        job.stage(now).value,
        amount(job.escrow, job.token.symbol),
        f"{job.units}/{job.max_units}",
        when(_next_time(job)),
    ]


def _next_time(job: Job) -> datetime | None:
    """The timer that matters in the job's state: accept by, deadline, challenge or dispute end."""
    return {
        JobStatus.OPEN: job.accept_by,
        JobStatus.ACCEPTED: job.deadline,
        JobStatus.ATTESTED: job.challenge_ends,
        JobStatus.DISPUTED: job.dispute_ends,
    }.get(job.status)


#: What the next column of a ``jobs`` listing means, by stage.
NEXT_ACTION = {
    JobStage.TO_ACCEPT: "accept by",
    JobStage.NOT_ACCEPTED: "accept window closed",
    JobStage.AWAITING_ATTESTATION: "attestation due",
    JobStage.EXPIRED: "deadline passed",
    JobStage.IN_CHALLENGE: "settleable from",
    JobStage.SETTLEABLE: "settleable since",
    JobStage.DISPUTED: "dispute ends",
    JobStage.ENDED: "",
}


def ids(jobs: Iterable[Job]) -> str:
    return " ".join(str(j.id) for j in jobs)


def pending_note(jobs: Sequence[Job], now: int) -> str:
    """What will become claimable and when, with the command to run: for jobs that are
    attested or disputed (the only ones that pay out by settling)."""
    settleable = [j for j in jobs if j.stage(now) is JobStage.SETTLEABLE]
    waiting = [j for j in jobs if j.stage(now) is JobStage.IN_CHALLENGE]
    disputed = [j for j in jobs if j.stage(now) is JobStage.DISPUTED]
    notes = []
    if settleable:
        notes.append(
            f"{_count(settleable)} can be settled now; run `computerails job settle {ids(settleable)}` and claim again"
        )
    if waiting:
        last = max(j.settles_at for j in waiting if j.settles_at is not None)
        verb = "settles" if len(waiting) == 1 else "settle"
        notes.append(f"{_count(waiting)} {verb} after {when(last)}; run `computerails job settle {ids(waiting)}` then")
    for j in disputed:
        notes.append(
            f"job {j.id} is disputed: the arbitrator rules by {when(j.dispute_ends)}, "
            f"else it lapses and can be settled after that"
        )
    return "; ".join(notes)


def _count(jobs: Sequence[Job]) -> str:
    return f"{len(jobs)} job" + ("" if len(jobs) == 1 else "s")


def print_epochs(epochs: Epochs) -> None:
    """The current epoch, and the ended epochs still open to reports with their deadlines."""
    c = epochs.current
    console.print(f"Current epoch {c.epoch}: {when(c.start)} to {when(c.end)} (chain time {when(epochs.now)})")
    if not epochs.reportable:
        console.print("No ended epoch is open to uptime reports")
        return
    table = Table(title="Reportable epochs")
    for col in ("epoch", "ended", "report by"):
        table.add_column(col)
    for e in epochs.reportable:
        table.add_row(str(e.epoch), when(e.end), when(e.report_deadline))
    console.print(table)


# ───────────────────────── settings ─────────────────────────


def party(s: Settings, address: str | None) -> tuple[ComputeRails, str]:
    """A read-only connection and `address`, or, without one, the account's connection and its
    address (reading needs no key when the address is given)."""
    if address:
        return s.rails(signer=False), address
    rails = s.rails()
    return rails, rails.address


def warn_and_confirm(s: Settings, warning: str, question: str) -> None:
    """Print `warning`, then go on with ``--yes``, ask on a terminal, or refuse without one."""
    if not s.yes and not sys.stdin.isatty():
        raise CliError(f"{warning}; pass --yes to go ahead anyway")
    click.echo(f"warning: {warning}", err=True)
    s.confirm(question)


def print_jobs_by_stage(s: Settings, party_role: str, address: str | None, show_all: bool) -> None:
    """`client jobs` / `provider jobs`: the jobs of this account (or ADDRESS's, no key needed),
    grouped by what comes next, with the other party in the last column."""
    rails, who = party(s, address)
    groups = rails.views.jobs_by_stage(ended=show_all, **{party_role: who})
    now = rails.now()
    other = "provider" if party_role == "client" else "client"

    def human() -> None:
        if not groups:
            console.print(f"No jobs for {party_role} {who}")
        for stage, jobs in groups.items():
            table = Table(title=f"{stage.value} ({len(jobs)})")
            for col in ("id", "stage", "escrow", "units", NEXT_ACTION[stage] or "-", other):
                table.add_column(col)
            for j in jobs:
                table.add_row(*job_table_row(j, now), getattr(j, other))
            console.print(table)

    s.out({stage.value: jobs for stage, jobs in groups.items()}, human)
