"""What every ``computerails`` command shares: the root group and its settings (node,
deployment, account, output), argument types and parsers, and the one-line error."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from eth_account import Account
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from computerails.addresses import parse_address, parse_bytes32
from computerails.deployments import DEVNET_CHAIN_IDS
from computerails.errors import InvalidAddress
from computerails.rails import ComputeRails, connect

DEFAULT_RPC = "http://127.0.0.1:8545"

console = Console()


class CliError(click.ClickException):
    """A user mistake: printed as one line, exit code 1."""


class AddressType(click.ParamType):
    """An address option or argument, checked by :func:`~computerails.addresses.parse_address`
    while the command line is parsed: a mistyped address (wrong EIP-55 checksum) fails with
    one line before any key is unlocked or anything is sent."""

    name = "address"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return parse_address(value)
        except InvalidAddress as exc:
            self.fail(str(exc), param, ctx)


ADDRESS = AddressType()


def ape_accounts_dir() -> Path:
    """Where Ape keeps its keystore accounts: ``$APE_DATA_FOLDER/accounts``, by default
    ``~/.ape/accounts`` (what ``ape accounts`` and ``--account NAME`` read)."""
    data = os.environ.get("APE_DATA_FOLDER")
    return (Path(data) if data else Path("~/.ape")).expanduser() / "accounts"


def is_keystore(keyfile: Any) -> bool:
    """Whether `keyfile` (parsed JSON) has the shape of an encrypted V3 keystore."""
    if not isinstance(keyfile, dict):
        return False
    crypto = keyfile.get("crypto", keyfile.get("Crypto"))
    return keyfile.get("version") == 3 and isinstance(crypto, dict) and "ciphertext" in crypto


@dataclass
class Settings:
    rpc: str
    deployment: str | None
    keystore: str | None
    account: str | None
    password_env: str
    private_key_env: str | None
    as_json: bool
    yes: bool
    _rails: ComputeRails | None = None

    def rails(self, signer: bool = True) -> ComputeRails:
        if self._rails is None:
            key = self._key() if signer else None
            rails = connect(self.rpc, deployment=self.deployment, account=key)
            if self.private_key_env and rails.chain_id not in DEVNET_CHAIN_IDS:
                raise CliError(f"--private-key-env is for devnets only; chain {rails.chain_id} needs a keystore")
            self._rails = rails
        return self._rails

    def _key(self) -> Any:
        if self.private_key_env:
            value = os.environ.get(self.private_key_env)
            if not value:
                raise CliError(f"environment variable {self.private_key_env} is empty or unset")
            return value
        path = self._keystore_path()
        if path is None:
            raise CliError("no account: pass --keystore FILE, --account NAME or (devnets) --private-key-env VAR")
        try:
            keyfile = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CliError(f"cannot read keystore {path}: {exc}") from None
        if not is_keystore(keyfile):
            raise CliError(
                f"{path} is not an encrypted V3 keystore (no version 3 and crypto section): "
                "make one with `computerails account new`"
            )
        password = os.environ.get(self.password_env)
        if password is None:
            password = click.prompt(f"Password for {path.name}", hide_input=True, err=True)
        try:
            return Account.decrypt(keyfile, password)
        except ValueError:
            raise CliError(f"wrong password for keystore {path}") from None
        except (KeyError, TypeError) as exc:
            raise CliError(f"keystore {path} is damaged: {type(exc).__name__} {exc}") from None

    def address(self) -> str:
        """The account's address without unlocking it where possible: a keystore's own
        ``address`` field (V3 keystores, Ape's included, carry it in clear), the key of
        --private-key-env; a keystore without the field is decrypted.

        Raises:
            CliError: no account given, or its keystore cannot be read.
        """
        path = self._keystore_path()
        if path is not None and not self.private_key_env:
            try:
                keyfile = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise CliError(f"cannot read keystore {path}: {exc}") from None
            stored = keyfile.get("address") if isinstance(keyfile, dict) else None
            if isinstance(stored, str):
                try:
                    return parse_address(stored if stored.startswith("0x") else "0x" + stored, "keystore")
                except InvalidAddress as exc:
                    raise CliError(f"{path}: {exc}") from None
        address: str = Account.from_key(self._key()).address
        return address

    def _keystore_path(self) -> Path | None:
        if self.keystore:
            return Path(self.keystore).expanduser()
        if self.account:
            return ape_accounts_dir() / f"{self.account}.json"
        return None

    def out(self, data: Any, human: Callable[[], None]) -> None:
        if self.as_json:
            click.echo(json.dumps(jsonable(data), indent=2, sort_keys=True))
        else:
            human()

    def confirm(self, question: str) -> None:
        if not self.yes and not click.confirm(question, default=False, err=True):
            raise CliError("aborted")


def jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return jsonable(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {str(k.symbol if hasattr(k, "symbol") else k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def validation_message(exc: ValidationError) -> str:
    """A pydantic validation error on one line: ``field: problem; field: problem``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        cause = error.get("ctx", {}).get("error")  # the validator's own exception, e.g. InvalidAddress
        parts.append(f"{where}: {cause if cause is not None else error['msg']}")
    return "; ".join(parts)


def print_table(title: str, rows: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in rows.items():
        table.add_row(key, str(jsonable(value)))
    console.print(table)


def parse_amount(text: str, what: str) -> Decimal:
    """A token amount as typed by the user; refuses what Decimal cannot read or is not finite."""
    try:
        value = Decimal(text)
    except ArithmeticError:  # decimal.InvalidOperation
        raise CliError(f"{what} {text!r} is not a number") from None
    if not value.is_finite() or value.adjusted() > 77:  # beyond any uint256 amount
        raise CliError(f"{what} {text!r} is not a finite number of a token's size")
    return value


_DURATION = re.compile(r"^(\d+)([smhd])$")


def parse_deadline(text: str) -> datetime | timedelta | int:
    """``90m``/``2h``/``1d`` (from now), an ISO-8601 time with zone, or unix seconds."""
    match = _DURATION.match(text.strip())
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return timedelta(**{unit: int(match.group(1))})
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"cannot read deadline {text!r}: use 2h, 1d, unix seconds or ISO-8601") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_hash32(text: str | None, file: str | None, what: str) -> bytes:
    if file:
        from eth_utils import keccak

        return keccak(Path(file).read_bytes())
    if not text:
        raise CliError(f"give --{what} (32-byte hex) or --{what.split('-')[0]}-file")
    return parse_bytes32(text, f"--{what}", CliError)


# ───────────────────────────── root ─────────────────────────────


@click.group()
@click.option("--rpc", envvar="COMPUTERAILS_RPC", default=DEFAULT_RPC, show_default=True, help="Node RPC URL.")
@click.option(
    "--deployment",
    envvar="COMPUTERAILS_DEPLOYMENT",
    help="deployments/<chainId>.json or a chain id (default: the registry entry for the node's chain).",
)
@click.option("--keystore", type=click.Path(dir_okay=False), help="V3 keystore file.")
@click.option("--account", "account_name", help="Ape account alias: ~/.ape/accounts/NAME.json.")
@click.option(
    "--password-env",
    default="COMPUTERAILS_PASSWORD",
    show_default=True,
    help="Env var holding the keystore password (else prompt).",
)
@click.option("--private-key-env", help="Env var holding a raw private key (devnets only).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--yes", is_flag=True, help="Do not ask before irreversible actions.")
@click.version_option(package_name="computerails")
@click.pass_context
def cli(
    ctx: click.Context,
    rpc: str,
    deployment: str | None,
    keystore: str | None,
    account_name: str | None,
    password_env: str,
    private_key_env: str | None,
    as_json: bool,
    yes: bool,
) -> None:
    """ComputeRails: escrow, staking and oracle attestations for compute networks."""
    ctx.obj = Settings(rpc, deployment, keystore, account_name, password_env, private_key_env, as_json, yes)
