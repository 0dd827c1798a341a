"""The agent's HTTP API (FastAPI): paid inference, a signed health challenge, Prometheus metrics.

- ``POST /v1/infer`` with ``{"pixels": [64 integers 0..16]}``:

  * a malformed body: **422** ``{"error", "fields": [{"field", "problem"}]}`` (checked first, so
    nobody pays for a request that cannot be served);
  * no ``X-Payment-Voucher`` header: **402** with the payment terms (:meth:`PaymentGate.terms`:
    scheme, price, token, escrow, chain id, provider, minimum escrow, safety margin, collection id
    policy and the EIP-712 voucher type);
  * a voucher that is refused: **402** ``{"error", "reason", "terms"}`` (``reason`` is the SDK's
    error class: ``StaleVoucher``, ``InvalidVoucherSignature``, ``InvalidVoucher``,
    ``EscrowBelowMinimum``, ``VoucherNotCovered`` with a ``runway``);
  * a voucher admitted: **200** ``{"label", "logits", "receipt", "receipt_signature"}``.

  The header holds :func:`~computerails.vouchers.signed_to_json`'s JSON, either as is or base64
  encoded (standard alphabet; what :func:`~computerails.agent.payment.encode_voucher_header` sends).
- ``GET /v1/health?challenge=0x<32 bytes>``: the provider's address and its EIP-191 signature over
  ``challenge ‖ chainId (32 bytes) ‖ provider (20 bytes)`` (:func:`computerails.health.health_message`), so an oracle
  knows it talks to the registered provider's key, not a proxy. A missing or malformed challenge: 422.
- ``GET /metrics``: Prometheus text (:mod:`computerails.agent.metrics`).

Bodies larger than ``max_body_bytes`` get **413** before anything is parsed (by the declared
``Content-Length`` or while streaming); a body that does not arrive within ``request_timeout``
gets **408**. A background task runs a collection round every ``collect_interval`` seconds
(after settling the collection journal once at start-up); on SIGTERM uvicorn stops accepting,
finishes the requests in flight, and the task finishes its round before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from computerails.addresses import parse_address
from computerails.agent.config import AgentSettings
from computerails.agent.housekeeping import Housekeeper
from computerails.agent.metrics import AgentMetrics
from computerails.agent.payment import CollectionRunner, PaymentGate, token_per_native
from computerails.agent.store import AgentStore
from computerails.errors import (
    AgentConfigError,
    ComputeRailsError,
    InvalidAmount,
    InvalidVoucher,
    RPCUnavailable,
    VoucherNotCovered,
)
from computerails.health import health_message
from computerails.health import verify_health as verify_health  # re-exported: tests and callers import it from here
from computerails.models import digits
from computerails.rails import ComputeRails, connect
from computerails.service.limits import BodyLimits
from computerails.types import to_raw
from computerails.voucher_header import VOUCHER_HEADER, decode_voucher_header

log = logging.getLogger("computerails.agent")

Pixel = Annotated[StrictInt, Field(ge=0, le=digits.MAX_PIXEL)]


class InferRequest(BaseModel):
    """``POST /v1/infer``'s body."""

    model_config = ConfigDict(extra="forbid")

    pixels: Annotated[list[Pixel], Field(min_length=digits.PIXELS, max_length=digits.PIXELS)]


