"""ComputeRails' main job: a compute marketplace, end to end, on a local devnet.

    python -m computerails.sim                    # fresh anvil on a free port, deploy, simulate, stop
    python -m computerails.sim --jobs 120 --seed 3
    python -m computerails.sim --rpc http://127.0.0.1:8545 --deployment deployments/31337.json

(``make demo ARGS="..."`` runs the first.) See :mod:`computerails.sim.marketplace` for what the
simulation does. Prints progress bars, tables, the accounting check (PASS/FAIL, non-zero exit on
FAIL) and writes a JSON report under reports/. The fresh anvil runs without step tracing, keeps
only the last few states, and runs the contracts' own hardfork (see computerails.devnet.anvil),
so time and memory grow with the jobs, not faster (``make bench`` has the scaling table).
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import click
from eth_account import Account
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from web3 import HTTPProvider, Web3

import computerails
from computerails.devnet import Anvil, ape_build_artifacts, deploy_protocol, derive_key, dev_key, write_deployment
from computerails.devnet.anvil import ROOT
from computerails.errors import ComputeRailsError
from computerails.sim.agent import REQUESTS as AGENT_REQUESTS
from computerails.sim.agent import paid_inference
from computerails.sim.marketplace import Config, Marketplace, Report, default_sizes

console = Console(width=None if Console().is_terminal else 130)


def cell(value: Any) -> str:
    """Table cell: decimals rounded for reading (the JSON report keeps them exact)."""
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal("0.0001")).normalize(), "f") if value else "0"
    return str(value)


def make_progress(progress: Progress) -> Callable[[str, int], Any]:
    @contextmanager
    def phase(label: str, total: int) -> Iterator[Callable[[], None]]:
        task = progress.add_task(label, total=max(total, 1))
        yield lambda: progress.advance(task)
        progress.update(task, completed=max(total, 1))

    return phase


def simulate(rpc: str, deployment: str, config: Config, governance_key: str, agent_requests: int = 0) -> Report:
    """The marketplace, then (with `agent_requests`, once the metered phase left escrow) paid
    inference through one real agent process (:func:`computerails.sim.agent.paid_inference`)."""
    columns = (TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        market = Marketplace(rpc, deployment, config, governance_key, make_progress(progress), progress.console.print)
        report = market.run()
    if agent_requests and report.metered:
        provider = next(p for p in market.providers if p is not market.dishonest)
        payer = market.clients[0]  # a metered payer: it still holds escrow for every provider
        with console.status("Paid inference through a real agent"):
            report.agent = paid_inference(rpc, deployment, provider.key, payer.key, payer.rails, agent_requests)
    return report


class DemoError(click.ClickException):
    """A mistake or an unreachable node: one ``error:`` line on stderr, as the ``computerails``
    command prints them, and exit code 1."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class DemoUsageError(DemoError):
    """Options that do not go together: one ``error:`` line, exit code 2 (click's for usage)."""

    exit_code = 2


def preflight(rpc: str, deployment: str) -> None:
    """Check the node and the deployment before the simulation starts (a stopped node, a missing
    or malformed file, a deployment that is not on this node): one line, not a traceback.

    Raises:
        DemoError: what is wrong and what to do.
    """
    try:
        computerails.connect(rpc, deployment=deployment)
    except ComputeRailsError as exc:
        raise DemoError(f"{type(exc).__name__}: {exc}") from None


