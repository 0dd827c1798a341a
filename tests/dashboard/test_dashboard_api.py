"""The dashboard's JSON API without a browser, against the same kind of indexed history, over
HTTP to the real process: what every job's endpoint says equals the escrow's view of it, unknown
keys answer 404 and malformed ones 422 with the reason, every endpoint is in the OpenAPI schema,
the app cannot write to the index, and the demo's plots and snapshot are written."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from computerails import _http
from computerails._rpc import Codec, Rpc
from computerails.cli import main
from computerails.dashboard.queries import IndexReader
from computerails.dashboard.snapshot import DemoDashboard, write_plots, write_snapshot
from computerails.deployments import load_artifact
from computerails.indexer import index_until_head
from computerails.indexer.flywheel import flywheel_series
from computerails.session import ERC20
from tests.support.postgres import Postgres

UNREGISTERED = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture(scope="module")
def postgres_reader(history) -> Iterator[IndexReader]:
    """The same history indexed into a real PostgreSQL server, read through the dashboard's
    read-only session."""
    with Postgres() as server:
        url = server.create_database("dashboard")
        index_until_head(history.url, history.deployment, url)
        reader = IndexReader.open(url, history.url)
        yield reader
        reader.engine.dispose()


def get(dashboard, path: str) -> httpx.Response:
    return _http.get(dashboard.url + path, timeout=30)


def test_job_endpoints__every_job__status_escrow_and_parties_equal_the_escrow_view(dashboard, onchain):
    for job_id in range(1, onchain.views.job_count() + 1):
        answer = get(dashboard, f"/api/job/{job_id}")
        assert answer.status_code == 200
        shown, job = answer.json()["job"], onchain.views.job(job_id)
        assert (shown["status"], shown["client"], shown["provider"]) == (job.status.value, job.client, job.provider)
        assert Decimal(shown["escrow"]) == job.escrow
        assert answer.json()["units"] == job.units


def test_provider_endpoint__every_provider__stake_equals_the_staking_view(dashboard, onchain, history):
    for actor in history.market.providers:
        shown = get(dashboard, f"/api/provider/{actor.address}").json()
        status = onchain.views.provider(actor.address)
        for field in ("staked", "locked", "free", "unbonding", "total_slashed"):
            assert Decimal(shown[field]) == getattr(status, field), field
        assert shown["status"] == ("jailed" if status.jailed else "active")


def test_network_endpoint__uptime_and_fraud_slashes_and_paid_requests(dashboard, history):
    network = get(dashboard, "/api/network").json()
    kinds = {s["kind"]: s for s in network["slashes"]}
    assert set(kinds) == {"collateral", "uptime", "fraud"}
    assert kinds["uptime"]["count"] == 3  # the offline provider, in each of the three reported epochs
    assert network["paid_requests_total"] > 0
    assert network["paid_requests_total"] == sum(d["paid_requests"] for d in network["activity"])


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/api/job/999999", "no job 999999"),
        (f"/api/provider/{UNREGISTERED}", "has not registered"),
        (f"/api/client/{UNREGISTERED}", "has no jobs, metered escrow or compensation"),
        ("/api/tx/0x" + "ab" * 32, "no protocol event in transaction"),
        ("/api/search?q=999999", "no job 999999"),
    ],
)
def test_unknown_key__404_with_the_reason(dashboard, path, reason):
    answer = get(dashboard, path)
    assert answer.status_code == 404
    assert reason in answer.json()["detail"]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/api/job/abc", "is not a number"),
        ("/api/job/-1", "is not a number"),
        ("/api/provider/0x1234", "is not 20 bytes of hex"),
        ("/api/client/0xb4f1D608bc461e4303034cA7579c040779F465CE", "wrong EIP-55 checksum"),
        ("/api/tx/0x1234", "is not 32 bytes of hex"),
        ("/api/search?q=hello", "is not an address"),
    ],
)
def test_malformed_key__422_with_the_reason(dashboard, path, reason):
    answer = get(dashboard, path)
    assert answer.status_code == 422
    assert reason in answer.json()["detail"]


def test_malformed_key__html_page__422_page_with_the_reason(dashboard):
    answer = get(dashboard, "/provider/0x1234")
    assert answer.status_code == 422
    assert "text/html" in answer.headers["content-type"] and "is not 20 bytes of hex" in answer.text


def test_openapi__every_page_endpoint_documented_with_its_model(dashboard):
    schema = get(dashboard, "/openapi.json").json()
    models = {
        "/api/network": "NetworkPage",
        "/api/provider/{address}": "ProviderPage",
        "/api/client/{address}": "ClientPage",
        "/api/job/{job_id}": "JobPage",
        "/api/tx/{tx_hash}": "TxPage",
        "/api/search": "SearchResult",
        "/api/rewards": "RewardsPage",
    }
    for path, model in models.items():
        answers = schema["paths"][path]["get"]["responses"]
        assert answers["200"]["content"]["application/json"]["schema"]["$ref"].endswith(model)
        if path not in ("/api/network", "/api/rewards"):
            assert {"404", "422"} <= set(answers)
    assert "stake_tvl" in schema["components"]["schemas"]["NetworkPage"]["properties"]


def test_read_only__the_reader_cannot_write_the_index(reader):
    with reader.engine.connect() as conn, pytest.raises(OperationalError, match="readonly|read-only|query_only"):
        conn.execute(text("DELETE FROM jobs"))


def test_cli__missing_index__one_error_line_and_nothing_created(tmp_path: Path, capsys):
    missing = tmp_path / "nothing.db"
    assert main(["dashboard", "--db", str(missing), "--port", "0"]) == 1
    out = capsys.readouterr()
    expected = f"error: --db {missing}: no index there (run `computerails index --until-head --db {missing}` first)"
    assert out.err.splitlines() == [expected]
    assert not missing.exists()


def test_plots_and_snapshot__written_from_the_index(reader, tmp_path: Path):
    plots = write_plots(reader, tmp_path)
    assert [p.name for p in plots] == ["earnings.png", "uptime.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in plots)
    pages = write_snapshot(reader, tmp_path / "site")
    network = reader.network()
    # the network and the rewards pages, then one page per provider, client and job
    expected = 2 + len(network.providers) + len(reader.clients()) + network.jobs_total
    transactions = [p for p in pages if p.parent.name == "tx"]
    assert len(pages) == expected + len(transactions) and transactions
    embedded = (tmp_path / "site" / "index.html").read_text()
    data = embedded.split('<script type="application/json" id="page-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)["jobs_total"] == network.jobs_total


def test_postgres__every_page__the_same_as_on_sqlite(reader, postgres_reader):
    network = reader.network()
    assert postgres_reader.network() == network
    assert postgres_reader.rewards() == reader.rewards()
    for row in network.providers:
        assert postgres_reader.provider(row.address) == reader.provider(row.address)
    for address in reader.clients():
        assert postgres_reader.client(address) == reader.client(address)
    for job_id in reader.job_ids():
        job = reader.job(job_id)
        assert postgres_reader.job(job_id) == job
        for step in job.timeline:
            assert postgres_reader.tx(step.tx_hash) == reader.tx(step.tx_hash)


def test_postgres__read_only_session__cannot_write(postgres_reader):
    with postgres_reader.engine.connect() as conn, pytest.raises(DBAPIError, match="read-only transaction"):
        conn.execute(text("DELETE FROM jobs"))


# Last in the module: it changes the chain (cancels the open job) under the module's other tests.
def test_demo_round__serves_while_the_chain_moves_then_screenshots_stops_and_writes(history, onchain, tmp_path: Path):
    pids: set[int] = set()
    lines: list[str] = []
    readme = tmp_path / "docs" / "dashboard.png"
    with DemoDashboard(history.url, history.deployment, tmp_path / "dashboard", pids, lines.append, readme) as round_:
        (pid,) = pids
        assert lines == [f"Dashboard: {round_.process.url} (the index follows the chain into {round_.db})"]
        assert get(round_.process, "/api/network").status_code == 200
        history.client.rails.client.cancel(history.open_job)  # the chain moves on while it serves
        done = round_.finish()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped (and reaped) by finish()
    assert done["indexed_to"] == onchain.w3.eth.block_number
    assert IndexReader.open(round_.db).job(history.open_job).job.status == "cancelled"
    assert readme.read_bytes() == Path(done["screenshot"]).read_bytes()
    assert readme.read_bytes().startswith(b"\x89PNG")
    assert [Path(p).name for p in done["plots"]] == ["earnings.png", "uptime.png"]
    assert Path(done["snapshot"]).is_file() and done["pages"] > 1


def test_rewards_endpoint__books_roots_and_claimants__equal_the_distributor_views(dashboard, onchain, history):
    run = history.rewards
    rd = Codec(load_artifact("RewardsDistributor")["abi"])

    def view(fn: str, *args):
        return onchain.rpc.run([Rpc.call(run.distributor, rd[fn], *args)])[0]

    def tokens(raw: int) -> Decimal:
        return Decimal(raw).scaleb(-18)

    shown = get(dashboard, "/api/rewards").json()
    assert shown["deployed"] is True
    assert Decimal(shown["funded"]) == tokens(view("funded"))
    assert Decimal(shown["claimed"]) == tokens(view("totalClaimed"))
    held = onchain.read(ERC20, onchain.deployment.staking_token, "balanceOf", run.distributor)
    assert Decimal(shown["held"]) == tokens(held)
    root, total, _through, activates_at, vetoed, *_ = view("latestRoot")
    assert not vetoed and Decimal(shown["distributed"]) == tokens(total)
    # newest first: the pending root, the active one, the vetoed post of the same tree, the first
    assert [r["status"] for r in shown["roots"]] == ["pending", "active", "vetoed", "superseded"]
    assert shown["roots"][0]["root"] == "0x" + bytes(root).hex()
    assert int(datetime.fromisoformat(shown["roots"][0]["activates_at"]).timestamp()) == activates_at
    active_root, active_total, _ = view("activeRoot")
    assert shown["roots"][1]["root"] == "0x" + bytes(active_root).hex()
    assert Decimal(shown["roots"][1]["total"]) == tokens(active_total)
    assert shown["roots"][2]["veto_reason"] == "fees misreported for the last epoch"
    for c in shown["top_claimants"]:
        assert Decimal(c["claimed"]) == tokens(view("claimed", c["account"]))
        assert c["recipient"] == view("recipientOf", c["account"])
    assert [c["account"] for c in shown["top_claimants"]] == [run.accounts["alice"], run.accounts["bob"]]
    # the flywheel: every epoch's subsidy adds up to what was distributed, and the share is the subsidy's
    curve = shown["flywheel"]
    assert curve and curve == get(dashboard, "/api/network").json()["flywheel"]
    assert sum(Decimal(p["subsidy"]) for p in curve) == Decimal(shown["distributed"])
    assert any(p["fee_revenue"] for p in curve)
    for p in curve:
        subsidy, fees = Decimal(p["subsidy"]), sum(Decimal(v) for v in p["fee_revenue"].values())
        if subsidy + fees:
            assert p["subsidy_share"] == pytest.approx(float(subsidy / (subsidy + fees)))
        else:
            assert p["subsidy_share"] is None


def test_flywheel_series__postgres_index__equals_the_sqlite_one(reader, postgres_reader):
    with reader.engine.connect() as lite, postgres_reader.engine.connect() as pg:
        assert flywheel_series(lite) == flywheel_series(pg) != []
