"""``computerails deployments ...``."""

from __future__ import annotations

from typing import Any

import click
from eth_utils import to_checksum_address
from rich.table import Table

from computerails.cli._common import CliError, Settings, cli, console, print_table
from computerails.deployments import check_deployment, known_deployments, load_artifact, load_deployment


@cli.group()
def deployments() -> None:
    """Known deployments."""


@deployments.command("show")
@click.option("--chain-id", type=int, help="Show only this chain's deployment.")
@click.pass_obj
def deployments_show(s: Settings, chain_id: int | None) -> None:
    """Addresses and parameters of known deployments (or of --deployment)."""
    if s.deployment:
        found = {0: load_deployment(s.deployment)}
    else:
        found = known_deployments()
        if chain_id is not None:
            found = {chain_id: load_deployment(chain_id)}
    data = [d.model_dump(by_alias=True) for d in found.values()]

    def human() -> None:
        if not found:
            console.print("No deployments known: run `make deploy` or pass --deployment FILE")
        for d in found.values():
            print_table(
                f"Chain {d.chain_id} ({d.source})",
                {
                    **d.contracts,
                    "staking token": d.staking_token,
                    "payment tokens": ", ".join(d.payment_tokens),
                    "deploy block": d.deploy_block,
                },
            )

    s.out(data, human)


@deployments.command("check")
@click.pass_obj
def deployments_check(s: Settings) -> None:
    """Check on chain that every contract holds the roles it needs (refunds, attestations and
    slashes depend on them), that governance sits behind the timelock (MeteredEscrow's roles too,
    when the deployment has one), and the report window."""
    rails = s.rails(signer=False)
    contracts = {
        "ProviderStaking": rails.staking,
        "JobEscrow": rails.escrow,
        "UptimeSlasher": rails.slasher,
        "AttestationHub": rails.hub,
    }
    for name in ("MeteredEscrow", "RewardsDistributor"):  # files written before issues 12 and 16 lack them
        if name in rails.deployment.contracts:
            address = to_checksum_address(rails.deployment.contracts[name])
            contracts[name] = rails.w3.eth.contract(address=address, abi=load_artifact(name)["abi"])

    def read(contract: str, fn: str, args: tuple[Any, ...]) -> Any:
        return getattr(contracts[contract].functions, fn)(*args).call()

    results, problems = check_deployment(rails.deployment, read)
    data = {
        "ok": not problems,
        "problems": problems,
        "roles": [
            {
                "contract": r.contract,
                "role": r.role,
                "holder": r.holder,
                "holder_name": r.holder_name,
                "forbidden": r.forbidden,
                "ok": r.ok,
            }
            for r in results
        ],
    }

    def human() -> None:
        table = Table(title=f"Roles of chain {rails.chain_id}'s deployment")
        for column in ("contract", "role", "holder", "expected", "result"):
            table.add_column(column)
        for r in results:
            table.add_row(
                r.contract,
                r.role,
                f"{r.holder_name} {r.holder}",
                "none" if r.forbidden else "held",
                "ok" if r.ok else "[bold red]FAIL[/]",
            )
        console.print(table)
        console.print("Deployment check: " + ("[bold green]PASS[/]" if not problems else "[bold red]FAIL[/]"))

    s.out(data, human)
    if problems:
        raise CliError("deployment check failed: " + "; ".join(problems))
