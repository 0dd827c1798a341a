"""The provider agent's job runner as a separate process, for the crash tests
(tests/agent/test_jobs_runner.py): ``python -m tests.support.jobs_agent [--crash-at POINT]
<computerails.agent.jobs options>``.

``--crash-at`` makes the process SIGKILL itself at one exact point, so a test can crash it
between two steps without racing it:

- ``signed``: the accept transaction is signed and its hash journalled, not yet broadcast;
- ``sent``: the accept is mined, the runner has not yet journalled it as accepted;
- ``compute``: the job is accepted and journalled, its result not computed yet.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from computerails import workloads
from computerails.agent import jobs


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def crash_at(point: str) -> Any:
    def prepare(runner: jobs.JobRunner) -> None:
        provider = runner.rails.provider
        accept = provider.accept
        if point == "signed":

            def accept_then_die_when_signed(job_id: int, *, on_signed: Any = None) -> Any:
                def journal_then_die(tx_hash: str, nonce: int) -> None:
                    on_signed(tx_hash, nonce)
                    die()

                return accept(job_id, on_signed=journal_then_die)

            provider.accept = accept_then_die_when_signed  # type: ignore[method-assign]
        elif point == "sent":

            def accept_then_die(job_id: int, *, on_signed: Any = None) -> Any:
                accept(job_id, on_signed=on_signed)
                die()

            provider.accept = accept_then_die  # type: ignore[method-assign]
        elif point == "compute":

            def compute_dies(spec: Any) -> bytes:
                die()
                raise AssertionError("unreachable")

            workloads.compute = compute_dies
        else:
            raise SystemExit(f"unknown crash point {point}")

    return prepare


if __name__ == "__main__":
    args = sys.argv[1:]
    prepare = None
    if args[:1] == ["--crash-at"]:
        prepare = crash_at(args[1])
        args = args[2:]
    sys.exit(jobs.main(args, prepare=prepare))
