"""``computerails devnet ...``: test tokens and ether for an account, and a deployment to a
devnet node you keep running. Both refuse any chain that is not a devnet."""

from __future__ import annotations

from pathlib import Path

import click
from eth_utils import keccak
from web3 import Web3

from computerails.cli._common import ADDRESS, CliError, Settings, cli, parse_amount
from computerails.devnet import (
    GOVERNANCE_INDEX,
    ape_build_artifacts,
    deploy_protocol,
    dev_key,
    through_timelock,
    write_deployment,
)
from computerails.devnet.faucet import check_devnet, fund
from computerails.rails import http_provider

#: What Ape compiled last, when the command runs in a checkout (``make deploy`` compiles first).
APE_BUILD = Path(".build") / "__local__.json"


@cli.group()
def devnet() -> None:
    """Local devnet helpers: test tokens and ether, deploying to a running node."""


@devnet.command("fund")
@click.argument("address", type=ADDRESS, required=False)
@click.option("--usd", default="10000", show_default=True, help="Payment tokens (the deployment's first) to mint.")
@click.option("--stake", default="10000", show_default=True, help="Staking tokens to mint.")
@click.option("--eth", default="10", show_default=True, help="Ether to add (gas).")
@click.pass_obj
def devnet_fund(s: Settings, address: str | None, usd: str, stake: str, eth: str) -> None:
    """Mint the devnet's test tokens to ADDRESS (default: the --keystore or --account given,
    read without its password) and give it ether.

    The test tokens' open mint() is called from the dev mnemonic's account 0; ether comes from
    anvil_setBalance. Refused on any chain that is not a devnet or whose tokens are not the
    devnet's test tokens.
    """
    amounts = {}
    for option, text in (("--usd", usd), ("--stake", stake), ("--eth", eth)):
        value = parse_amount(text, option)
        if value < 0:
            raise CliError(f"{option} must not be negative, got {text}")
        amounts[option] = value
    if address is None:
        if not (s.keystore or s.account or s.private_key_env):
            raise CliError("give ADDRESS, or the account to fund with --keystore FILE or --account NAME")
        address = s.address()
    result = fund(s.rpc, s.deployment, address, usd=amounts["--usd"], stake=amounts["--stake"], eth=amounts["--eth"])
    data = {
        "address": result.address,
        "chain_id": result.chain_id,
        "given": result.given,
        "balances": result.balances,
    }

    def human() -> None:
        given = ", ".join(f"{amount} {symbol}" for symbol, amount in result.given.items())
        held = ", ".join(f"{amount} {symbol}" for symbol, amount in result.balances.items())
        click.echo(f"Funded {result.address} on chain {result.chain_id}: {given}")
        click.echo(f"Balances now: {held}")

    s.out(data, human)


@devnet.command("deploy")
@click.option("--out", default="deployments", show_default=True, help="Folder for <chainId>.json.")
@click.pass_obj
def devnet_deploy(s: Settings, out: str) -> None:
    """Deploy the protocol to the devnet node at --rpc (test tokens, dev oracle keys) and write
    OUT/<chainId>.json for it. The node keeps running: the file stays valid as long as it does.

    Deploys what Ape compiled last (./.build) when there is a build here, else the contracts
    shipped in the package. For public networks use the Ape script with your own account:
    `ape run deploy --network ... --account NAME` (README, Deploying).
    """
    w3 = Web3(http_provider(s.rpc, timeout=60))
    chain_id = check_devnet(w3)
    artifacts = ape_build_artifacts(APE_BUILD) if APE_BUILD.exists() else None
    deployment = deploy_protocol(w3, dev_key(GOVERNANCE_INDEX), artifacts=artifacts)
    path = write_deployment(deployment, out)
    data = {
        "chain_id": chain_id,
        "deploy_block": deployment.deploy_block,
        "contracts": deployment.contracts,
        "staking_token": deployment.staking_token,
        "payment_tokens": deployment.payment_tokens,
        "file": str(path),
    }

    def human() -> None:
        click.echo(f"ComputeRails deployed on chain {chain_id} from block {deployment.deploy_block}:")
        for name, address in deployment.contracts.items():
            click.echo(f"  {name:<16} {address}")
        click.echo(f"  staking token    {deployment.staking_token}")
        for address in deployment.payment_tokens:
            click.echo(f"  payment token    {address}")
        click.echo(f"Wrote {path}; check it with `computerails --rpc {s.rpc} --deployment {path} deployments check`")

    s.out(data, human)


@devnet.command("add-oracle")
@click.argument("address", type=ADDRESS, required=False)
@click.option("--threshold", type=click.IntRange(min=1), help="Also set the quorum to this many signatures.")
@click.pass_obj
def devnet_add_oracle(s: Settings, address: str | None, threshold: int | None) -> None:
    """Make ADDRESS (default: the --keystore or --account given, read without its password) an
    oracle of the devnet's AttestationHub, through the timelock as the dev governance key
    (its delay waited out on the devnet's clock). The hub's configuration version moves on:
    statements signed before no longer count.

    Refused on any chain that is not a devnet, and for an address that is already an oracle."""
    if address is None:
        if not (s.keystore or s.account or s.private_key_env):
            raise CliError("give ADDRESS, or the oracle's account with --keystore FILE or --account NAME")
        address = s.address()
    rails = s.rails(signer=False)
    check_devnet(rails.w3, rails.deployment)
    hub = rails.hub
    oracles = list(hub.functions.oracles().call())
    if address in oracles:
        raise CliError(f"{address} is already an oracle of the hub at {hub.address}")
    k = threshold if threshold is not None else int(hub.functions.threshold().call())
    if k > len(oracles) + 1:
        raise CliError(f"--threshold {k} exceeds the {len(oracles) + 1} oracles there will be")
    calls = [(hub.address, hub.encode_abi("addOracle", [address]))]
    if threshold is not None:
        calls.append((hub.address, hub.encode_abi("setThreshold", [threshold])))
    salt = keccak(bytes.fromhex(address[2:]) + int(rails.now()).to_bytes(32, "big"))
    through_timelock(rails.w3, rails.deployment, dev_key(GOVERNANCE_INDEX), calls, salt=salt)
    view = rails.views.oracle_set()
    data = {"oracle": address, **view}

    def human() -> None:
        click.echo(
            f"{address} is an oracle: {view['threshold']} of {len(view['oracles'])} sign, "
            f"configuration version {view['config_version']}"
        )

    s.out(data, human)