def peak_memory_mb(pid: int) -> float | None:
    """The peak resident memory (VmHWM) of a running process, in MB (Linux), or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def deploy_fresh(node: Anvil, config: Config, out: Path) -> tuple[str, str, str]:
    """Deploy onto a fresh devnet node; the demo's own keys are treasury and oracles. Deploys
    what Ape last compiled when there is a build, else the code shipped in the package."""
    build = ROOT / ".build" / "__local__.json"
    deployer = dev_key(0)
    deployment = deploy_protocol(
        Web3(HTTPProvider(node.url, request_kwargs={"timeout": 60})),
        deployer,
        treasury=Account.from_key(derive_key(config.seed, "treasury", 0)).address,
        oracles=[Account.from_key(derive_key(config.seed, "oracle", i)).address for i in range(config.oracles)],
        threshold=config.threshold,
        artifacts=ape_build_artifacts(build) if build.exists() else None,
    )
    path = write_deployment(deployment, out)
    return node.url, str(path), deployer


EVIDENCE_ROWS = 10  # fraud evidence rows printed (the JSON report has them all)


def print_metered(metered: dict[str, Any], table: Callable[[str, list[dict[str, Any]], list[str]], None]) -> None:
    """The metered phase: who served what, who paid what, what the spot check caught."""
    table(
        "Metered inference: providers",
        metered["providers"],
        ["name", "role", "requests", "wrong_answers", "caught", "slashed", "jailed", "collected", "net", "claimed"],
    )
    table(
        "Metered inference: payers",
        metered["payers"],
        ["name", "requests", "deposited", "spent", "provider_net", "fees"],
    )
    if metered["evidence"]:
        table(
            "Fraud evidence (the provider's own signed receipts)",
            [
                {
                    "name": e["provider_name"],
                    "request": e["request_index"],
                    "signed": e["signed_response_hash"][:18] + "…",
                    "recomputed": e["recomputed_response_hash"][:18] + "…",
                }
                for e in metered["evidence"][:EVIDENCE_ROWS]
            ],
            ["name", "request", "signed", "recomputed"],
        )
    if metered.get("slashes"):
        table(
            "Fraud attestations (k-of-n oracles over the provider's receipt)",
            metered["slashes"][:EVIDENCE_ROWS],
            ["provider", "payer", "request", "slashed", "from_locked", "payer_share", "jailed", "gas"],
        )
        console.print(
            f"Fraud: {len(metered['slashes'])} attestations landed ({metered['fraud_gas']:,} gas); payers compensated "
            f"{', '.join(f'{k} {v} stake' for k, v in metered['payers_compensated'].items())}; a replay was refused: "
            f"{metered['replay_refused']}"
        )
    console.print(
        f"Metered: {metered['requests']} requests served in {metered['collections']} collections, paid by "
        f"{metered['collect_transactions']} collect transactions ({metered['collect_gas']:,} gas): "
        f"{metered['gas_per_request']:,.0f} gas per paid request; the spot check recomputed {metered['sampled']} "
        f"receipts and caught {len(metered['evidence'])} of {metered['wrong_answers']} wrong answers"
        + (f" (the first {EVIDENCE_ROWS} above)" if len(metered["evidence"]) > EVIDENCE_ROWS else "")
    )


def print_report(report: Report, path: Path, wall: float) -> None:
    def table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
        t = Table(title=title)
        for c in columns:
            t.add_column(c, justify="right" if c not in ("name", "role", "operation", "token", "check") else "left")
        for r in rows:
            t.add_row(*[cell(r[c]) for c in columns])
        console.print(t)

    table(
        "Providers",
        [
            {**p, "uptime": f"{p['uptime_bps'] / 100:.1f}%" if p["uptime_bps"] is not None else "-"}
            for p in report.providers
        ],
        ["name", "role", "stake", "slashed", "jobs_done", "jobs_failed", "earned", "claimed", "uptime"],
    )
    table("Clients", report.clients, ["name", "jobs", "locked", "paid", "refunded", "slash_compensation"])
    table("Oracles", report.oracles, ["name", "signatures"])
    table("Gas per operation", report.gas, ["operation", "count", "mean", "total"])
    if report.metered:
        print_metered(report.metered, table)
    rows = []
    for symbol, acc in report.accounting.items():
        for check, ok in acc["checks"].items():
            rows.append({"token": symbol, "check": check, "result": "PASS" if ok else "FAIL"})
    table("Accounting", rows, ["token", "check", "result"])
    if report.agent:
        console.print(
            f"paid inference: {report.agent['requests']} requests, {report.agent['per_s']:,.0f} requests/s "
            "through one agent (payment on)"
        )
    jobs = report.jobs
    console.print(
        f"Jobs: {jobs['total']} total, {jobs['settled']} settled, {jobs['disputed']} disputed, "
        f"{jobs['failed']} failed, {jobs['expired']} expired"
    )
    console.print(f"Report written to {path}")
    console.print(f"Wall time: {wall:.1f} s (simulation {report.timings['total']:.1f} s)")
    if report.resources:
        console.print("Peak memory: " + ", ".join(f"{k} {v:.0f} MB" for k, v in report.resources.items()))
    verdict = "[bold green]PASS[/]" if report.passed else "[bold red]FAIL[/]"
    console.print(f"Accounting check: {verdict}")


@click.command()
@click.option("--providers", type=int, help="Default: one per 200 jobs, at least 5.")
@click.option("--clients", type=int, help="Default: one per 100 jobs, at least 10.")
@click.option("--jobs", default=60, show_default=True, type=int)
@click.option("--oracles", default=3, show_default=True, type=int)
@click.option("--threshold", default=2, show_default=True, type=int)
@click.option("--seed", default=7, show_default=True, type=int, help="Same seed, same jobs and outcomes.")
@click.option(
    "--senders",
    default=8,
    show_default=True,
    type=int,
    help="Clients (and providers) sending at once; 1 sends one transaction at a time.",
)
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Where to write the JSON report.")
@click.option("--rpc", help="Use a running node instead of a fresh anvil (needs --deployment).")
@click.option("--deployment", help="deployments/<chainId>.json for --rpc.")
@click.option(
    "--agent-requests",
    default=AGENT_REQUESTS,
    show_default=True,
    type=click.IntRange(min=0),
    help="Paid requests through one real provider agent after the marketplace (0 skips the step).",
)
def cli(
    providers: int | None,
    clients: int | None,
    jobs: int,
    oracles: int,
    threshold: int,
    seed: int,
    senders: int,
    report_path: str | None,
    rpc: str | None,
    deployment: str | None,
    agent_requests: int,
) -> None:
    """Run the compute marketplace end to end and check the books."""
    started = time.monotonic()
    default_providers, default_clients = default_sizes(jobs)
    providers = default_providers if providers is None else providers
    clients = default_clients if clients is None else clients
    config = Config(
        providers=providers,
        clients=clients,
        jobs=jobs,
        oracles=oracles,
        threshold=threshold,
        seed=seed,
        senders=senders,
    )
    try:
        config.validate()
    except ValueError as exc:
        raise DemoUsageError(str(exc)) from None
    if deployment and not rpc:
        raise DemoUsageError("--deployment needs --rpc (without --rpc the demo deploys to a fresh anvil)")
    if rpc:
        if not deployment:
            raise DemoUsageError("--rpc needs --deployment")
        preflight(rpc, deployment)
        report = simulate(rpc, deployment, config, dev_key(0), agent_requests)
    else:
        # A few recent states: the senders' reads of "latest" race the blocks mined meanwhile.
        with Anvil(prune_history=8) as node:
            uri, path, key = deploy_fresh(node, config, Path("reports") / "deployments")
            report = simulate(uri, path, config, key, agent_requests)
            if node.pid is not None:
                anvil_peak = peak_memory_mb(node.pid)
                if anvil_peak is not None:
                    report.resources["anvil"] = anvil_peak
    report.resources["simulation"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = Path(report_path or f"reports/demo-seed{seed}-{time.strftime('%Y%m%dT%H%M%S')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    wall = time.monotonic() - started
    report.timings["wall"] = round(wall, 3)
    out.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    print_report(report, out, wall)
    if not report.passed:
        raise SystemExit(1)
