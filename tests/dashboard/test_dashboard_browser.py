"""The dashboard in real headless Chromium (Debian's, driven by Playwright) against the indexed
history: every page loads and draws its charts without a console error, the numbers shown equal
the chain's own views, and a user can click from a provider to a job to a transaction and search.
Screenshots go to reports/dashboard/."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from computerails import JobStatus
from computerails._rpc import Codec, Rpc
from computerails.dashboard.snapshot import write_snapshot
from computerails.deployments import load_artifact
from computerails.session import ERC20
from tests.dashboard.conftest import SHOTS
from tests.support.browser import chromium, new_page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as started:
        yield started


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page; the test fails if the page logged a console error or threw."""
    with new_page(browser) as (opened, errors):
        yield opened
        assert errors == []


def value(page: Page, selector: str) -> Decimal:
    """The exact number behind a figure (its data-value; the text is rounded for reading)."""
    raw = page.get_attribute(selector, "data-value")
    assert raw is not None, selector
    return Decimal(raw)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_network_page__tvl_jobs_and_oracles__equal_onchain_views(page, dashboard, onchain, history):
    page.goto(dashboard.url + "/")
    page.wait_for_selector("#activity-chart[data-drawn=true]")
    shot(page, "network")

    totals = onchain.views.totals()
    assert value(page, "#staked") == totals["staked"]
    assert value(page, "#unbonding") == totals["unbonding"] > 0
    assert value(page, "#stake-tvl") == totals["staked"] + totals["unbonding"]
    usd = onchain.token()
    held = sum(
        onchain.read(ERC20, usd.address, "balanceOf", onchain.deployment.contracts[name])
        for name in ("JobEscrow", "MeteredEscrow")
    )
    escrow = page.get_attribute(f"#escrow-tvl [data-token={usd.symbol}]", "data-value")
    assert escrow is not None and Decimal(escrow) == Decimal(held).scaleb(-usd.decimals)
    assert int(page.inner_text("#jobs-total")) == onchain.views.job_count()
    oracles = onchain.views.oracle_set()
    assert set(page.locator("#oracles code").all_inner_texts()) == set(oracles["oracles"])
    assert page.inner_text("#oracle-threshold").startswith(f"{oracles['threshold']} of {len(oracles['oracles'])}")
    listed = page.locator("#providers tbody tr").evaluate_all("rows => rows.map(r => r.dataset.provider)")
    assert listed == [p.address for p in history.market.providers]


def test_provider_page__stake_locked_unbonding_slashes__equal_onchain_views(page, dashboard, onchain, history):
    provider = history.unbonding_provider  # also the provider that went offline: slashed for uptime
    page.goto(f"{dashboard.url}/provider/{provider.address}")
    page.wait_for_selector("#earnings-chart[data-drawn=true]")
    page.wait_for_selector("#uptime-chart[data-drawn=true]")
    shot(page, "provider")

    status = onchain.views.provider(provider.address)
    assert value(page, "#staked") == status.staked
    assert value(page, "#locked") == status.locked
    assert value(page, "#free") == status.free
    assert value(page, "#unbonding") == status.unbonding == Decimal(100)
    assert value(page, "#total-slashed") == status.total_slashed > 0
    reasons = page.locator("#slashes td.reason").all_inner_texts()
    assert any(reason.startswith("uptime ") and "below the SLA" in reason for reason in reasons)
    shown = page.locator("#jobs tbody tr").evaluate_all("rows => rows.map(r => Number(r.dataset.job))")
    assert shown == sorted(j.id for j in onchain.views.jobs(provider=provider.address))


def test_click_through__provider_to_job_to_transaction(page, dashboard, onchain, history):
    page.goto(f"{dashboard.url}/provider/{history.honest.address}")
    page.click(f"#jobs tr[data-job='{history.accepted_job}'] a.job")
    page.wait_for_url(f"**/job/{history.accepted_job}")
    job = onchain.views.job(history.accepted_job)
    assert job.status is JobStatus.ACCEPTED
    assert page.inner_text("#job-status") == job.status.value
    assert value(page, "#job-escrow") == job.escrow
    assert page.locator("#timeline li").evaluate_all("items => items.map(i => i.dataset.event)") == [
        "JobCreated",
        "JobAccepted",
    ]
    shot(page, "job")

    page.click("#timeline li[data-event=JobAccepted] a.tx")
    page.wait_for_url("**/tx/0x*")
    tx_hash = page.url.rsplit("/", 1)[1]
    receipt = onchain.w3.eth.get_transaction_receipt(tx_hash)
    assert int(page.inner_text("#tx-block")) == receipt["blockNumber"]
    events = page.locator("#events tbody tr").evaluate_all("rows => rows.map(r => r.dataset.event)")
    assert "JobAccepted" in events and "CollateralLocked" in events
    assert len(events) == len(receipt["logs"])
    shot(page, "transaction")


