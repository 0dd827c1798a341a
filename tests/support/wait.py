"""Waiting for a real process to do something: poll a condition, fail the test (naming what
was awaited) when it never holds. A readiness wait with a generous bound, never a timed
assertion: the bound only turns a hang into a failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

POLL = 0.05  # seconds between polls
WAIT = 90.0  # seconds before a wait fails


def wait_until(check: Callable[[], T], what: str, timeout: float = WAIT) -> T:
    """Poll `check` until it returns something true, and return that; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (seen := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"not seen in {timeout:g} s: {what}")
        time.sleep(POLL)  # readiness polling
    return seen
