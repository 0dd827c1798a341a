"""The agent's escrow-view cache (``cover_ttl``), as a process: a steady escrow is read from
the chain once and reused for the next requests; a refusal is never decided on a cached view
(a payer who tops up is served at once); an escrow read while thawing is read on every request
(a view cached before the thaw stays valid: a withdrawal waits out days)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from computerails import _http
from computerails.devnet import dev_key
from computerails.models import digits
from computerails.types import Raw
from computerails.voucher_header import VOUCHER_HEADER, encode_voucher_header
from tests.agent.conftest import PRICE_RAW
from tests.support.agent import mint

CACHED_PAYER = 2  # a dev account no other agent test uses


@pytest.fixture(scope="module")
def cached_agent(make_agent, provider_rails):
    process = make_agent(cover_ttl=60).start()  # long enough that expiry never decides a test
    yield process
    assert process.stop() == 0


def pay(agent, meter) -> httpx.Response:
    pixels = list(digits.samples()[0][0])
    header = encode_voucher_header(*meter.next(Raw(PRICE_RAW)))
    return _http.post(f"{agent.url}/v1/infer", json={"pixels": pixels}, headers={VOUCHER_HEADER: header})


def reads(agent) -> tuple[float, float]:
    return (
        agent.metric("computerails_agent_cover_reads_total", 'source="chain"'),
        agent.metric("computerails_agent_cover_reads_total", 'source="cache"'),
    )


def test_cover_cache__steady_escrow__read_once__refusal_rechecked__thawing_read_every_time(
    cached_agent, connect, provider_rails
):
    payer = connect(CACHED_PAYER)
    mint(payer, usd=1)
    payer.payer.deposit(provider_rails.address, Decimal("0.03"))  # cover 0.027: 2 requests
    meter = payer.payer.meter(dev_key(CACHED_PAYER), provider_rails.address, Decimal(1))
    chain0, cache0 = reads(cached_agent)

    assert [pay(cached_agent, meter).status_code for _ in range(2)] == [200, 200]
    assert reads(cached_agent) == (chain0 + 1, cache0 + 1)  # one read, then the cache

    refused = pay(cached_agent, meter)  # the cached view says no: checked again on chain
    assert (refused.status_code, refused.json()["reason"]) == (402, "VoucherNotCovered")
    assert reads(cached_agent) == (chain0 + 2, cache0 + 2)
    payer.payer.deposit(provider_rails.address, Decimal("0.1"))
    assert pay(cached_agent, meter).status_code == 200  # the top-up counts at once
    chain1, cache1 = reads(cached_agent)
    assert chain1 == chain0 + 3

    payer.payer.thaw(provider_rails.address, Decimal("0.01"))
    assert pay(cached_agent, meter).status_code == 200  # the view cached before the thaw: still safe,
    assert reads(cached_agent) == (chain1, cache1 + 1)  # nothing can be withdrawn for days
    fresh = payer.payer.meter(dev_key(CACHED_PAYER), provider_rails.address, Decimal(1))  # another collection
    assert [pay(cached_agent, fresh).status_code for _ in range(2)] == [200, 200]
    assert reads(cached_agent) == (chain1 + 2, cache1 + 1)  # read thawing: never cached
