"""Deploy ComputeRails and write ``deployments/<chainId>.json`` (a thin Ape entry point over
:mod:`computerails.devnet`, which documents the order, the roles and the checks).

Usage::

    ape run deploy --network ethereum:local:foundry            # local: test tokens, dev oracles
    ape run deploy --network <ecosystem:network:provider> --account NAME \\
        --staking-token 0x... --payment-token 0x... --collateral-rate N \\
        --treasury 0x... --arbitrator 0x... --oracle 0x... --oracle 0x... --threshold 2 \\
        --governance 0xMULTISIG --guardian 0xGUARDIAN
"""

from pathlib import Path
from typing import Any

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand, account_option

from computerails.devnet import (
    GOVERNANCE_INDEX,
    ape_build_artifacts,
    deploy_protocol,
    key_of_ape_account,
    write_deployment,
)
from computerails.errors import ComputeRailsError


@click.command(cls=ConnectedProviderCommand)
@account_option(prompt=False)
@click.option("--treasury", help="Receives protocol fees and slashed stake (required off local networks).")
@click.option("--arbitrator", help="Resolves disputes (default: governance).")
@click.option("--governance", help="Proposes and executes through the timelock (default: the deployer).")
@click.option("--guardian", help="May pause job creation and acceptance at once (default: governance).")
@click.option(
    "--timelock-delay", type=int, help="Seconds every governance change waits (default: unbonding delay + 1 day)."
)
@click.option(
    "--oracle", "oracles", multiple=True, help="An oracle key; repeat for each (required off local networks)."
)
@click.option("--threshold", type=int, help="Signatures per quorum (default 2).")
@click.option("--staking-token", help="Staking token address (local networks deploy a test token).")
@click.option("--payment-token", "payment_tokens", multiple=True, help="Allowlisted payment token; repeat for each.")
@click.option("--collateral-rate", "collateral_rates", type=int, multiple=True, help="One per --payment-token.")
@click.option("--out", default="deployments", show_default=True, help="Folder for <chainId>.json.")
def cli(
    network: Any,
    account: Any,
    treasury: str | None,
    arbitrator: str | None,
    governance: str | None,
    guardian: str | None,
    timelock_delay: int | None,
    oracles: tuple[str, ...],
    threshold: int | None,
    staking_token: str | None,
    payment_tokens: tuple[str, ...],
    collateral_rates: tuple[int, ...],
    out: str,
) -> None:
    """Deploy ComputeRails and write deployments/<chainId>.json."""
    if account is None:
        if not network.is_local:
            raise click.UsageError("--account is required on non-local networks")
        account = accounts.test_accounts[GOVERNANCE_INDEX]
    try:
        key = key_of_ape_account(
            account, lambda alias: click.prompt(f"Password for Ape account {alias}", hide_input=True, err=True)
        )
        deployment = deploy_protocol(
            chain.provider.web3,
            key,
            local=network.is_local,
            governance=governance,
            guardian=guardian,
            treasury=treasury,
            arbitrator=arbitrator,
            oracles=list(oracles) or None,
            threshold=threshold,
            staking_token=staking_token,
            payment_tokens=list(payment_tokens) or None,
            collateral_rates=list(collateral_rates) or None,
            params={"timelock_delay": timelock_delay} if timelock_delay is not None else None,
            artifacts=ape_build_artifacts(Path(project.path) / ".build" / "__local__.json"),
        )
    except (ComputeRailsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    path = write_deployment(deployment, out)
    click.echo(f"ComputeRails deployed on chain {deployment.chain_id} from block {deployment.deploy_block}:")
    for name, address in deployment.contracts.items():
        click.echo(f"  {name:<16} {address}")
    click.echo(f"  staking token    {deployment.staking_token}")
    for address in deployment.payment_tokens:
        click.echo(f"  payment token    {address}")
    click.echo(f"Wrote {path}")
