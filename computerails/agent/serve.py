"""Run the agent: build the app from the settings and serve it with uvicorn (programmatic
``uvicorn.Server``), logging the address it bound. ``computerails provider serve --config
agent.toml`` and the ``computerails-provider`` script both land in :func:`serve`.

SIGTERM and SIGINT shut down gracefully (uvicorn stops accepting, finishes the requests in
flight within ``graceful_timeout``, then the app's lifespan ends its collection round) and the
process exits 0.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import click
from fastapi import APIRouter, FastAPI

from computerails.agent.app import Agent, BackgroundLoop, create_app
from computerails.agent.config import AgentSettings, load_settings
from computerails.agent.jobs_service import JobsService
from computerails.service.serving import configure_logging, run_command, serve_app

log = logging.getLogger("computerails.agent")


def serve(settings: AgentSettings, *, routers: Sequence[APIRouter] = (), loops: Sequence[BackgroundLoop] = ()) -> None:
    """Serve until SIGTERM or SIGINT, then return.

    Args:
        routers, loops: more endpoints and background loops (see :func:`create_app`).

    Raises:
        AgentConfigError: the settings do not fit the key, the token or the chain.
    """
    app = build_app(settings, routers=routers, loops=loops)
    serve_app(
        app,
        host=settings.host,
        port=settings.port,
        banner=f"provider {app.state.agent.account.address}",
        graceful_timeout=settings.graceful_timeout,
        keep_alive=settings.request_timeout,
        logger=log,
    )


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
    return run_command(main_command, argv, "computerails-provider")


if __name__ == "__main__":
    sys.exit(main())
