"""The README's paths run as written (tests/agent/test_readme_provider.py,
tests/oracle_network/test_readme_oracle.py): its fenced blocks under a heading, the commands of a
shell block, running a block in a fresh folder, stopping a daemon it started."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)
COMMAND_TIMEOUT = 120  # seconds one block may take (each CLI run starts a Python)


def section_blocks(text: str, heading: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced block under `heading`, up to the next ``## `` heading."""
    start = text.index(heading + "\n")
    end = text.find("\n## ", start + len(heading))
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text[start : end if end >= 0 else None])]


def commands(code: str) -> list[str]:
    """The lines of a shell block that do something (not blank, not a comment)."""
    return [line for line in code.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def run_block(script: str, folder: Path, env: dict[str, str]) -> str:
    """Run `script` with ``bash -euo pipefail`` in `folder`; its stdout (fails the test on an error)."""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    assert done.returncode == 0, f"{script}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done.stdout


def reader_env(home: Path, **extra: str) -> dict[str, str]:
    """A reader's shell: no COMPUTERAILS_/APE_ variables of the test run, `computerails` on the
    PATH (installed beside this Python), a home of its own, then `extra`."""
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPUTERAILS_", "APE_"))}
    return env | {"PATH": bin_dir + os.pathsep + os.environ["PATH"], "HOME": str(home)} | extra


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, then SIGKILL if it has not exited within 30 s: the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
    return process.wait(timeout=30)
