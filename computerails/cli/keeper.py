"""``computerails keeper ...``."""

from __future__ import annotations

from pathlib import Path

import click

from computerails.cli._common import cli
from computerails.cli._ui import RoleGroup


@cli.group(cls=RoleGroup)
def keeper() -> None:
    """Keep jobs and uptime reports moving (the keeper daemon)."""


@keeper.command("serve")
@click.option(
    "--config",
    "config",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The keeper's TOML settings (COMPUTERAILS_KEEPER_* variables override it).",
)
def keeper_serve(config: Path) -> None:
    """Run the keeper: settle jobs whose challenge window ended, reclaim expired jobs and relay
    uptime reports that name it, each when the gas is worth it.

    The keeper reads its node, deployment and keystore from the settings file, not from the
    global options. It stops gracefully on SIGTERM or Ctrl-C."""
    from computerails.keeper_node.config import load_settings
    from computerails.keeper_node.serve import serve
    from computerails.service.serving import configure_logging

    configure_logging()
    serve(load_settings(config))
