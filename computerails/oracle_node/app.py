"""The oracle node's HTTP API and its background loops (FastAPI on uvicorn).

- ``POST /v1/gossip`` (the hub's other oracles): 200 ``{"accepted": true, "outcome"}``; 400
  malformed, stale or for another network; 403 not signed by another current oracle; 409 a replay.
- ``POST /v1/receipts`` (payers' clients): ``{"receipt", "provider_signature", "pixels"}``
  recomputed: 200 ``{"verdict": "correct"}`` or 202 ``{"verdict": "fraud", "round"}``; 422 naming
  the problem.
- ``GET /v1/reports`` (keepers): uptime reports with a quorum, not yet done:
  ``[{"report", "signatures"}]``.
- ``GET /v1/rounds`` (operators): open rounds: kind, whether ready, signatures held.
- ``GET /v1/uptime/{epoch}``: the node's probes per provider, its observation, the members'
  observations it holds and their lower median (what the demo prints);
- ``GET /v1/shopper``: the mystery shopper's purchases per provider (shops by outcome, raw value
  spent, slots still planned) and what the current epoch committed of its budget;
  ``{"enabled": false}`` when it is off.
- ``GET /v1/rewards/latest`` (providers claiming): the rewards file (``computerails-rewards-v1``
  JSON) of the latest root on chain that this node computed: the latest posted root unless it was
  vetoed, else the active one; 404 with the reason when the node holds neither.
- ``GET /v1/rewards/{root}``: the rewards file this node computed for `root`; 404 when unknown.
- ``GET /v1/health``: the node's address, chain, configuration version, unreachable peers.
- ``GET /metrics``: Prometheus (:mod:`~computerails.oracle_node.metrics`).

Loops, each in a worker thread until shutdown: a pass of :meth:`OracleNode.tick` every ``tick``
seconds, the re-send of the node's open messages every ``gossip_interval`` seconds, and the
prober's due probes (when the node has one), the mystery shopper's due shops (when it is on), and
the rewards index brought up to the chain's head every ``rewards.index_interval`` seconds (when
the rewards duty is on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, StrictInt, ValidationError
from starlette.concurrency import run_in_threadpool

from computerails.errors import ComputeRailsError, GossipRefused, InvalidReceipt
from computerails.oracle_node.node import UPTIME, OracleNode, median_uptime
from computerails.oracle_node.probes import Epoch, Prober
from computerails.oracle_node.providers import ProviderDirectory
from computerails.oracle_node.shopper import Shopper
from computerails.receipts import ResponseReceipt
from computerails.service.limits import BodyLimits

log = logging.getLogger("computerails.oracle")

#: A background loop: runs until the event is set (on shutdown).
Loop = Callable[[OracleNode, asyncio.Event], Coroutine[Any, Any, None]]


class ForwardedReceipt(BaseModel):
    """``POST /v1/receipts``: a provider-signed receipt and the request it answered."""

    model_config = ConfigDict(extra="forbid")

    receipt: dict[str, Any]
    provider_signature: str
    pixels: list[StrictInt]


def every(
    seconds: float,
    step: Callable[[], object],
    name: str,
    on_error: Callable[[], None],
    on_exit: Callable[[], None] = lambda: None,
) -> Loop:
    """A loop running `step` in a worker thread every `seconds` until shutdown; a failed step
    is logged and counted, and the next one goes on. `on_exit` runs once the loop has ended
    (it closes what only the loop used)."""

    async def loop(_node: OracleNode, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await asyncio.to_thread(step)
                except ComputeRailsError as exc:
                    on_error()
                    log.warning("%s failed: %s", name, exc)
                except Exception:
                    on_error()
                    log.exception("%s failed", name)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), seconds)
        finally:
            on_exit()

    return loop


def probe_loop(prober: Prober, directory: ProviderDirectory, tick: float) -> Loop:
    """The prober's loop: every `tick` seconds, read new registrations, plan the current epoch
    and the one before (its last slots may still be due), and probe every due slot on the
    chain's clock (the schedule's)."""

    def epochs(node: OracleNode) -> tuple[int, list[Epoch]]:
        directory.refresh()
        view = node.rails.views.epochs()
        windows = [view.current] + [w for w in view.reportable if w.epoch == view.current.epoch - 1]
        planned = [Epoch(w.epoch, int(w.start.timestamp()), int((w.end - w.start).total_seconds())) for w in windows]
        return int(view.now.timestamp()), planned

    async def loop(node: OracleNode, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    now, planned = await asyncio.to_thread(epochs, node)
                    for epoch in planned[1:]:
                        await asyncio.to_thread(prober.plan, epoch)
                    outcomes = await prober.run_due(now, planned[0])
                    for outcome in outcomes:
                        node.metrics.probes.labels("up" if outcome.result.up else "down").inc()
                except ComputeRailsError as exc:
                    node.metrics.errors.labels("uptime").inc()
                    log.warning("probe pass failed: %s", exc)
                except Exception:
                    node.metrics.errors.labels("uptime").inc()
                    log.exception("probe pass failed")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), tick)
        finally:
            await prober.aclose()
            prober.log.close()

    return loop


def create_app(node: OracleNode, loops: list[Loop] | None = None, shopper: Shopper | None = None) -> FastAPI:
    """The node's app; `loops` are extra background loops (the prober's, the shopper's)."""
    settings = node.settings
    errors = node.metrics.errors
    background = [
        every(settings.tick, node.tick, "pass", lambda: errors.labels("loop").inc()),
        every(settings.gossip_interval, node.regossip, "gossip", lambda: errors.labels("gossip").inc()),
        *(loops or []),
    ]
    if node.rewards is not None:
        background.append(
            every(settings.rewards.index_interval, node.rewards.advance, "index", lambda: errors.labels("index").inc())
        )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(loop(node, stop)) for loop in background]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            node.close()
            log.info("oracle node stopped")

    app = FastAPI(title="ComputeRails oracle node", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.node = node
    app.add_middleware(BodyLimits, max_bytes=settings.max_body_bytes, timeout=settings.peer_timeout * 3)

    @app.post("/v1/gossip")
    async def take_gossip(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            answer = await run_in_threadpool(node.receive, raw)
        except GossipRefused as exc:
            return JSONResponse({"error": str(exc), "reason": exc.reason}, status_code=exc.status)
        return JSONResponse(answer)

    @app.post("/v1/receipts")
    async def take_receipt(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            forwarded = ForwardedReceipt.model_validate_json(raw)
            receipt = ResponseReceipt.model_validate(forwarded.receipt)
        except (ValidationError, InvalidReceipt) as exc:
            return JSONResponse({"error": f"invalid receipt: {exc}"}, status_code=422)
        try:
            verdict = await run_in_threadpool(
                node.check_receipt, receipt, forwarded.provider_signature, list(forwarded.pixels)
            )
        except (InvalidReceipt, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return JSONResponse(verdict, status_code=202 if verdict["verdict"] == "fraud" else 200)

    @app.get("/v1/reports")
    def reports() -> JSONResponse:
        out = []
        members = node.members
        for r in node.store.open_rounds(UPTIME):
            if r.ready_digest is None:
                continue
            found = node.store.statement(r.ready_digest)
            if found is None:
                continue
            signatures = [
                {"signer": signer, "signature": sig, "config_version": members.config_version}
                for signer, sig in node.store.signatures(r.ready_digest).items()
                if signer in members.oracles
            ]
            out.append({"report": found[2], "signatures": signatures})
        return JSONResponse(out)

    @app.get("/v1/rounds")
    def rounds() -> JSONResponse:
        out = []
        for r in node.store.open_rounds():
            held = {d: len(node.store.signatures(d)) for d in node.store.digests(r.key)}
            out.append({"round": r.key, "kind": r.kind, "ready": r.ready_digest is not None, "signatures": held})
        return JSONResponse(out)

    @app.get("/v1/uptime/{epoch}")
    def uptime(epoch: int) -> JSONResponse:
        """The node's probes of each provider in `epoch` (by outcome), its own observation, the
        members' observations it holds and their lower median (null below the threshold)."""
        if epoch < 0:
            return JSONResponse({"error": "epoch: must be at least 0"}, status_code=422)
        prober = node.uptime if isinstance(node.uptime, Prober) else None
        counts = prober.load(epoch) if prober is not None else {}
        members = node.members
        providers = {}
        for provider in sorted(set(counts) | node.store.observed_providers(epoch)):
            c = counts.get(provider)
            held = {o.node: o.uptime_bps for o in node.store.observations(epoch, provider) if o.node in members.oracles}
            own = prober.log.uptime_bps(epoch, provider, prober.min_probes) if prober and c and not c.pending else None
            providers[provider] = {
                "planned": c.planned if c else 0,
                "up": c.up if c else 0,
                "down": c.down if c else 0,
                "missed": c.missed if c else 0,
                "pending": c.pending if c else 0,
                "uptime_bps": own,
                "observations": held,
                "median_bps": median_uptime(list(held.values()), members.threshold),
            }
        return JSONResponse({"epoch": epoch, "oracle": node.me, "providers": providers})

    @app.get("/v1/shopper")
    def shopper_report() -> JSONResponse:
        return JSONResponse({"enabled": False} if shopper is None else shopper.report())

    @app.get("/v1/rewards/latest")
    def rewards_latest() -> JSONResponse:
        duty = node.rewards
        if duty is None:
            return JSONResponse({"error": "the rewards duty is off on this node"}, status_code=404)
        chain = duty.chain()
        candidates = [] if chain.vetoed else [chain.root]
        candidates += [chain.active_root] if chain.active_through else []
        for root in candidates:
            found = duty.tree(root)
            if found is not None:
                return JSONResponse(found.document())
        shown = ", ".join(f"0x{r.hex()}" for r in candidates) or "none yet"
        return JSONResponse({"error": f"this node computed none of the roots on chain ({shown})"}, status_code=404)

    @app.get("/v1/rewards/{root}")
    def rewards_tree(root: str) -> JSONResponse:
        try:
            raw = bytes.fromhex(root.removeprefix("0x"))
        except ValueError:
            raw = b""
        if len(raw) != 32:
            return JSONResponse({"error": f"{root!r} is not a 32-byte hex root"}, status_code=422)
        found = node.rewards.tree(raw) if node.rewards is not None else None
        if found is None:
            return JSONResponse(
                {"error": f"this node computed no rewards tree with root 0x{raw.hex()}"}, status_code=404
            )
        return JSONResponse(found.document())

    @app.get("/v1/health")
    def health() -> JSONResponse:
        members = node.members
        return JSONResponse(
            {
                "oracle": node.me,
                "member": node.me in members.oracles,
                "chain_id": node.chain_id,
                "hub": node.hub,
                "config_version": members.config_version,
                "threshold": members.threshold,
                "unreachable_peers": sorted(node.link.unreachable),
                # chain time up to which every due probe is recorded (null before the first pass)
                "probed_until": node.uptime.probed_until if isinstance(node.uptime, Prober) else None,
            }
        )

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(node.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        errors.labels("request").inc()
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, status_code=500)

    return app
