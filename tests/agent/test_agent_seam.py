"""The seam the per-job runner plugs into: create_app(routers=..., loops=...) serves more
endpoints beside the paid ones and runs more background loops, stopped with the app."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter

from computerails.agent.app import Agent, create_app
from computerails.agent.config import load_settings


def test_create_app__extra_router_and_loop__served_and_stopped(make_agent, tmp_path):
    settings = load_settings(make_agent().config)
    router = APIRouter()
    seen: list[str] = []

    @router.get("/v1/results/{cid}")
    def result(cid: str) -> dict[str, str]:
        return {"cid": cid}

    async def loop(agent: Agent, stop: asyncio.Event) -> None:
        seen.append(agent.account.address)
        await stop.wait()
        seen.append("stopped")

    app = create_app(settings, routers=[router], loops=[loop])

    async def run() -> tuple[httpx.Response, httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
                return await client.get("/v1/results/bafy"), await client.post("/v1/infer", json={"pixels": [0] * 64})

    results, infer = asyncio.run(run())

    assert results.json() == {"cid": "bafy"}
    assert infer.status_code == 402
    assert seen == [app.state.agent.account.address, "stopped"]
