"""Run the agent: build the app from the settings and serve it with uvicorn (programmatic
``uvicorn.Server``), logging the address it bound. ``computerails provider serve --config
agent.toml`` and the ``computerails-provider`` script both land in :func:`serve`.

SIGTERM and SIGINT shut down gracefully (uvicorn stops accepting, finishes the requests in
flight within ``graceful_timeout``, then the app's lifespan ends its collection round) and the
process exits 0.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import uvicorn
from fastapi import APIRouter, FastAPI

from computerails.agent.app import Agent, BackgroundLoop, create_app
from computerails.agent.config import AgentSettings, load_settings
from computerails.agent.jobs_service import JobsService
from computerails.errors import ComputeRailsError

log = logging.getLogger("computerails.agent")


class _Server(uvicorn.Server):
    """uvicorn's server, logging the bound address once it listens (port 0 picks a free one)."""

    def __init__(self, config: uvicorn.Config, provider: str) -> None:
        super().__init__(config)
        self.provider = provider

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        for server in self.servers:
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                log.info("provider %s serving on http://%s:%s", self.provider, host, port)


def serve(settings: AgentSettings, *, routers: Sequence[APIRouter] = (), loops: Sequence[BackgroundLoop] = ()) -> None:
    """Serve until SIGTERM or SIGINT, then return.

    Args:
        routers, loops: more endpoints and background loops (see :func:`create_app`).

    Raises:
        AgentConfigError: the settings do not fit the key, the token or the chain.
    """
    app = build_app(settings, routers=routers, loops=loops)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_keep_alive=max(1, int(settings.request_timeout)),
        timeout_graceful_shutdown=max(1, int(settings.graceful_timeout)),
        lifespan="on",
    )
    server = _Server(config, app.state.agent.account.address)
    # uvicorn raises the signal it caught again once it has shut down; with these handlers that
    # is a no-op, so a graceful shutdown ends with exit code 0 instead of death by SIGTERM.
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def build_app(
    settings: AgentSettings, *, routers: Sequence[APIRouter] = (), loops: Sequence[BackgroundLoop] = ()
) -> FastAPI:
    """The agent's app as the settings describe it: paid inference, plus the per-job runner's
    routes and loop when ``[jobs] enabled`` (:class:`~computerails.agent.jobs_service.JobsService`).

    Raises:
        AgentConfigError: the settings do not fit the key, the token or the chain.
        AgentStateMismatch: the jobs database belongs to another provider, chain or escrow.
    """
    agent = Agent.start(settings)
    routers, loops = list(routers), list(loops)
    if settings.jobs.enabled:
        try:
            jobs = JobsService(agent)
        except BaseException:
            agent.close()
            raise
        routers.append(jobs.router())
        loops.append(jobs.loop)
    return create_app(settings, agent, routers=routers, loops=loops)


def _ignore(_signum: int, _frame: Any) -> None:
    return None


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@click.command("computerails-provider")
@click.option(
    "--config", "config", type=click.Path(dir_okay=False, path_type=Path), help="The agent's TOML settings file."
)
def main_command(config: Path | None) -> None:
    """Run the ComputeRails provider agent (paid inference over HTTP, and per-job work when
    the settings' [jobs] section enables it)."""
    configure_logging()
    serve(load_settings(config))


def main(argv: list[str] | None = None) -> int:
    """The ``computerails-provider`` script: one ``error:`` line on a configuration problem."""
    try:
        main_command.main(args=argv, prog_name="computerails-provider", standalone_mode=False)
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


if __name__ == "__main__":
    sys.exit(main())
