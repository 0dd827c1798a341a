"""Serve a daemon's ASGI app with uvicorn (programmatic ``uvicorn.Server``) until SIGTERM or
SIGINT, and the entry points' one-``error:``-line convention.

On SIGTERM uvicorn stops accepting, finishes the requests in flight within ``graceful_timeout``,
then the app's lifespan ends its background loops; the process exits 0.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
from typing import Any

import click
import uvicorn
from fastapi import FastAPI

from computerails.errors import ComputeRailsError

log = logging.getLogger("computerails.service")


class _Server(uvicorn.Server):
    """uvicorn's server, logging the bound address once it listens (port 0 picks a free one)."""

    def __init__(self, config: uvicorn.Config, banner: str, logger: logging.Logger) -> None:
        super().__init__(config)
        self.banner = banner
        self.logger = logger

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        for server in self.servers:
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                self.logger.info("%s serving on http://%s:%s", self.banner, host, port)


def serve_app(
    app: FastAPI,
    *,
    host: str,
    port: int,
    banner: str,
    graceful_timeout: float,
    keep_alive: float = 5.0,
    logger: logging.Logger = log,
) -> None:
    """Serve `app` until SIGTERM or SIGINT, then return (after the lifespan has ended).

    Args:
        banner: who serves, for the "... serving on http://host:port" log line.
        graceful_timeout: seconds in-flight requests get once a signal arrives.
        keep_alive: seconds an idle keep-alive connection is held.
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        http="httptools",  # compiled (a dependency); the pure-Python h11 costs ~0.15 ms more a request
        timeout_keep_alive=max(1, int(keep_alive)),
        timeout_graceful_shutdown=max(1, int(graceful_timeout)),
        lifespan="on",
    )
    server = _Server(config, banner, logger)
    # uvicorn raises the signal it caught again once it has shut down; with these handlers that
    # is a no-op, so a graceful shutdown ends with exit code 0 instead of death by SIGTERM.
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore(_signum: int, _frame: Any) -> None:
    return None


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def run_command(command: click.Command, argv: list[str] | None, prog_name: str) -> int:
    """Run a daemon's click command as a script: one ``error:`` line and exit code 1 on a
    configuration or chain problem, 0 after a clean shutdown."""
    try:
        command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code or 1
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return 1
    except ComputeRailsError as exc:
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        return 1
    return 0
