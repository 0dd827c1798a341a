"""The devnet's process helpers (``computerails.devnet.agent``): several services stopped side by
side, each by its own pid."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from computerails.devnet.agent import AgentProcess, shutdown_all

#: A child that, on SIGTERM, marks it got one and exits 0 only once its partner got one too.
PARTNER = """
import pathlib, signal, sys, time
mine, theirs = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
def term(*_):
    mine.touch()
    while not theirs.exists():
        time.sleep(0.01)
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
pathlib.Path(sys.argv[3]).touch()
while True:
    time.sleep(1)
"""
#: A child that ignores SIGTERM.
STUBBORN = """
import pathlib, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pathlib.Path(sys.argv[1]).touch()
while True:
    time.sleep(1)
"""


def _spawn(tmp_path: Path, name: str, code: str, *args: str) -> AgentProcess:
    process = AgentProcess(tmp_path / f"{name}.toml", tmp_path)
    ready = tmp_path / f"{name}.ready"
    process.process = subprocess.Popen([sys.executable, "-c", code, *args, str(ready)])
    while not ready.exists():  # its signal handler is installed
        assert process.process.poll() is None, "the child exited"
        time.sleep(0.01)  # readiness polling
    return process


def test_shutdown_all__sigterm_to_all_before_waiting__partners_exit_cleanly_stubborn_one_killed(tmp_path):
    a, b = tmp_path / "a-got-term", tmp_path / "b-got-term"
    first = _spawn(tmp_path, "first", PARTNER, str(a), str(b))
    second = _spawn(tmp_path, "second", PARTNER, str(b), str(a))
    stubborn = _spawn(tmp_path, "stubborn", STUBBORN)
    never = AgentProcess(tmp_path / "never.toml", tmp_path)
    # One at a time, `first` would wait forever for `second`'s SIGTERM and be killed.
    codes = shutdown_all([first, second, stubborn, never], grace=2.0)
    assert codes == {0: 0, 1: 0, 2: -9, 3: None}
    assert a.exists() and b.exists()
    assert not any(p.running() for p in (first, second, stubborn))
