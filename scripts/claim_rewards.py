"""Claim every reward a provider can withdraw, through the SDK.

For operators who keep their keys in Ape::

    ape run claim_rewards --network ethereum:local:foundry --account NAME [--deployment FILE]

The keystore password comes from ``APE_ACCOUNTS_<NAME>_PASSPHRASE`` or a prompt. Idempotent: a
second run finds nothing to claim, says so and exits 0.
"""

import os

import click
from ape import chain
from ape.cli import ConnectedProviderCommand, account_option
from eth_account import Account

import computerails
from computerails.errors import ComputeRailsError


def private_key_of(account) -> str:
    """The key behind an Ape account: test accounts expose it; keystores are decrypted here."""
    key = getattr(account, "private_key", None)
    if key:
        return key
    keyfile = getattr(account, "keyfile_path", None)
    if keyfile is None:
        raise click.UsageError(f"account {account} has no local key (hardware wallets are not supported here)")
    alias = getattr(account, "alias", "") or ""
    password = os.environ.get(f"APE_ACCOUNTS_{alias}_PASSPHRASE")
    if password is None:
        password = click.prompt(f"Password for Ape account {alias}", hide_input=True, err=True)
    try:
        return "0x" + bytes(Account.decrypt(keyfile.read_text(), password)).hex()
    except ValueError:
        raise click.UsageError(f"wrong password for Ape account {alias}") from None


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--deployment", help="deployments/<chainId>.json (default: the registry entry for this chain)")
def cli(account, deployment):
    """Withdraw every claimable token of this provider."""
    try:
        rails = computerails.connect(chain.provider.web3, deployment=deployment, account=private_key_of(account))
        payouts = rails.provider.claim_rewards()
    except ComputeRailsError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    if not payouts:
        click.echo(f"Nothing to claim for {account.address}.")
        return
    for payout in payouts:
        click.echo(f"Claimed {payout.amount} {payout.token.symbol} from {payout.source} (tx {payout.tx_hash})")
