"""``computerails account ...``: make the encrypted keystore that ``--keystore`` and
``--account`` read."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import click
from eth_account import Account
from eth_account.signers.local import LocalAccount

from computerails.cli._common import CliError, Settings, ape_accounts_dir, cli

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@cli.group()
def account() -> None:
    """Keystores: make one for --keystore FILE or --account NAME."""


@account.command("new")
@click.option("--name", help="Ape account alias: writes ~/.ape/accounts/NAME.json (then use --account NAME).")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the keystore to this file (--keystore FILE).")
@click.option("--import-key-env", help="Encrypt the private key held in this env var instead of a new one.")
@click.pass_obj
def account_new(s: Settings, name: str | None, out: str | None, import_key_env: str | None) -> None:
    """Write an encrypted V3 keystore (the format of Ape's accounts) for a new key.

    The password comes from the variable --password-env names ($COMPUTERAILS_PASSWORD by
    default), else a prompt that asks twice. An existing file is never overwritten.
    """
    path = _target(name, out)
    if path.exists():
        raise CliError(f"{path} exists already: refusing to overwrite a keystore (choose another name)")
    key = _key(import_key_env)
    password = os.environ.get(s.password_env)
    if password is None:
        password = click.prompt("Password for the new keystore", hide_input=True, confirmation_prompt=True, err=True)
    if not password:
        raise CliError("refusing an empty password: the keystore would not be encrypted in effect")
    keystore = Account.encrypt(key.key, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # "x": fails if the file appeared meanwhile; 0o600: only its owner reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CliError(f"{path} exists already: refusing to overwrite a keystore (choose another name)") from None
    with os.fdopen(fd, "w", encoding="utf8") as file:
        json.dump(keystore, file)
    use = f"--account {name}" if name else f"--keystore {path}"
    data = {"address": key.address, "keystore": str(path), "use": use}
    s.out(data, lambda: click.echo(f"Wrote {path} for {key.address}; use it with `computerails {use} ...`"))


def _target(name: str | None, out: str | None) -> Path:
    if (name is None) == (out is None):
        raise CliError("give exactly one of --name NAME (an Ape account) or --out FILE")
    if name is not None:
        if not _NAME.fullmatch(name):
            raise CliError(f"account name {name!r} may hold only letters, digits, '_', '-' and '.'")
        return ape_accounts_dir() / f"{name}.json"
    return Path(str(out)).expanduser()


def _key(env: str | None) -> LocalAccount:
    if env is None:
        fresh: LocalAccount = Account.create()
        return fresh
    value = os.environ.get(env)
    if not value:
        raise CliError(f"environment variable {env} is empty or unset")
    try:
        imported: LocalAccount = Account.from_key(value)
    except (ValueError, TypeError):
        raise CliError(f"environment variable {env} does not hold a private key (32 bytes of hex)") from None
    return imported


@account.command("address")
@click.pass_obj
def account_address(s: Settings) -> None:
    """Print the address of --keystore FILE or --account NAME (read from the keystore, no
    password needed), e.g. for ``--provider "$(computerails --keystore provider.json account address)"``."""
    address = s.address()
    s.out({"address": address}, lambda: click.echo(address))
