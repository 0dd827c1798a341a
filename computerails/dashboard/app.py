"""The dashboard's ASGI app: server-side HTML pages over the index, each with the JSON endpoint
its charts fetch (``/api/...``, documented in ``/openapi.json``).

Read-only: the database is opened read-only (SQLite ``mode=ro``, a Postgres session with
``default_transaction_read_only``), and no route writes. An unknown address, job or transaction
answers 404 with the reason; a malformed one 422 with the reason: as a page for a browser, as
``{"detail": ...}`` under ``/api``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from computerails.dashboard.models import (
    ClientPage,
    JobPage,
    NetworkPage,
    Problem,
    ProviderPage,
    RewardsPage,
    SearchResult,
    TxPage,
)
from computerails.dashboard.pages import LIVE, STATIC_DIR, VENDOR_FILES, Links, render, vendor_dir
from computerails.dashboard.queries import BadInput, IndexReader, NotFound, parse_job_id, parse_tx_hash
from computerails.dashboard.queries import parse_address as parse_account

PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "nothing indexed under that key (the reason says what)"},
    422: {"model": Problem, "description": "a malformed address, job id or transaction hash (the reason says why)"},
}


def get_index(request: Request) -> IndexReader:
    """The app's index reader (a dependency: tests may build the app over their own reader)."""
    reader: IndexReader = request.app.state.index
    return reader


Index = Annotated[IndexReader, Depends(get_index)]


@dataclass(frozen=True)
class DashboardSettings:
    """Args:
    db: the index database: a SQLite file path or an SQLAlchemy URL (``postgresql://...``).
    rpc: a node of the indexed chain, for token symbols and decimals (None: smallest units).
    node_modules: where npm installed Chart.js (default: the checkout's ``node_modules``).
    """

    db: str
    rpc: str | None = None
    node_modules: Path | None = None


def create_app(settings: DashboardSettings, reader: IndexReader | None = None) -> FastAPI:
    """The dashboard app over the index `settings.db` (or over `reader`, already open).

    Raises:
        FileNotFoundError: Chart.js is not installed (``make setup`` runs ``npm ci``).
    """
    index = reader if reader is not None else IndexReader.open(settings.db, settings.rpc)
    vendor = vendor_dir(settings.node_modules)
    app = FastAPI(
        title="ComputeRails dashboard",
        description="The network as the index sees it: TVL, jobs, providers, clients, transactions, rewards. "
        "Read-only.",
        version="1",
    )
    app.state.index = index

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/vendor/{name}", include_in_schema=False)
    def vendored(name: str) -> FileResponse:
        if name not in VENDOR_FILES:
            raise NotFound(f"no vendored asset {name!r}")
        return FileResponse(vendor / VENDOR_FILES[name], media_type="text/javascript")

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return _problem(request, 404, str(exc))

    @app.exception_handler(BadInput)
    async def bad_input(request: Request, exc: BadInput) -> Response:
        return _problem(request, 422, str(exc))

    # ── JSON API ──
    @app.get("/api/network", response_model=NetworkPage, tags=["api"])
    def api_network(ix: Index) -> NetworkPage:
        """TVL in escrow and stake, jobs and paid requests per day, fees, slashes, providers by
        status and the oracle set."""
        return ix.network()

    @app.get("/api/rewards", response_model=RewardsPage, tags=["api"])
    def api_rewards(ix: Index) -> RewardsPage:
        """The RewardsDistributor: reserve funded, distributed (the latest root not vetoed), claimed,
        every root with its state, the top claimants, and the flywheel curve by reward epoch (the
        subsidy against providers' fee revenue, and the subsidy's share of the two)."""
        return ix.rewards()

    @app.get("/api/provider/{address}", response_model=ProviderPage, responses=PROBLEMS, tags=["api"])
    def api_provider(address: str, ix: Index) -> ProviderPage:
        """A provider's stake, locked collateral, unbonding, earnings over time, uptime per
        epoch, slashes with their reasons, and jobs."""
        return ix.provider(parse_account(address))

    @app.get("/api/client/{address}", response_model=ClientPage, responses=PROBLEMS, tags=["api"])
    def api_client(address: str, ix: Index) -> ClientPage:
        """A client's spend, refunds, compensation, open jobs and metered escrow runway."""
        return ix.client(parse_account(address))

    @app.get("/api/job/{job_id}", response_model=JobPage, responses=PROBLEMS, tags=["api"])
    def api_job(job_id: str, ix: Index) -> JobPage:
        """A job's terms and its timeline through the escrow's state machine."""
        return ix.job(parse_job_id(job_id))

    @app.get("/api/tx/{tx_hash}", response_model=TxPage, responses=PROBLEMS, tags=["api"])
    def api_tx(tx_hash: str, ix: Index) -> TxPage:
        """The protocol events one transaction emitted."""
        return ix.tx(parse_tx_hash(tx_hash))

    @app.get("/api/search", response_model=SearchResult, responses=PROBLEMS, tags=["api"])
    def api_search(
        ix: Index, q: Annotated[str, Query(description="an address, a job id or a tx hash")]
    ) -> SearchResult:
        """What a search term names: a provider or client address, a job id, or a transaction."""
        kind, key = ix.search(q)
        return SearchResult(kind=kind, key=key, url=LIVE.page(kind, key))

    # ── pages ──
    def page(template: str, title: str, data: Callable[[], Any], api: str) -> HTMLResponse:
        model = data()
        return HTMLResponse(render(template, model=model, title=title, links=LIVE, api=api))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def network_page(ix: Index) -> HTMLResponse:
        return page("network.html", "Network", ix.network, "/api/network")

    @app.get("/rewards", response_class=HTMLResponse, include_in_schema=False)
    def rewards_page(ix: Index) -> HTMLResponse:
        return page("rewards.html", "Rewards", ix.rewards, "/api/rewards")

    @app.get("/provider/{address}", response_class=HTMLResponse, include_in_schema=False)
    def provider_page(address: str, ix: Index) -> HTMLResponse:
        key = parse_account(address)
        return page("provider.html", f"Provider {key}", lambda: ix.provider(key), f"/api/provider/{key}")

    @app.get("/client/{address}", response_class=HTMLResponse, include_in_schema=False)
    def client_page(address: str, ix: Index) -> HTMLResponse:
        key = parse_account(address)
        return page("client.html", f"Client {key}", lambda: ix.client(key), f"/api/client/{key}")

    @app.get("/job/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    def job_page(job_id: str, ix: Index) -> HTMLResponse:
        key = parse_job_id(job_id)
        return page("job.html", f"Job {key}", lambda: ix.job(key), f"/api/job/{key}")

    @app.get("/tx/{tx_hash}", response_class=HTMLResponse, include_in_schema=False)
    def tx_page(tx_hash: str, ix: Index) -> HTMLResponse:
        key = parse_tx_hash(tx_hash)
        return page("tx.html", f"Transaction {key}", lambda: ix.tx(key), f"/api/tx/{key}")

    @app.get("/search", include_in_schema=False)
    def search_page(ix: Index, q: str = "") -> RedirectResponse:
        kind, key = ix.search(q)
        return RedirectResponse(LIVE.page(kind, key), status_code=303)

    return app


def _problem(request: Request, status: int, reason: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": reason}, status_code=status)
    title = "Not found" if status == 404 else "Not understood"
    html = render("problem.html", model=None, title=title, links=LIVE, api="", status=status, reason=reason)
    return HTMLResponse(html, status_code=status)


__all__ = ["DashboardSettings", "Links", "create_app"]