@dataclass
class Agent:
    """Everything the app serves with, built once from the settings."""

    settings: AgentSettings
    rails: ComputeRails
    account: LocalAccount
    store: AgentStore
    gate: PaymentGate
    runner: CollectionRunner
    metrics: AgentMetrics
    housekeeper: Housekeeper
    #: Run by :meth:`close`, after every background loop has ended (a loop's own resources can
    #: outlive it: the housekeeping pass reads the job runner's journal).
    closers: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def start(cls, settings: AgentSettings) -> Agent:
        """Unlock the key, connect, open the database and check the terms against the chain.

        Raises:
            AgentConfigError: the key, the token or an amount does not fit.
            ComputeRailsError: the node or the deployment is unusable (as :func:`computerails.connect`).
        """
        key = settings.private_key()
        rails = connect(settings.rpc_url, deployment=settings.deployment, account=key)
        token = rails.token(settings.token)
        if token.address not in {parse_address(t) for t in rails.deployment.payment_tokens}:
            raise AgentConfigError(f"token: {token.address} is not one of the deployment's payment tokens")
        try:
            price = to_raw(settings.price, token.decimals)
            min_escrow = to_raw(settings.min_escrow, token.decimals)
        except InvalidAmount as exc:
            raise AgentConfigError(
                f"price or min_escrow: {exc} ({token.symbol} has {token.decimals} decimals)"
            ) from None
        if settings.cover_ttl > 0:
            metered = rails.collector.domain.escrow
            shortest = min(
                int(rails.read("MeteredEscrow", metered, "thawPeriod")),
                int(rails.read("MeteredEscrow", metered, "signerThawPeriod")),
            )
            if settings.cover_ttl * 2 > shortest:
                raise AgentConfigError(
                    f"cover_ttl: {settings.cover_ttl:g} s is not well below the escrow's shortest thaw period "
                    f"({shortest} s); at most half of it"
                )
        if price == 0:
            raise AgentConfigError("price: must be at least one raw unit of the token")
        store = AgentStore(settings.database)
        metrics = AgentMetrics()
        gate = PaymentGate(
            rails,
            store,
            key,
            token=token,
            price=price,
            safety_margin_bps=settings.safety_margin_bps,
            min_escrow=min_escrow,
            cover_ttl=settings.cover_ttl,
            on_cover_read=lambda source: metrics.cover_reads.labels(source).inc(),
            model=wrong_every(settings.wrong_answer_every) if settings.wrong_answer_every else digits.infer,
        )
        prices = token_per_native(settings.native_price, token)
        policy = rails.collector.policy(prices, min_value_per_gas=settings.min_value_per_gas)
        runner = CollectionRunner(rails, gate, store, metrics, policy, receipt_timeout=settings.receipt_timeout)
        metrics.outstanding.set_function(gate.outstanding)
        account = rails.require_account()
        housekeeper = Housekeeper(rails, store, metrics, settings.housekeeping, prices)
        return cls(settings, rails, account, store, gate, runner, metrics, housekeeper)

    def close(self) -> None:
        for close in reversed(self.closers):
            close()
        self.store.close()


def wrong_every(n: int) -> Callable[[list[int]], digits.InferenceResult]:
    """The model, but every `n`-th answer names the next label instead (the fault injection of
    the ``wrong_answer_every`` setting: a provider that cheats on some requests)."""
    lock = threading.Lock()
    served = itertools.count(1)

    def answer(pixels: list[int]) -> digits.InferenceResult:
        result = digits.infer(pixels)
        with lock:
            wrong = next(served) % n == 0
        if not wrong:
            return result
        log.warning("answering wrongly on purpose (wrong_answer_every = %d)", n)
        return result.model_copy(update={"label": (result.label + 1) % 10})

    return answer


async def get_agent(request: Request) -> Agent:
    """The app's agent. A coroutine: FastAPI runs a plain function dependency on a worker thread,
    a hop that cost every request about 0.1 ms of CPU for one attribute read."""
    agent: Agent = request.app.state.agent
    return agent


AgentDep = Annotated[Agent, Depends(get_agent)]

# ───────────────────────── the app ─────────────────────────


async def _collect_loop(agent: Agent, stop: asyncio.Event) -> None:
    """Settle the journal once, then a collection round every ``collect_interval`` seconds."""
    interval = agent.settings.collect_interval
    try:
        await asyncio.to_thread(agent.runner.reconcile)
    except Exception:
        agent.metrics.errors.labels("collect").inc()
        log.exception("settling the collection journal failed")
    while interval > 0 and not stop.is_set():
        try:
            await asyncio.to_thread(agent.runner.run_once)
        except Exception:
            agent.metrics.errors.labels("collect").inc()
            log.exception("collection round failed")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


async def _housekeeping_loop(agent: Agent, stop: asyncio.Event) -> None:
    """An alive mark every ``heartbeat`` seconds and a housekeeping pass every ``interval``
    (the first at start-up); a failed pass is logged and counted, and the next one goes on."""
    settings = agent.settings.housekeeping
    keeper = agent.housekeeper
    next_pass = 0.0
    while not stop.is_set():
        try:
            if settings.interval > 0 and time.monotonic() >= next_pass:
                next_pass = time.monotonic() + settings.interval
                await asyncio.to_thread(keeper.run_once)
            else:
                await asyncio.to_thread(keeper.mark_alive)
        except ComputeRailsError as exc:  # a revert, a timeout: the next pass reads the chain again
            agent.metrics.errors.labels("housekeeping").inc()
            log.warning("housekeeping pass failed: %s", exc)
        except Exception:
            agent.metrics.errors.labels("housekeeping").inc()
            log.exception("housekeeping pass failed")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.heartbeat)
    with contextlib.suppress(Exception):  # the last alive mark: the outage starts from here
        await asyncio.to_thread(keeper.mark_alive)


#: A background loop beside the collection rounds: runs until the event is set (on shutdown).
BackgroundLoop = Callable[[Agent, asyncio.Event], Coroutine[Any, Any, None]]


