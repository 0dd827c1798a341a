"""One agent process does both halves of issue 13: with ``[jobs] enabled`` it accepts a job
created for its provider (spec published in its spec directory), computes it, and serves the
result by CID over HTTP beside paid inference; with jobs off the endpoints are absent and nothing
is accepted. Real agent processes on free ports against the suite's anvil."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from computerails import _http, workloads
from computerails.agent.jobs import DirectorySpecSource
from computerails.content import cid_for, digest_of
from computerails.devnet import dev_key
from computerails.models import digits
from computerails.types import JobStatus
from tests.agent.conftest import mint
from tests.support.sdk import ORACLES, RELAYER, warp

JOBS_CLIENT = 10  # a dev account no other agent test uses
UNIT_PRICE = Decimal("0.10")
POLL_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def job_client_rails(connect, provider_rails):
    rails = connect(JOBS_CLIENT)
    mint(rails, usd=100)
    return rails


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("specs")


@pytest.fixture(scope="module")
def jobs_agent(make_agent, spec_dir, provider_rails):
    """An agent with per-job work on: the [jobs] section in its TOML, the poll interval from the
    environment."""
    process = make_agent(
        jobs={"enabled": True, "spec_dir": str(spec_dir), "min_unit_price": {"mUSD": str(UNIT_PRICE)}},
    )
    process.start(
        COMPUTERAILS_AGENT_JOBS__POLL_INTERVAL="0.2",
        COMPUTERAILS_AGENT_HOUSEKEEPING__INTERVAL="0.3",
        COMPUTERAILS_AGENT_HOUSEKEEPING__HEARTBEAT="0.1",
        COMPUTERAILS_AGENT_HOUSEKEEPING__CLAIM_INTERVAL="0",
    )
    yield process
    assert process.stop() == 0


def create_job(client_rails, provider_rails, spec_dir, spec) -> int:
    spec_hash, _ = DirectorySpecSource(spec_dir).publish(spec)
    units = workloads.units_of(spec) + 5
    job = client_rails.client.create_job(provider_rails.address, UNIT_PRICE, units, timedelta(hours=2), spec_hash)
    return int(job.id)


def wait_for_result(agent, job_id: int) -> httpx.Response:
    """Poll ``/v1/jobs/{id}/result`` until the agent has published it."""
    deadline = time.monotonic() + POLL_TIMEOUT
    while True:
        response = _http.get(f"{agent.url}/v1/jobs/{job_id}/result")
        if response.status_code != 404 or time.monotonic() > deadline:
            return response
        time.sleep(0.05)  # readiness polling


def wait_for_metric(agent, name: str, labels: str, value: float) -> float:
    deadline = time.monotonic() + POLL_TIMEOUT
    while (seen := agent.metric(name, labels)) != value and time.monotonic() < deadline:
        time.sleep(0.05)  # readiness polling
    return seen


def test_agent_jobs__job_created__accepted_computed_served_attested_settled_claimed(
    jobs_agent, job_client_rails, provider_rails, spec_dir, connect, w3
):
    spec = workloads.digits_spec([pixels for pixels, _ in digits.samples()[:4]])
    job_id = create_job(job_client_rails, provider_rails, spec_dir, spec)

    answer = wait_for_result(jobs_agent, job_id)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = workloads.compute(spec)
    assert body == {
        "job_id": job_id,
        "spec_cid": cid_for(workloads.spec_bytes(spec)),
        "result_cid": cid_for(expected),
        "result_hash": "0x" + digest_of(cid_for(expected)).hex(),
        "units": workloads.units_of(spec),
    }
    result = _http.get(f"{jobs_agent.url}/v1/results/{body['result_cid']}")
    assert result.status_code == 200
    assert result.headers["content-type"] == "application/octet-stream"
    assert result.content == expected
    assert hashlib.sha256(result.content).digest() == digest_of(body["result_cid"])
    spec_bytes = _http.get(f"{jobs_agent.url}/v1/results/{body['spec_cid']}")
    assert spec_bytes.content == workloads.spec_bytes(spec)  # what oracles recompute from
    job = provider_rails.views.job(job_id)
    assert job.status is JobStatus.ACCEPTED and job.provider == provider_rails.address
    assert jobs_agent.metric("computerails_agent_jobs", 'stage="published"') == 1
    assert _http.post(f"{jobs_agent.url}/v1/infer", json={"pixels": [0] * 64}).status_code == 402  # still sells

    # What oracles do with that answer; then the agent settles after the challenge window and
    # its housekeeping withdraws the payment (the claim is worth its gas at native_price 1).
    connect(RELAYER).oracle.attest(
        job_id,
        success=True,
        units=body["units"],
        result_hash=bytes.fromhex(body["result_hash"][2:]),
        signers=[dev_key(i) for i in ORACLES],
    )
    claimed_before = jobs_agent.metric("computerails_agent_claimed_total", 'source="escrow",token="mUSD"')
    wallet_before = provider_rails.views.wallet(provider_rails.address)
    warp(w3, provider_rails.escrow.functions.challengeWindow().call() + 1)

    assert wait_for_metric(jobs_agent, "computerails_agent_jobs", 'stage="claimed"', 1) == 1
    job = provider_rails.views.job(job_id)
    paid = UNIT_PRICE * workloads.units_of(spec) * (10_000 - job.fee_bps) / 10_000
    assert job.status is JobStatus.SETTLED
    assert provider_rails.views.wallet(provider_rails.address) == wallet_before + paid
    claimed = jobs_agent.metric("computerails_agent_claimed_total", 'source="escrow",token="mUSD"') - claimed_before
    assert claimed == paid * 10**6
    assert provider_rails.views.claimable_raw(provider_rails.address).get(job.token, {}).get("escrow", 0) == 0


def test_agent_jobs__unknown_malformed_or_changed__404_422_500(jobs_agent):
    tampered = cid_for(b"what was stored")
    (jobs_agent.log_dir / "data" / "results" / tampered).write_bytes(b"what is on disk now")

    changed = _http.get(f"{jobs_agent.url}/v1/results/{tampered}")
    unknown = _http.get(f"{jobs_agent.url}/v1/results/{cid_for(b'never stored here')}")
    malformed = _http.get(f"{jobs_agent.url}/v1/results/not-a-cid")
    no_job = _http.get(f"{jobs_agent.url}/v1/jobs/987654/result")
    bad_id = _http.get(f"{jobs_agent.url}/v1/jobs/seven/result")

    assert changed.status_code == 500 and changed.json()["reason"] == "ContentMismatch"
    assert str(jobs_agent.log_dir) not in changed.text  # the path is logged, not sent
    assert f"refusing to serve {tampered}" in jobs_agent.log.read_text()
    assert unknown.status_code == 404 and "no content" in unknown.json()["error"]
    assert malformed.status_code == 422 and malformed.json()["field"] == "cid"
    assert no_job.status_code == 404 and no_job.json()["stage"] is None
    assert bad_id.status_code == 422 and bad_id.json()["field"] == "job_id"


def test_agent_jobs__disabled__no_endpoints_nothing_accepted(make_agent, job_client_rails, provider_rails, tmp_path):
    spec = {"kind": "hashchain", "iterations": 100, "seed": 13}
    job_id = create_job(job_client_rails, provider_rails, tmp_path / "specs", spec)
    agent = make_agent().start()  # no [jobs] section: off

    results = _http.get(f"{agent.url}/v1/results/{cid_for(workloads.compute(spec))}")
    job_result = _http.get(f"{agent.url}/v1/jobs/{job_id}/result")
    metrics = _http.get(f"{agent.url}/metrics").text
    assert agent.stop() == 0  # a pass in progress would finish before exit

    assert (results.status_code, job_result.status_code) == (404, 404)
    assert results.json() == {"detail": "Not Found"}  # no route, not an unknown CID
    assert "computerails_agent_jobs" not in metrics
    assert provider_rails.views.job(job_id).status is JobStatus.OPEN
