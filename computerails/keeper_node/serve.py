"""Run the keeper: build the app from the settings and serve it with uvicorn until SIGTERM or
SIGINT (the pass in progress finishes; exit code 0). ``computerails keeper serve --config
keeper.toml`` and the ``computerails-keeper`` script both land in :func:`serve`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from computerails.keeper_node.app import create_app
from computerails.keeper_node.config import KeeperSettings, load_settings
from computerails.service.serving import configure_logging, run_command, serve_app

log = logging.getLogger("computerails.keeper")


def serve(settings: KeeperSettings) -> None:
    """Serve until SIGTERM or SIGINT, then return.

    Raises:
        AgentConfigError: the settings do not fit the key or the chain's tokens.
    """
    app = create_app(settings)
    serve_app(
        app,
        host=settings.host,
        port=settings.port,
        banner=f"keeper {app.state.node.keeper.address}",
        graceful_timeout=settings.graceful_timeout,
        logger=log,
    )


@click.command("computerails-keeper")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The keeper's TOML settings (COMPUTERAILS_KEEPER_* variables override it).",
)
def main_command(config: Path | None) -> None:
    """Run the ComputeRails keeper: settle jobs, reclaim expired ones and relay uptime reports
    that name it, when the gas is worth it."""
    configure_logging()
    serve(load_settings(config))


def main(argv: list[str] | None = None) -> int:
    """The ``computerails-keeper`` script: one ``error:`` line on a configuration problem."""
    return run_command(main_command, argv, "computerails-keeper")


if __name__ == "__main__":
    sys.exit(main())