def create_app(
    settings: AgentSettings,
    agent: Agent | None = None,
    *,
    routers: Sequence[APIRouter] = (),
    loops: Sequence[BackgroundLoop] = (),
) -> FastAPI:
    """The agent's ASGI app. Builds the :class:`Agent` from `settings` unless one is given, so
    configuration problems surface here, before anything listens.

    Args:
        routers: more endpoints (the per-job runner's ``/v1/results/{cid}``), served beside these.
        loops: more background loops (the per-job runner's ``JobCreated`` watcher); each gets the
            agent and the shutdown event, and is awaited before the process exits.
    """
    agent = agent if agent is not None else Agent.start(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(_collect_loop(agent, stop)), asyncio.create_task(_housekeeping_loop(agent, stop))]
        tasks += [asyncio.create_task(loop(agent, stop)) for loop in loops]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            agent.close()
            log.info("agent stopped")

    app = FastAPI(title="ComputeRails provider agent", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.agent = agent
    app.add_middleware(
        BodyLimits,
        max_bytes=settings.max_body_bytes,
        timeout=settings.request_timeout,
        on_refuse=lambda status: agent.metrics.requests.labels("too_large" if status == 413 else "invalid").inc(),
    )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        agent.metrics.errors.labels("request").inc()
        agent.metrics.requests.labels("error").inc()
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, status_code=500)

    @app.post("/v1/infer")
    async def infer(request: Request, agent: AgentDep) -> JSONResponse:
        body = await request.body()
        try:
            parsed = InferRequest.model_validate_json(body)
        except ValidationError as exc:
            agent.metrics.requests.labels("invalid").inc()
            fields = [
                {"field": ".".join(str(p) for p in e["loc"]) or "body", "problem": e["msg"]} for e in exc.errors()
            ]
            return JSONResponse({"error": "invalid request body", "fields": fields}, status_code=422)
        if not agent.settings.payment:
            result = digits.infer(parsed.pixels)  # on the loop, as the paid path runs it: 25 µs
            agent.metrics.requests.labels("served").inc()
            return JSONResponse({"label": result.label, "logits": list(result.logits)})
        header = request.headers.get(VOUCHER_HEADER)
        if header is None:
            agent.metrics.requests.labels("payment_required").inc()
            return JSONResponse(agent.gate.terms(), status_code=402)
        try:
            voucher, signature = decode_voucher_header(header)
        except InvalidVoucher as exc:
            agent.metrics.requests.labels("refused").inc()
            return _refusal(agent, exc)
        try:
            served = await agent.gate.admit_and_serve(voucher, signature, parsed.pixels)
        except VoucherNotCovered as exc:
            agent.metrics.requests.labels("not_covered").inc()
            return _refusal(agent, exc, runway=agent.gate.runway(voucher, exc))
        except InvalidVoucher as exc:
            agent.metrics.requests.labels("refused").inc()
            return _refusal(agent, exc)
        except RPCUnavailable as exc:
            agent.metrics.requests.labels("error").inc()
            agent.metrics.errors.labels("request").inc()
            return JSONResponse({"error": f"the provider cannot reach its node: {exc}"}, status_code=503)
        agent.metrics.requests.labels("served").inc()
        agent.metrics.paid_value.inc(served.increment)
        return JSONResponse(served.body())

    @app.get("/v1/health")
    def health(agent: AgentDep, challenge: str | None = None) -> JSONResponse:
        problem = None
        raw = b""
        if challenge is None:
            problem = "missing: pass ?challenge=0x followed by 64 hex digits"
        else:
            try:
                raw = bytes.fromhex(challenge.removeprefix("0x"))
            except ValueError:
                problem = "not hex"
            else:
                if len(raw) != 32:
                    problem = f"must be 32 bytes, got {len(raw)}"
        if problem is not None:
            return JSONResponse({"error": f"challenge {problem}", "field": "challenge"}, status_code=422)
        chain_id = agent.gate.domain.chain_id
        message = encode_defunct(primitive=health_message(raw, chain_id, agent.account.address))
        signed = agent.account.sign_message(message)
        return JSONResponse(
            {
                "provider": agent.account.address,
                "chain_id": chain_id,
                "challenge": "0x" + raw.hex(),
                "signature": "0x" + bytes(signed.signature).hex(),
            }
        )

    @app.get("/metrics")
    def metrics(agent: AgentDep) -> Response:
        return Response(generate_latest(agent.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    return app


def _refusal(agent: Agent, exc: InvalidVoucher, **extra: Any) -> JSONResponse:
    log.info("payment refused: %s", exc)
    body = {"error": str(exc), "reason": type(exc).__name__, "terms": agent.gate.terms(), **extra}
    return JSONResponse(body, status_code=402)
