"""Runs the protocol state machine and reports what a run did: its seed, contract calls per
second, examples per second, every rule's outcomes (zero counts included) and how often each
invariant was checked. A failure writes a replay script (tests/stateful/replays/) that rebuilds
the chain on a fresh anvil and replays the shortest failing sequence.

Used by `make test` (tests/stateful/test_protocol_machine.py, the `ci` profile) and by
`make audit` (python -m tests.stateful.audit: one worker per core).
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import get_state_machine_test

from tests.stateful.harness import World, contract_errors
from tests.stateful.machine import STEPS, BudgetSpent, ProtocolMachine

REPLAYS = Path(__file__).resolve().parent / "replays"
#: The figures of the last run in this process, failed or not (read by the audit's workers).
last_run: RunStats | None = None
#: max_examples for a run bounded by its time budget only.
UNBOUNDED_EXAMPLES = 10**7
QUORUM_ERRORS = (
    "SignatureLengthInvalid",
    "InsufficientSignatures",
    "InvalidSignature",
    "SignersNotAscending",
    "SignerNotOracle",
)


@dataclass
class RunStats:
    seed: int
    examples: int = 0
    calls: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    rule_calls: Counter[str] = field(default_factory=Counter)
    idle_steps: int = 0
    invariant_checks: Counter[str] = field(default_factory=Counter)
    failure: str | None = None
    replay: str | None = None

    def merge(self, other: RunStats) -> None:
        self.examples += other.examples
        self.calls += other.calls
        self.seconds = max(self.seconds, other.seconds)
        self.outcomes.update(other.outcomes)
        self.rule_calls.update(other.rule_calls)
        self.idle_steps += other.idle_steps
        self.invariant_checks.update(other.invariant_checks)
        self.failure = self.failure or other.failure
        self.replay = self.replay or other.replay


def machine_settings(max_examples: int, steps: int, *, shrink: bool = True) -> settings:
    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target] + ([Phase.shrink] if shrink else [])
    return settings(
        max_examples=max_examples,
        stateful_step_count=steps,
        deadline=None,
        print_blob=True,
        database=None,
        phases=phases,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )


def run_machine(
    world: World, *, run_seed: int, max_examples: int | None = None, budget: float | None = None, steps: int = 30
) -> RunStats:
    """Run the machine for `max_examples` examples, or until `budget` seconds have passed.

    One Hypothesis run either way: Hypothesis starts every run with its simplest example (every
    choice zero, the first rule fifty times over), so restarting it in small batches would spend
    a share of the budget on that one example. A budget ends the run between two steps
    (`BudgetSpent`), after at most one step more than the budget.

    A failure is re-raised after its replay script was written (see `write_replay`)."""
    ProtocolMachine.world = world
    ProtocolMachine.examples = 0
    ProtocolMachine.outcomes = Counter()
    ProtocolMachine.rule_calls = Counter()
    ProtocolMachine.idle_steps = 0
    ProtocolMachine.invariant_checks = Counter()
    stats = RunStats(seed=run_seed)
    calls_before = world.chain.calls
    started = time.monotonic()
    ProtocolMachine.stop_at = None if budget is None else started + budget
    ProtocolMachine.failed = False
    n = max_examples if max_examples is not None else UNBOUNDED_EXAMPLES
    try:
        test = seed(run_seed)(get_state_machine_test(ProtocolMachine, settings=machine_settings(n, steps)))
        test()
    except BudgetSpent:
        pass
    except BaseException as exc:
        stats.failure = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        stats.replay = str(write_replay(ProtocolMachine.last_trace, run_seed, stats.failure))
        if hasattr(exc, "add_note"):  # Python 3.11+
            exc.add_note(f"replay script: {stats.replay}")
        raise
    finally:
        ProtocolMachine.stop_at = None
        stats.seconds = time.monotonic() - started
        stats.examples = ProtocolMachine.examples
        stats.calls = world.chain.calls - calls_before
        stats.outcomes = Counter(ProtocolMachine.outcomes)
        stats.rule_calls = Counter(ProtocolMachine.rule_calls)
        stats.idle_steps = ProtocolMachine.idle_steps
        global last_run
        last_run = stats
        stats.invariant_checks = Counter(ProtocolMachine.invariant_checks)
    return stats


def possible_errors(rule: str) -> list[str]:
    """The named errors a rule can predict, read from its source (zero counts are reported too)."""
    source = inspect.getsource(getattr(ProtocolMachine, rule))
    names = set(re.findall(r"\.([A-Z][A-Za-z0-9]+)\b", source))
    names |= {"AccessControlUnauthorizedAccount"} if "AccessControlUnauthorizedAccount" in source else set()
    if "_quorum_error" in source:
        names |= set(QUORUM_ERRORS)
    return sorted(names & contract_errors())


def report(stats: RunStats, workers: int = 1) -> str:
    """The run's figures and tables, as printed."""
    rate = stats.calls / stats.seconds if stats.seconds else 0.0
    per_worker = rate / workers
    lines = [
        f"stateful: seed {stats.seed}, {stats.examples} examples, {stats.calls} contract calls "
        f"in {stats.seconds:.1f} s "
        f"on {workers} worker(s): {rate:.0f} calls/s ({per_worker:.0f} per worker), "
        f"{stats.examples / stats.seconds if stats.seconds else 0:.2f} examples/s",
        "",
        f"{'rule':<28} {'drawn':>6} {'share':>6}  outcomes (ok and every named error it can predict)",
    ]
    total_drawn = sum(stats.rule_calls.values()) or 1
    for rule in sorted(STEPS):
        counted = {k.split(": ", 1)[1]: v for k, v in stats.outcomes.items() if k.startswith(f"{rule}: ")}
        names = ["ok", *possible_errors(rule)]
        names += sorted(set(counted) - set(names))
        cells = ", ".join(f"{n} {counted.get(n, 0)}" for n in names)
        drawn = stats.rule_calls.get(rule, 0)
        lines.append(f"{rule:<28} {drawn:>6} {100 * drawn / total_drawn:>5.1f}%  {cells}")
    initial = {k.split(": ", 1)[1]: v for k, v in stats.outcomes.items() if k.startswith("market_opens: ")}
    if initial:
        lines.append(
            f"{'(market_opens)':<28} {'':>6} {'':>6}  " + ", ".join(f"{k} {v}" for k, v in sorted(initial.items()))
        )
    lines += [
        "",
        f"idle steps (the simplest choice, no call; Hypothesis's first examples and shrinks use it): "
        f"{stats.idle_steps}",
    ]
    lines += ["", "invariants checked: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.invariant_checks.items()))]
    if stats.failure:
        lines += ["", f"FAILED: {stats.failure}", f"replay script: {stats.replay}"]
    return "\n".join(lines)


def _docstring_lines(text: str) -> str:
    """`text` safe inside a triple-quoted docstring and wrapped to the line length ruff allows."""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return "\n".join(textwrap.wrap(text, 96, break_long_words=False)) or "(no message)"


def write_replay(trace: list[tuple[str, dict[str, Any]]], run_seed: int, failure: str) -> Path:
    """A standalone script replaying `trace` on a fresh anvil; kept as a regression test once
    the bug is fixed (pytest collects tests/stateful/replays/test_replay_*.py)."""
    REPLAYS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = REPLAYS / f"test_replay_{stamp}_seed{run_seed}.py"
    steps = ",\n".join(f"    ({name!r}, {kwargs!r})" for name, kwargs in trace)
    path.write_text(
        textwrap.dedent(f'''\
        """Replay of a failing stateful example (seed {run_seed}, written {stamp} UTC).

        The failure:
        {{failure}}

        Run it alone (``python -m tests.stateful.replays.{path.stem}``, from the repository
        root) to reproduce on a fresh anvil; once the bug is fixed, keep it: pytest runs it as a
        regression test.
        """

        from tests.stateful.replay import replay

        STEPS = [
        {{steps}}
        ]


        def test_replay():
            replay(STEPS)


        if __name__ == "__main__":
            replay(STEPS)
            print("replayed {{n}} steps without failure".format(n=len(STEPS)))
        ''')
        .replace("{steps}", steps)
        .replace("{failure}", _docstring_lines(failure))
    )
    # Kept replays are committed: give them the repository's format (best effort: ruff is a
    # development dependency, and an unformatted replay still runs).
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(path)], check=False, capture_output=True)
    return path
