"""The keeper's ASGI app: ``GET /v1/health`` (plain status), ``GET /metrics`` (Prometheus), and
the pass loop in the app's lifespan: one :meth:`~computerails.keeper_node.duties.Keeper.run_once`
every ``interval`` seconds (the first at start-up), run in a worker thread; on shutdown the pass
in progress finishes before the process exits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from computerails.keeper_node.config import KeeperSettings
from computerails.keeper_node.duties import Keeper
from computerails.keeper_node.metrics import KeeperMetrics
from computerails.keeper_node.store import KeeperStore
from computerails.rails import ComputeRails, connect

log = logging.getLogger("computerails.keeper")


@dataclass
class KeeperNode:
    """Everything the app runs with, built once from the settings."""

    settings: KeeperSettings
    rails: ComputeRails
    store: KeeperStore
    metrics: KeeperMetrics
    keeper: Keeper
    passes: int = 0
    last_pass: float | None = None  # unix seconds when the last pass ended
    last_error: str | None = field(default=None)

    @classmethod
    def start(cls, settings: KeeperSettings) -> KeeperNode:
        """Unlock the key, connect, open the database and check the prices against the chain.

        Raises:
            AgentConfigError: the key or a ``native_price`` token does not fit.
            AgentStateMismatch: the database was written for another keeper, chain or escrow.
            ComputeRailsError: the node or the deployment is unusable (as :func:`computerails.connect`).
        """
        rails = connect(settings.rpc_url, deployment=settings.deployment, account=settings.private_key())
        metrics = KeeperMetrics()
        store = KeeperStore(settings.database)
        try:
            keeper = Keeper(rails, store, metrics, settings)
        except BaseException:
            store.close()
            raise
        return cls(settings, rails, store, metrics, keeper)

    def run_once(self) -> None:
        try:
            self.keeper.run_once()
            self.last_error = None
        except Exception as exc:
            self.metrics.errors.labels("pass").inc()
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("keeper pass failed")
        finally:
            self.passes += 1
            self.last_pass = time.time()

    def close(self) -> None:
        self.keeper.close()
        self.store.close()


async def _pass_loop(node: KeeperNode, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await asyncio.to_thread(node.run_once)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), node.settings.interval)


def create_app(settings: KeeperSettings, node: KeeperNode | None = None) -> FastAPI:
    """The keeper's ASGI app. Builds the :class:`KeeperNode` from `settings` unless one is given,
    so configuration problems surface here, before anything listens."""
    node = node if node is not None else KeeperNode.start(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(_pass_loop(node, stop))
        try:
            yield
        finally:
            stop.set()
            await task
            node.close()
            log.info("keeper stopped")

    app = FastAPI(title="ComputeRails keeper", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.node = node

    @app.get("/v1/health")
    def health() -> JSONResponse:
        return JSONResponse(
            {
                "status": "ok",
                "keeper": node.keeper.address,
                "chain_id": node.rails.chain_id,
                "passes": node.passes,
                "last_pass": node.last_pass,
                "last_error": node.last_error,
            }
        )

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(node.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
