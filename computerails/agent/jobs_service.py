"""The per-job runner inside the agent process: one process sells paid inference and runs
its per-job work (``[jobs] enabled = true``).

:class:`JobsService` builds a :class:`~computerails.agent.jobs.JobRunner` from the settings on the
agent's own connection and key (the SDK's transaction manager is thread-safe, so its accepts,
settles and claims share nonces with the collection rounds), and adds to the app:

- ``GET /v1/results/{cid}``: the bytes stored under a CID (results, and the specs they were
  computed from), **200** ``application/octet-stream``; **404** nothing stored under it;
  **422** not a CIDv1 of raw sha2-256 content; **500** with the reason when the file on disk no
  longer hashes to its CID (never served, and logged).
- ``GET /v1/jobs/{job_id}/result``: what an oracle needs to verify a job (:class:`ResultAnswer`:
  spec CID, result CID, the on-chain result hash, units); **404** when the job is unknown here or
  its result is not published yet.
- a background loop: :meth:`JobRunner.poll_once` every ``poll_interval`` seconds in a worker
  thread until shutdown; a failed pass is logged and counted, and the next one goes on.
- the gauge ``computerails_agent_jobs{stage}`` in the agent's ``/metrics``: jobs per stage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from computerails.agent.app import Agent
from computerails.agent.housekeeping import Risk
from computerails.agent.jobs import DirectorySpecSource, JobRunner, PollReport, PublishedResult
from computerails.agent.results import ResultStore
from computerails.errors import ComputeRailsError, ContentMismatch, ContentNotFound, InvalidCid, NoResult

log = logging.getLogger("computerails.agent.jobs")

RESULTS_PATH = "/v1/results/{cid}"
JOB_RESULT_PATH = "/v1/jobs/{job_id}/result"


class ResultAnswer(BaseModel):
    """``GET /v1/jobs/{job_id}/result``'s body: what an oracle needs to verify the job.

    Attributes:
        job_id: the escrow's id.
        spec_cid: the spec's CID (``GET /v1/results/{spec_cid}`` serves its bytes).
        result_cid: the result's CID (``GET /v1/results/{result_cid}``).
        result_hash: ``0x`` and the result CID's sha2-256 digest, the hash a success
            attestation carries on chain.
        units: the billable units of the work.
    """

    model_config = ConfigDict(frozen=True)

    job_id: int
    spec_cid: str
    result_cid: str
    result_hash: str
    units: int

    @classmethod
    def of(cls, published: PublishedResult) -> ResultAnswer:
        return cls(
            job_id=published.job_id,
            spec_cid=published.spec_cid,
            result_cid=published.result_cid,
            result_hash="0x" + published.result_hash.hex(),
            units=published.units,
        )


class JobStageCollector(Collector):
    """``computerails_agent_jobs{stage}``: the runner's jobs per stage, read at each scrape."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("computerails_agent_jobs", "Per-job work by the runner's stage", labels=["stage"])
        for stage, count in self.runner.counts().items():
            gauge.add_metric([stage.value], count)
        yield gauge

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("computerails_agent_jobs", "Per-job work by the runner's stage", labels=["stage"])


class JobsService:
    """The runner, its result store and its HTTP routes, for one agent.

    Args:
        agent: the started agent (its settings, connection and metrics).

    Raises:
        AgentStateMismatch: the jobs database belongs to another provider, chain or escrow.
    """

    def __init__(self, agent: Agent) -> None:
        settings = agent.settings
        self.agent = agent
        self.interval = settings.jobs.poll_interval
        self.results = ResultStore(settings.result_dir)
        self.runner = JobRunner(
            agent.rails,
            settings.jobs_database,
            self.results,
            settings.jobs.policy(),
            DirectorySpecSource(settings.spec_dir),
            confirmations=settings.jobs.confirmations,
        )
        agent.metrics.registry.register(JobStageCollector(self.runner))
        agent.housekeeper.on_withdrawn.append(self.runner.note_withdrawn)
        agent.housekeeper.risk_sources.append(self.deadline_risks)
        agent.closers.append(self.runner.close)
        log.info(
            "per-job work on: specs from %s, results in %s, polling every %s s",
            settings.spec_dir,
            settings.result_dir,
            self.interval,
        )

    async def loop(self, agent: Agent, stop: asyncio.Event) -> None:
        """A runner pass every ``poll_interval`` seconds until `stop` (the agent closes the
        runner once every loop has ended: the housekeeping pass reads its journal)."""
        while not stop.is_set():
            try:
                report = await asyncio.to_thread(self.runner.poll_once)
            except ComputeRailsError as exc:  # a revert, a timeout: the next pass reconciles
                agent.metrics.errors.labels("jobs").inc()
                log.warning("jobs pass failed: %s", exc)
            except Exception:  # the node unreachable, or a bug: logged in full, the loop goes on
                agent.metrics.errors.labels("jobs").inc()
                log.exception("jobs pass failed")
            else:
                _log_report(report)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

    def deadline_risks(self) -> list[Risk]:
        """The housekeeping's ``job_deadline`` risk: held jobs near their deadline, unattested."""
        within = self.agent.settings.housekeeping.job_deadline_warn
        found = self.runner.deadline_risks(within)
        if not found:
            return []
        now = self.agent.rails.now()
        jobs = ", ".join(f"{job_id} (in {max(0, deadline - now)} s)" for job_id, deadline in found)
        message = f"jobs {jobs} reach their deadline unattested soon: expiry slashes their collateral and jails"
        return [Risk("job_deadline", message)]

    def router(self) -> APIRouter:
        """``GET /v1/results/{cid}`` and ``GET /v1/jobs/{job_id}/result``."""
        router = APIRouter()
        metrics = self.agent.metrics

        @router.get(RESULTS_PATH, response_class=Response)
        async def result_bytes(cid: str) -> Response:
            try:
                data = await run_in_threadpool(self.results.get, cid)
            except InvalidCid as exc:
                return JSONResponse({"error": str(exc), "field": "cid"}, status_code=422)
            except ContentNotFound:
                return JSONResponse({"error": f"no content {cid} here", "cid": cid}, status_code=404)
            except ContentMismatch as exc:
                metrics.errors.labels("results").inc()
                log.error("refusing to serve %s: %s", cid, exc)  # the path stays in the log
                problem = f"the stored bytes of {exc.expected} hash to {exc.actual}: changed on disk, not served"
                return JSONResponse({"error": problem, "reason": type(exc).__name__}, status_code=500)
            return Response(
                data,
                media_type="application/octet-stream",
                headers={"ETag": f'"{cid}"', "Cache-Control": "public, max-age=31536000, immutable"},
            )

        @router.get(JOB_RESULT_PATH)
        async def job_result(job_id: str) -> JSONResponse:
            try:
                number = int(job_id)
            except ValueError:
                number = -1
            if not 0 <= number < 2**63:  # SQLite's integers
                return JSONResponse({"error": "job_id must be an integer from 0 to 2^63-1", "field": "job_id"}, 422)
            try:
                published = await run_in_threadpool(self.runner.published, number)
            except NoResult as exc:
                return JSONResponse({"error": str(exc), "job_id": number, "stage": exc.stage}, status_code=404)
            return JSONResponse(ResultAnswer.of(published).model_dump())

        return router


def _log_report(report: PollReport) -> None:
    for action in ("seen", "accepted", "refused", "published", "settled", "ended"):
        ids = getattr(report, action)
        if ids:
            log.info("jobs %s: %s", action, ", ".join(map(str, ids)))
    for payout in report.payouts:
        log.info("claimed %s", payout)
