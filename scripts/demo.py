"""ComputeRails' main job: a compute marketplace, end to end, on a local devnet.

    ape run demo                       # fresh anvil on a free port, deploy, simulate, stop anvil
    ape run demo --jobs 120 --seed 3
    ape run demo --rpc http://127.0.0.1:8545 --deployment deployments/31337.json

See scripts/_marketplace.py for what the simulation does. Prints progress bars, tables, the
accounting check (PASS/FAIL, non-zero exit on FAIL) and writes a JSON report under reports/.
"""

import json
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import click
from eth_account import Account
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scripts._marketplace import Config, Marketplace, Report, derive_key, dev_key

console = Console(width=None if Console().is_terminal else 130)


def cell(value) -> str:
    """Table cell: decimals rounded for reading (the JSON report keeps them exact)."""
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal("0.0001")).normalize(), "f") if value else "0"
    return str(value)


def make_progress(progress: Progress):
    @contextmanager
    def phase(label: str, total: int):
        task = progress.add_task(label, total=max(total, 1))
        yield lambda: progress.advance(task)
        progress.update(task, completed=max(total, 1))

    return phase


def simulate(rpc: str, deployment: str, config: Config, governance_key: str) -> Report:
    columns = (TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        market = Marketplace(rpc, deployment, config, governance_key, make_progress(progress))
        return market.run()


def deploy_fresh(config: Config, out: Path):
    """Deploy onto the anvil Ape started; the demo's own keys are treasury and oracles."""
    from ape import accounts, chain

    from scripts.deploy import deploy_protocol, write_deployment

    deployer = accounts.test_accounts[0]
    deployment = deploy_protocol(
        deployer,
        treasury=Account.from_key(derive_key(config.seed, "treasury", 0)).address,
        oracles=[Account.from_key(derive_key(config.seed, "oracle", i)).address for i in range(config.oracles)],
        threshold=config.threshold,
    )
    path = write_deployment(deployment, out)
    return chain.provider.http_uri, str(path), deployer.private_key


def print_report(report: Report, path: Path, wall: float) -> None:
    def table(title, rows, columns):
        t = Table(title=title)
        for c in columns:
            t.add_column(c, justify="right" if c not in ("name", "role", "operation", "token", "check") else "left")
        for r in rows:
            t.add_row(*[cell(r[c]) for c in columns])
        console.print(t)

    table("Providers", [{**p, "uptime": f"{p['uptime_bps'] / 100:.1f}%" if p["uptime_bps"] is not None else "-"}
                        for p in report.providers],
          ["name", "role", "stake", "slashed", "jobs_done", "jobs_failed", "earned", "claimed", "uptime"])
    table("Clients", report.clients, ["name", "jobs", "locked", "paid", "refunded", "slash_compensation"])
    table("Oracles", report.oracles, ["name", "signatures"])
    table("Gas per operation", report.gas, ["operation", "count", "mean", "total"])
    rows = []
    for symbol, acc in report.accounting.items():
        for check, ok in acc["checks"].items():
            rows.append({"token": symbol, "check": check, "result": "PASS" if ok else "FAIL"})
    table("Accounting", rows, ["token", "check", "result"])
    jobs = report.jobs
    console.print(f"Jobs: {jobs['total']} total, {jobs['settled']} settled, {jobs['disputed']} disputed, "
                  f"{jobs['failed']} failed, {jobs['expired']} expired")
    console.print(f"Report written to {path}")
    console.print(f"Wall time: {wall:.1f} s (simulation {report.timings['total']:.1f} s)")
    verdict = "[bold green]PASS[/]" if report.passed else "[bold red]FAIL[/]"
    console.print(f"Accounting check: {verdict}")


@click.command()
@click.option("--providers", default=5, show_default=True, type=int)
@click.option("--clients", default=10, show_default=True, type=int)
@click.option("--jobs", default=60, show_default=True, type=int)
@click.option("--oracles", default=3, show_default=True, type=int)
@click.option("--threshold", default=2, show_default=True, type=int)
@click.option("--seed", default=7, show_default=True, type=int, help="Same seed, same jobs and outcomes.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Where to write the JSON report.")
@click.option("--rpc", help="Use a running node instead of a fresh anvil (needs --deployment).")
@click.option("--deployment", help="deployments/<chainId>.json for --rpc.")
def cli(providers, clients, jobs, oracles, threshold, seed, report_path, rpc, deployment):
    """Run the compute marketplace end to end and check the books."""
    started = time.monotonic()
    config = Config(providers=providers, clients=clients, jobs=jobs, oracles=oracles, threshold=threshold, seed=seed)
    try:
        config.validate()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if rpc:
        if not deployment:
            raise click.UsageError("--rpc needs --deployment")
        report = simulate(rpc, deployment, config, dev_key(0))
    else:
        from ape import networks

        with networks.parse_network_choice("ethereum:local:foundry"):
            uri, path, key = deploy_fresh(config, Path("reports") / "deployments")
            report = simulate(uri, path, config, key)
    out = Path(report_path or f"reports/demo-seed{seed}-{time.strftime('%Y%m%dT%H%M%S')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    wall = time.monotonic() - started
    report.timings["wall"] = round(wall, 3)
    out.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    print_report(report, out, wall)
    if not report.passed:
        raise SystemExit(1)
