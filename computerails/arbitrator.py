"""The arbitrator role: rule on disputed jobs before their dispute ends.

A client disputes a success attestation within the challenge window, posting a bond. The
holder of the escrow's ``ARBITRATOR_ROLE`` then rules: upheld, the job fails (the client gets
the escrow and its bond back, the provider's collateral is slashed); rejected, the job settles
(the provider is paid and receives the bond). A dispute not ruled on by its end lapses: anyone
can settle the job then, and the bond goes back to the client.
"""

from __future__ import annotations

from computerails import shared
from computerails.addresses import parse_address
from computerails.errors import NotAllowed, WrongJobState
from computerails.session import Session
from computerails.types import Dispute, Job, JobStatus, utc


class ArbitratorAPI:
    """List open disputes and resolve them (resolving needs ``ARBITRATOR_ROLE``)."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def disputes(self, include_lapsed: bool = True) -> list[Dispute]:
        """Jobs disputed now, from JobDisputed events since the deploy block, oldest first
        (``include_lapsed=False``: only those the arbitrator can still resolve)."""
        s = self._s
        logs = s.escrow.events.JobDisputed().get_logs(from_block=s.deployment.deploy_block)
        ids = list(dict.fromkeys(log.args.jobId for log in logs))  # a job is disputed at most once
        jobs = shared.jobs_by_id(s, dict.fromkeys(ids), JobStatus.DISPUTED)
        now = utc(s.now())
        out = []
        for j in jobs:
            assert j.dispute_ends is not None  # set while disputed
            lapsed = now > j.dispute_ends
            if lapsed and not include_lapsed:
                continue
            out.append(
                Dispute(
                    job_id=j.id,
                    client=j.client,
                    provider=j.provider,
                    token=j.token,
                    escrow=j.escrow,
                    units=j.units,
                    max_units=j.max_units,
                    bond=j.dispute_bond,
                    dispute_ends=j.dispute_ends,
                    lapsed=lapsed,
                )
            )
        return out

    def is_arbitrator(self, address: str | None = None) -> bool:
        """Whether `address` (default: the connection's account) holds ``ARBITRATOR_ROLE``."""
        s = self._s
        who = parse_address(address, "arbitrator") if address else s.address
        escrow = s.escrow.address
        role = s.forever("ARBITRATOR_ROLE", lambda: s.read("JobEscrow", escrow, "ARBITRATOR_ROLE"))
        return bool(s.read("JobEscrow", escrow, "hasRole", role, who))

    def resolve(self, job_id: int, upheld: bool) -> Job:
        """Rule on a disputed job.

        Args:
            job_id: the disputed job.
            upheld: True sides with the client (the job fails: refund, bond back, collateral
                slashed); False with the provider (the job settles, the bond goes to the provider).

        Raises:
            KeyError: no job has this id.
            NotAllowed: the account does not hold ``ARBITRATOR_ROLE``.
            WrongJobState: the job is not disputed, or its dispute has lapsed.
        """
        self.check_resolve(job_id)
        s = self._s
        s.send(s.escrow.functions.resolveDispute(job_id, upheld), "resolveDispute")
        return shared.job(s, job_id)

    def check_resolve(self, job_id: int) -> Job:
        """The checks of :meth:`resolve` alone (nothing is sent): returns the disputed job."""
        s = self._s
        me = s.address
        escrow = s.escrow.address
        role = s.forever("ARBITRATOR_ROLE", lambda: s.read("JobEscrow", escrow, "ARBITRATOR_ROLE"))
        view, now, holds = s.rpc.run(
            [
                s.call("JobEscrow", escrow, "job", job_id),
                s.latest_time(),
                s.call("JobEscrow", escrow, "hasRole", role, me),
            ]
        )
        job = shared.job_from_view(s, view)
        if not holds:
            raise NotAllowed(f"{me} is not the arbitrator: it does not hold ARBITRATOR_ROLE on the escrow {escrow}")
        if job.status is not JobStatus.DISPUTED:
            raise WrongJobState(f"job {job_id} is {job.status.value}; only a disputed job can be resolved")
        assert job.dispute_ends is not None  # set while disputed
        if now > int(job.dispute_ends.timestamp()):
            raise WrongJobState(
                f"job {job_id}'s dispute lapsed at {job.dispute_ends.isoformat()}; it can only be settled now",
                sdk=f"rails.keeper.settle({job_id})",
                cli=f"run `computerails job settle {job_id}`",
            )
        return job
