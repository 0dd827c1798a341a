"""``computerails`` command line: subcommands grouped by role.

Accounts come from a V3 keystore (``--keystore FILE``, or ``--account NAME`` for Ape's
``~/.ape/accounts/NAME.json``) with the password from ``$COMPUTERAILS_PASSWORD`` (or the
variable ``--password-env`` names) or a prompt; on devnets only, ``--private-key-env VAR``.
Failures print one line on stderr and exit non-zero; ``--json`` prints machine output.
"""

from __future__ import annotations

import click
from pydantic import ValidationError

from computerails.cli import (  # noqa: F401 (each registers its group or commands)
    account,
    arbitrator,
    client,
    dashboard,
    deployments,
    devnet,
    index,
    infer,
    job,
    keeper,
    meter,
    oracle,
    protocol,
    provider,
    rewards,
    rewards_compute,
)
from computerails.cli._common import CliError, Settings, cli, parse_deadline, validation_message
from computerails.errors import ComputeRailsError

__all__ = ["CliError", "Settings", "cli", "main", "parse_deadline"]


def main(argv: list[str] | None = None) -> int:
    """Entry point: never shows a traceback for a user or protocol error."""
    try:
        cli.main(args=argv, prog_name="computerails", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return 1
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code if exc.exit_code else 1
    except ComputeRailsError as exc:
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        return 1
    except KeyError as exc:  # views.job() of an id that was never created
        click.echo(f"error: {exc.args[0] if exc.args else exc}", err=True)
        return 1
    except ValidationError as exc:  # a statement or signature that is not valid (pydantic's text spans lines)
        click.echo(f"error: {exc.title}: {validation_message(exc)}", err=True)
        return 1
    except (OSError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    return 0
