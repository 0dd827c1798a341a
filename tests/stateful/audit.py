"""The auditor's deep run: the protocol state machine on every core, for a time budget.

    python -m tests.stateful.audit --budget 120            # make audit BUDGET=120
    python -m tests.stateful.audit --examples 1000         # a fixed number of examples instead
    python -m tests.stateful.audit --seed 12345 --workers 1

Each worker process starts its own harness anvil, deploys, and runs the machine (up to 50 steps
per example) with its own seed (the run's seed plus the worker's index). The report merges the
workers: the seed, contract calls per second (in all and per worker), examples per second, every
rule's outcomes with zero counts included, and how often each invariant was checked. A failure
writes a replay script (tests/stateful/replays/) and ends the run with exit status 1.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import traceback
from typing import Any

from tests.stateful import runner
from tests.stateful.harness import build_world, harness_anvil
from tests.stateful.runner import RunStats, report, run_machine


def _worker(job: tuple[int, float | None, int | None, int]) -> tuple[RunStats, str | None]:
    run_seed, budget, examples, steps = job
    with harness_anvil() as node:
        world = build_world(node.url)
        try:
            stats = run_machine(world, run_seed=run_seed, budget=budget, max_examples=examples, steps=steps)
            return stats, None
        except BaseException:  # noqa: BLE001 - reported by the parent with the replay's path
            failure = traceback.format_exc()
            stats = runner.last_run or RunStats(seed=run_seed)
            if stats.failure is None:  # failed outside the machine (deploy, anvil)
                stats.failure = failure.strip().splitlines()[-1]
            return stats, failure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, help="seconds per worker (default: run --examples)")
    parser.add_argument("--examples", type=int, help="examples per worker (default 1000 when no --budget)")
    parser.add_argument("--steps", type=int, default=50, help="steps per example (default 50)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: every core)")
    parser.add_argument("--seed", type=int, help="the run's seed (default: a new one, printed)")
    args = parser.parse_args(argv)
    run_seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    examples = args.examples if args.examples is not None else (None if args.budget else 1000)
    per_worker = None if examples is None else max(1, examples // args.workers)
    print(
        f"audit: seed {run_seed} (--seed {run_seed} reruns it), {args.workers} worker(s), "
        + (f"{args.budget:.0f} s each" if args.budget else f"{per_worker} examples each")
        + f", up to {args.steps} steps per example",
        flush=True,
    )
    jobs: list[tuple[int, float | None, int | None, int]] = [
        (run_seed + 1_000_003 * i, args.budget, per_worker, args.steps) for i in range(args.workers)
    ]
    results: list[Any]
    if args.workers == 1:
        results = [_worker(jobs[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
            results = pool.map(_worker, jobs)
    merged = RunStats(seed=run_seed)
    failures = []
    for stats, failure in results:
        merged.merge(stats)
        if failure:
            failures.append(failure)
    print(report(merged, workers=args.workers))
    for failure in failures:
        print("\n" + failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
