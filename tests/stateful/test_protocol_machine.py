"""The protocol state machine at CI size, inside `make test`: STATEFUL_EXAMPLES examples (default
50: with MeteredEscrow's rules drawn too, the job, stake and uptime rules still get as many steps
as at the 40 of before) of up to 30 steps on the fast raw JSON-RPC harness, seeded by
STATEFUL_SEED (default: a new seed, printed). `make audit` runs the same machine for a time budget
on every core."""

import os
import random

from tests.stateful.runner import report, run_machine


def test_protocol_state_machine(world):
    run_seed = int(os.environ.get("STATEFUL_SEED") or random.SystemRandom().randrange(2**31))
    examples = int(os.environ.get("STATEFUL_EXAMPLES", "50"))
    print(f"\nstateful: seed {run_seed} (STATEFUL_SEED={run_seed} reruns this run)")
    stats = run_machine(world, run_seed=run_seed, max_examples=examples, steps=30)
    print(report(stats))
    assert stats.examples > 0
    assert stats.outcomes["create_job: ok"] > 0  # the run did reach the protocol
    assert stats.outcomes["metered_deposit: ok"] > 0  # and MeteredEscrow
