"""Replays a recorded sequence of machine steps on a fresh harness anvil (what the replay
scripts in tests/stateful/replays/ call)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.stateful.harness import build_world, harness_anvil
from tests.stateful.machine import ProtocolMachine


def replay(steps: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Run `steps` ([(rule, arguments)]) with every invariant checked after each, then the
    teardown's everyone-exits check. Raises whatever the failure raises."""
    with harness_anvil() as node:
        ProtocolMachine.world = build_world(node.url)
        machine = ProtocolMachine()
        try:
            for name, kwargs in steps:
                getattr(machine, name)(**kwargs)
                machine.all_invariants()
        finally:
            machine.teardown()
