"""The keeper role: settle attested jobs once their challenge window has closed, and disputed
jobs whose dispute lapsed unresolved. Settlement is permissionless: any account may send it,
and the money goes to the job's parties whoever sends it."""

from __future__ import annotations

from collections.abc import Sequence

from computerails import shared
from computerails.errors import PreconditionError, TooEarly, WrongJobState
from computerails.session import Session
from computerails.tx import Call, SentTransaction
from computerails.types import Job, JobStatus, Settlement, from_raw, utc


class KeeperAPI:
    """Settle jobs (anyone may). Each call checks every job before anything is sent."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def settleable(self, client: str | None = None, provider: str | None = None) -> list[Job]:
        """Jobs anyone can settle now (optionally only one client's or provider's)."""
        candidates = shared.jobs(self._s, client, provider, status=(JobStatus.ATTESTED, JobStatus.DISPUTED))
        now = self._s.now()
        return [j for j in candidates if j.settleable(now)]

    def settle(self, job_id: int) -> Settlement:
        """Settle one job: pay the provider for the attested units (net of the fee), refund the
        client the rest, release the collateral.

        Raises:
            KeyError: no job has this id.
            WrongJobState: the job is neither attested nor disputed.
            TooEarly: its challenge window (or dispute) has not ended yet.
        """
        (job,) = self._check([job_id])
        sent = self._s.send(self._s.escrow.functions.settle(job_id), "settle")
        return self._settlements(sent, {job.id: job})[0]

    def settle_many(self, job_ids: Sequence[int]) -> list[Settlement]:
        """Settle several jobs in one transaction (``settleMany``), in the order given.

        Every job must be settleable now: the whole batch is refused, before sending, if one
        is not (the contract itself would skip it silently).

        Raises:
            PreconditionError: no ids, or an id listed twice.
            KeyError: an id that was never created.
            WrongJobState: a job is neither attested nor disputed.
            TooEarly: a job's challenge window (or dispute) has not ended yet.
        """
        if not job_ids:
            raise PreconditionError("settle_many needs at least one job id")
        jobs = self._check(list(job_ids))
        call = Call(self._s.escrow.address, self._s.abi["JobEscrow"]["settleMany"].encode(list(job_ids)), "settleMany")
        sent = self._s.tx.send(call, label="settleMany")
        return self._settlements(sent, {j.id: j for j in jobs})

    # ── helpers ──
    def _check(self, job_ids: list[int]) -> list[Job]:
        """The jobs, read in one batch with the clock; raises unless all can settle now."""
        repeated = sorted({i for i in job_ids if job_ids.count(i) > 1})
        if repeated:
            raise PreconditionError(f"job {repeated[0]} is listed more than once")
        s = self._s
        escrow = s.escrow.address
        now, *views = s.rpc.run([s.latest_time()] + [s.call("JobEscrow", escrow, "job", i) for i in job_ids])
        jobs = [shared.job_from_view(s, v) for v in views]
        wrong = [j for j in jobs if j.settles_at is None]
        if wrong:
            j = wrong[0]
            raise WrongJobState(
                f"job {j.id} is {j.status.value}; only an attested job, or a disputed one whose dispute lapsed, "
                "can be settled"
            )
        early = [j for j in jobs if not j.settleable(now)]
        if early:
            ids = " ".join(str(j.id) for j in early)
            last = max(j.settles_at for j in early if j.settles_at is not None)
            what = "job" if len(early) == 1 else "jobs"
            raise TooEarly(
                f"{what} {ids} can be settled from {last.isoformat()} (chain time {utc(now).isoformat()})",
                sdk="settle then",
                cli=f"run `computerails job settle {ids}` then",
            )
        return jobs

    def _settlements(self, sent: SentTransaction, jobs: dict[int, Job]) -> list[Settlement]:
        escrow = self._s.escrow.address
        out = []
        for e in self._s.abi["JobEscrow"].events["JobSettled"].logs(sent.receipt, escrow):
            token = jobs[e["jobId"]].token
            d = token.decimals
            out.append(
                Settlement(
                    job_id=e["jobId"],
                    provider=e["provider"],
                    client=e["client"],
                    token=token,
                    gross=from_raw(e["gross"], d),
                    provider_net=from_raw(e["providerNet"], d),
                    fee=from_raw(e["fee"], d),
                    refund=from_raw(e["refund"], d),
                    tx_hash=sent.tx_hash,
                )
            )
        return out