def test_client_page__open_jobs_and_metered_escrow__equal_onchain_views(page, dashboard, onchain, history):
    client = history.client
    page.goto(f"{dashboard.url}/client/{client.address}")
    page.wait_for_selector("#accounts")
    shot(page, "client")

    live = onchain.views.jobs(client=client.address, status=[JobStatus.OPEN, JobStatus.ACCEPTED])
    shown = page.locator("#open-jobs tbody tr").evaluate_all("rows => rows.map(r => Number(r.dataset.job))")
    assert shown == sorted(j.id for j in live) == [history.open_job, history.accepted_job]
    locked = page.get_attribute("#escrow-locked [data-token]", "data-value")
    assert locked is not None and Decimal(locked) == sum((j.escrow for j in live), Decimal(0))
    rows = page.locator("#accounts tbody tr")
    assert rows.count() == len(history.market.providers)
    for row in rows.all():
        provider = row.get_attribute("data-provider")
        assert provider is not None
        account = onchain.payer.account(provider, payer=client.address)
        assert Decimal(row.locator(".balance").get_attribute("data-value") or "nan") == account.balance


def test_search__job_id_then_address__lands_on_their_pages(page, dashboard, history):
    page.goto(dashboard.url + "/")
    page.fill("#search", str(history.open_job))
    page.press("#search", "Enter")
    page.wait_for_url(f"**/job/{history.open_job}")
    assert page.inner_text("#job-status") == "open"
    page.fill("#search", history.client.address.lower())
    page.press("#search", "Enter")
    page.wait_for_url(f"**/client/{history.client.address}")


def test_unknown_job__404_page_with_the_reason(browser, dashboard):
    with new_page(browser) as (page, errors):
        response = page.goto(f"{dashboard.url}/job/999999")
        assert response is not None and response.status == 404
        assert "no job 999999" in page.inner_text("#problem")
    assert errors == ["Failed to load resource: the server responded with a status of 404 (Not Found)"]


def test_static_snapshot__pages_open_from_disk_with_their_charts(page, reader, history, tmp_path: Path):
    written = write_snapshot(reader, tmp_path / "site")
    assert tmp_path / "site" / "index.html" in written
    page.goto((tmp_path / "site" / "provider" / f"{history.unbonding_provider.address}.html").as_uri())
    page.wait_for_selector("#uptime-chart[data-drawn=true]")
    page.click("#jobs tr[data-job] a.job >> nth=0")
    page.wait_for_url("**/job/*.html")
    page.click("#timeline li a.tx >> nth=0")
    page.wait_for_url("**/tx/0x*.html")
    assert page.locator("#events tbody tr").count() >= 1


def test_rewards_page__books_roots_and_flywheel_curve__equal_the_distributor_views(page, dashboard, onchain, history):
    run = history.rewards
    rd = Codec(load_artifact("RewardsDistributor")["abi"])

    def view(fn: str, *args):
        return onchain.rpc.run([Rpc.call(run.distributor, rd[fn], *args)])[0]

    page.goto(dashboard.url + "/rewards")
    page.wait_for_selector("#flywheel-chart[data-drawn=true]")
    shot(page, "rewards")
    assert value(page, "#funded") == Decimal(view("funded")).scaleb(-18)
    assert value(page, "#claimed") == Decimal(view("totalClaimed")).scaleb(-18)
    assert value(page, "#distributed") == Decimal(view("latestRoot")[1]).scaleb(-18)
    statuses = page.locator("#roots tr[data-status]").evaluate_all("rows => rows.map((r) => r.dataset.status)")
    assert statuses == ["pending", "active", "vetoed", "superseded"]
    assert "fees misreported for the last epoch" in page.inner_text("#roots tr[data-status=vetoed]")
    alice = run.accounts["alice"]
    assert value(page, f"#claimants tr[data-account='{alice}'] td.num") == Decimal(view("claimed", alice)).scaleb(-18)


def test_network_page__flywheel_curve_drawn__links_to_rewards(page, dashboard):
    page.goto(dashboard.url + "/")
    page.wait_for_selector("#flywheel-chart[data-drawn=true]")
    shot(page, "network-flywheel")
    page.click("nav >> text=Rewards")
    page.wait_for_url("**/rewards")
    page.wait_for_selector("#flywheel-chart[data-drawn=true]")


def test_static_snapshot__rewards_page_opens_from_disk_with_its_curve(page, reader, tmp_path: Path):
    write_snapshot(reader, tmp_path / "site")
    page.goto((tmp_path / "site" / "rewards.html").as_uri())
    page.wait_for_selector("#flywheel-chart[data-drawn=true]")
    page.click("#roots tr[data-status=vetoed] a.tx")
    page.wait_for_url("**/tx/0x*.html")
    assert "RootVetoed" in page.inner_text("#events") or "RootPosted" in page.inner_text("#events")
