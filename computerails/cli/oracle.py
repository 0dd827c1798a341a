"""``computerails oracle ...``."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.table import Table

from computerails.cli._common import (
    ADDRESS,
    CliError,
    Settings,
    cli,
    console,
    jsonable,
    parse_deadline,
    parse_hash32,
    validation_message,
)
from computerails.cli._ui import JOB_ID, RoleGroup, amount, print_epochs, when
from computerails.types import Attestation, JobStatus, Signature, UptimeReport


@cli.group(cls=RoleGroup)
def oracle() -> None:
    """Sign and relay attestations and uptime reports."""


@oracle.command("serve")
@click.option(
    "--config",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The node's TOML settings (COMPUTERAILS_ORACLE_* variables override it).",
)
def oracle_serve(config: Path) -> None:
    """Run an oracle node: probes providers, checks jobs and receipts, agrees on signatures
    with its peers and transmits (docs/ORACLE_NETWORK.md).

    The node reads its node, deployment and keystore from the settings file, not from the
    global options. It stops gracefully on SIGTERM or Ctrl-C."""
    from computerails.oracle_node.config import load_settings
    from computerails.oracle_node.serve import serve
    from computerails.service.serving import configure_logging

    configure_logging()
    serve(load_settings(config))


@oracle.command("sign")
@click.option("--job", "job_id", type=JOB_ID, help="Sign a compute attestation for this job.")
@click.option("--success/--failure", default=True, help="Whether the result checked out.")
@click.option("--units", type=click.IntRange(min=0), default=0, help="Units to pay for (success).")
@click.option("--result-hash", help="32-byte hex hash of the checked result.")
@click.option("--valid-for", default="1h", show_default=True, help="How long the signature stays valid.")
@click.option("--uptime-provider", type=ADDRESS, help="Sign an uptime report for this provider instead.")
@click.option("--epoch", type=click.IntRange(min=0), help="Epoch of the uptime report.")
@click.option("--uptime-bps", type=click.IntRange(0, 10_000), help="Observed uptime in basis points.")
@click.option(
    "--relayer",
    type=ADDRESS,
    help="Uptime report: who earns the relayer reward (default: nobody, all to the treasury).",
)
@click.pass_obj
def oracle_sign(
    s: Settings,
    job_id: int | None,
    success: bool,
    units: int,
    result_hash: str | None,
    valid_for: str,
    uptime_provider: str | None,
    epoch: int | None,
    uptime_bps: int | None,
    relayer: str | None,
) -> None:
    """Sign an attestation (--job) or uptime report (--uptime-provider); prints JSON to relay."""
    rails = s.rails()
    if (job_id is None) == (uptime_provider is None):
        raise CliError("give either --job or --uptime-provider")
    if job_id is not None:
        duration = parse_deadline(valid_for)
        seconds = int(duration.total_seconds()) if isinstance(duration, timedelta) else 3_600
        job = rails.views.job(job_id)
        attestation = rails.oracle.prepare(
            Attestation(  # under the hub's current oracle configuration
                job_id=job_id,
                provider=job.provider,
                success=success,
                units=units,
                result_hash=parse_hash32(result_hash, None, "result-hash"),
                deadline=rails.now() + seconds,
            )
        )
        signature = rails.oracle.sign_attestation(attestation)
        statement: Attestation | UptimeReport = attestation
        kind = "attestation"
    else:
        if epoch is None or uptime_bps is None:
            raise CliError("an uptime report needs --epoch and --uptime-bps")
        report = rails.oracle.prepare(
            UptimeReport(
                provider=uptime_provider,
                epoch=epoch,
                uptime_bps=uptime_bps,
                **({"relayer": relayer} if relayer else {}),
            )
        )
        signature = rails.oracle.sign_uptime_report(report)
        statement = report
        kind = "uptime_report"
    click.echo(json.dumps({kind: jsonable(statement), "signature": jsonable(signature)}, indent=2))


def _load_signed(files: tuple[str, ...], kind: str) -> tuple[dict[str, Any], list[Signature]]:
    if not files:
        raise CliError("give one --signed FILE per oracle (the output of `computerails oracle sign`)")
    statements, signatures = [], []
    for file in files:
        try:
            data = json.loads(Path(file).read_text())
            statements.append(data[kind])
            signatures.append(Signature.model_validate(data["signature"]))
        except ValidationError as exc:
            raise CliError(f"{file} is not a signed {kind.replace('_', ' ')}: {validation_message(exc)}") from None
        except (OSError, KeyError, ValueError) as exc:
            raise CliError(f"{file} is not a signed {kind.replace('_', ' ')}: {exc}") from None
    if any(st != statements[0] for st in statements):
        raise CliError("the signed files are over different statements")
    return statements[0], signatures


@oracle.command("attest")
@click.option(
    "--signed",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A signed attestation (repeat).",
)
@click.pass_obj
def oracle_attest(s: Settings, files: tuple[str, ...]) -> None:
    """Relay a quorum of signed attestations."""
    statement, signatures = _load_signed(files, "attestation")
    attestation = Attestation.model_validate(statement)
    sent = s.rails().oracle.submit_attestation(attestation, signatures)
    s.out(
        {"tx_hash": sent.tx_hash, "gas_used": sent.gas_used},
        lambda: console.print(f"Attestation for job {statement['job_id']} relayed ({sent.tx_hash})"),
    )


@oracle.command("report-uptime")
@click.option(
    "--signed",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A signed uptime report (repeat).",
)
@click.pass_obj
def oracle_report_uptime(s: Settings, files: tuple[str, ...]) -> None:
    """Relay a quorum of signed uptime reports."""
    statement, signatures = _load_signed(files, "uptime_report")
    report = UptimeReport.model_validate(statement)
    rails = s.rails()
    sent = rails.oracle.submit_uptime_report(report, signatures)
    outcome = rails.oracle.uptime_outcome(sent)

    def human() -> None:
        o, sym = outcome, outcome.token.symbol
        said = f"Uptime report for {o.provider} epoch {o.epoch} ({o.uptime_bps / 100:g} %) relayed: "
        if o.slash_requested == 0:
            said += "within the SLA, no slash"
        else:
            said += f"slashed {amount(o.slashed, sym)}"
            if o.shortfall:
                said += f" and {amount(o.shortfall, sym)} owed as shortfall"
            said += "; jailed for downtime" if o.jailed else "; not jailed"
            if o.relayer_reward:
                said += f"; relayer {o.relayer} earns {amount(o.relayer_reward, sym)}"
                said += " (claim it with `computerails oracle claim-reward`)"
        console.print(said, soft_wrap=True)

    s.out({**outcome.model_dump(mode="json"), "gas_used": sent.gas_used}, human)


@oracle.command("pending")
@click.pass_obj
def oracle_pending(s: Settings) -> None:
    """Jobs awaiting attestation, and the current and reportable uptime epochs (no key needed)."""
    rails = s.rails(signer=False)
    jobs = rails.views.jobs(status=JobStatus.ACCEPTED)
    epochs = rails.views.epochs()
    now = epochs.now
    data = {"awaiting_attestation": jobs, "epochs": epochs}

    def human() -> None:
        table = Table(title=f"Jobs awaiting attestation ({len(jobs)})")
        for col in ("id", "provider", "units", "deadline", ""):
            table.add_column(col)
        for j in jobs:
            late = "past deadline: reclaimable" if j.deadline < now else ""
            table.add_row(str(j.id), j.provider, f"max {j.max_units}", when(j.deadline), late)
        console.print(table)
        print_epochs(epochs)

    s.out(data, human)


@oracle.command("claim-reward")
@click.pass_obj
def oracle_claim_reward(s: Settings) -> None:
    """Claim the relayer's rewards for uptime reports (slash proceeds, in the staking token)."""
    payout = s.rails().oracle.claim_reward()
    s.out(payout, lambda: console.print(f"Claimed {amount(payout.amount, payout.token.symbol)} ({payout.tx_hash})"))
