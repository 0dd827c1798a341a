"""Claim every reward a provider can withdraw, through the SDK.

For operators who keep their keys in Ape::

    ape run claim_rewards --network ethereum:local:foundry --account NAME [--deployment FILE]

The keystore password comes from ``APE_ACCOUNTS_<NAME>_PASSPHRASE`` or a prompt. Idempotent: a
second run finds nothing to claim, says so and exits 0.
"""

import click
from ape import chain
from ape.cli import ConnectedProviderCommand, account_option

import computerails
from computerails.devnet import key_of_ape_account
from computerails.errors import ComputeRailsError


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--deployment", help="deployments/<chainId>.json (default: the registry entry for this chain)")
def cli(account, deployment):
    """Withdraw every claimable token of this provider."""
    try:
        key = key_of_ape_account(
            account, lambda alias: click.prompt(f"Password for Ape account {alias}", hide_input=True, err=True)
        )
        rails = computerails.connect(chain.provider.web3, deployment=deployment, account=key)
        payouts = rails.provider.claim_rewards()
    except ComputeRailsError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    except ValueError as exc:  # no local key, or a wrong password
        raise click.UsageError(str(exc)) from None
    if not payouts:
        click.echo(f"Nothing to claim for {account.address}.")
        return
    for payout in payouts:
        click.echo(f"Claimed {payout.amount} {payout.token.symbol} from {payout.source} (tx {payout.tx_hash})")
