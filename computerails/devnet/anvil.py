"""A local anvil node run by the project itself: 127.0.0.1 only, a free port, stopped by its own
process id, and without the per-step tracing that ape-foundry switches on (it keeps every step
of every transaction in memory: 3.7 MB per simulated job).

It runs the hardfork the contracts are compiled for (``evm_version`` in ape-config.yaml,
:data:`HARDFORK`), not anvil's default. Besides matching what the contracts target, that keeps a
long run linear: anvil 1.7.1 under its default (prague) rebuilds the state trie every block, and
EIP-2935's block-hash history contract adds a storage slot to that trie with every block, so each
transaction costs more than the one before (2.2 ms per plain transfer at the start, 15 ms after
12,000 blocks, measured here); under cancun it stays at 2.2 ms.

Each node runs with a home folder of its own (a temporary folder, removed when the node is
stopped or killed): anvil keeps the historical states it pages out of memory under
``$HOME/.foundry/anvil/tmp`` and leaves them there whatever way it exits, about 2 GB over one
``make test``.

Uses the real anvil binary npm installs (``node_modules/@foundry-rs/anvil-linux-amd64``), or one
on ``PATH``.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from computerails.devnet.keys import DEV_MNEMONIC

ROOT = Path(__file__).resolve().parents[2]
N_ACCOUNTS = 20
#: The EVM version the contracts are compiled for (ape-config.yaml's ``evm_version``).
HARDFORK = "cancun"


class AnvilError(RuntimeError):
    """anvil could not be found or did not start."""


def anvil_binary() -> str:
    """The anvil executable: the npm-installed binary of this checkout, else one on PATH."""
    local = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    if local.exists():
        return str(local)
    found = shutil.which("anvil")
    if not found:
        raise AnvilError("anvil not found: run `make setup` (it installs anvil from npm)")
    return found


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child before exec: SIGKILL when the thread that started it exits (Linux's
    PR_SET_PDEATHSIG; a no-op elsewhere), so a driver killed with -9 leaves nothing running."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Anvil:
    """One anvil process. ``stop()`` ends exactly this process; ``restart()`` keeps its state
    when a state file is given.

    Args:
        state_file: with it, anvil dumps its state there on a graceful stop, and ``restart``
            loads it again.
        prune_history: keep no historical states (a long simulation stays small), or with a
            number, only that many recent ones (reads of "latest" that race a newly mined block
            then still find their state: with none kept, anvil answers BlockOutOfRangeError);
            snapshots (``evm_snapshot``) work either way.
        block_keeper: keep only this many blocks with transactions in memory (their logs and
            receipts go with them).
        hardfork: the EVM rules to run (default :data:`HARDFORK`).
        extra_args: more anvil arguments.
    """

    def __init__(
        self,
        state_file: Path | None = None,
        *,
        prune_history: bool | int = False,
        block_keeper: int | None = None,
        hardfork: str = HARDFORK,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state_file = state_file
        self.prune_history = prune_history
        self.block_keeper = block_keeper
        self.hardfork = hardfork
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        #: The running node's home folder (its paged-out states), removed when it stops.
        self.home: Path | None = None
        #: True: anvil is killed when the thread that started it exits (see :func:`die_with_parent`).
        self.die_with_parent = False

    def args(self, load_state: bool = False) -> list[str]:
        """The command line this node runs with."""
        args = [
            anvil_binary(),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--accounts",
            str(N_ACCOUNTS),
            "--mnemonic",
            DEV_MNEMONIC,
            "--silent",
            "--hardfork",
            self.hardfork,
        ]
        if self.prune_history is True:
            args.append("--prune-history")
        elif self.prune_history:
            args += ["--prune-history", str(int(self.prune_history))]
        if self.block_keeper is not None:
            args += ["--transaction-block-keeper", str(self.block_keeper)]
        if self.state_file is not None:
            args += ["--dump-state", str(self.state_file)]
            if load_state and self.state_file.exists():
                args += ["--load-state", str(self.state_file)]
        return args + list(self.extra_args)

    def start(self, load_state: bool = False) -> Anvil:
        """Start and wait (up to 20 s) until it accepts connections.

        Raises:
            AnvilError: anvil exited or did not answer in time.
        """
        self.home = Path(tempfile.mkdtemp(prefix="computerails-anvil-home-"))
        self.process = subprocess.Popen(
            self.args(load_state),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=os.environ | {"HOME": str(self.home)},
            preexec_fn=die_with_parent if self.die_with_parent else None,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                self._remove_home()
                raise AnvilError(f"anvil exited with {code}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AnvilError("anvil did not start within 20 s")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def stop(self) -> None:
        """Stop gracefully (SIGTERM, so --dump-state is written), by this process's own pid."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        self._remove_home()

    def kill(self) -> None:
        """SIGKILL this process (nothing is dumped)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
        self._remove_home()

    def _remove_home(self) -> None:
        """Remove the stopped node's home folder (what it paged out to disk)."""
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None

    def restart(self) -> None:
        """Stop and start again on the same port with the dumped state reloaded."""
        self.stop()
        self.start(load_state=True)

    def __enter__(self) -> Anvil:
        return self.start() if self.process is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
