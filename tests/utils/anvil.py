"""A real anvil node for SDK tests: 127.0.0.1 only, a free port, stopped by its own pid.

The protocol is deployed onto it with the project's own deploy script
(`ape run deploy`, attached to this node through APE_FOUNDRY_HOST).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
from scripts._marketplace import DEV_MNEMONIC as MNEMONIC
from scripts._marketplace import dev_key  # noqa: F401  (re-exported for the SDK tests)

N_ACCOUNTS = 20


def anvil_binary() -> str:
    local = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    if local.exists():
        return str(local)
    found = shutil.which("anvil")
    if not found:
        raise RuntimeError("anvil not found: run `make setup`")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Anvil:
    """One anvil process. `stop()` kills exactly this process; `restart()` keeps its state."""

    def __init__(self, state_file: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state_file = state_file
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, load_state: bool = False) -> "Anvil":
        args = [anvil_binary(), "--host", "127.0.0.1", "--port", str(self.port), "--accounts", str(N_ACCOUNTS),
                "--mnemonic", MNEMONIC, "--silent"]
        if self.state_file is not None:
            args += ["--dump-state", str(self.state_file)]
            if load_state and self.state_file.exists():
                args += ["--load-state", str(self.state_file)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"anvil exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("anvil did not start within 20 s")

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

    def restart(self) -> None:
        """Stop and start again on the same port with the dumped state reloaded."""
        self.stop()
        self.start(load_state=True)

    def deploy(self, out_dir: Path, direct_governance: bool = True) -> Path:
        """Deploy with scripts/deploy.py onto this node; return the deployment file.

        With `direct_governance`, governance (the test mnemonic's account 0) is then made a
        direct admin and governor of every contract through one timelock operation (scheduled,
        its delay skipped with evm_increaseTime, executed), so that tests and the bench can
        change parameters without waiting: see `grant_direct_governance`."""
        env = dict(os.environ)
        env["APE_FOUNDRY_HOST"] = self.url
        env.setdefault("SOLCX_BINARY_PATH", str(ROOT / ".solc"))
        ape = str(Path(sys.executable).parent / "ape")
        result = subprocess.run(
            [ape, "run", "deploy", "--network", "ethereum:local:foundry", "--out", str(out_dir)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(f"deploy failed:\n{result.stdout}\n{result.stderr}")
        files = list(out_dir.glob("*.json"))
        assert len(files) == 1, files
        json.loads(files[0].read_text())
        if direct_governance:
            grant_direct_governance(self.url, files[0], dev_key(0))
        return files[0]


def grant_direct_governance(url: str, deployment: Path, governance_key: str) -> None:
    """Through the deployment's timelock, make `governance_key` a direct admin and governor of
    every protocol contract (test and bench convenience; production keeps them behind it)."""
    import computerails
    from computerails.deployments import role_id

    rails = computerails.connect(url, deployment=deployment, account=governance_key)
    me = rails.address
    calls = [contract.functions.grantRole(role_id(role), me)
             for contract in (rails.staking, rails.escrow, rails.slasher, rails.hub)
             for role in ("DEFAULT_ADMIN_ROLE", "GOVERNOR_ROLE")]
    operation = rails.governance.schedule(calls)
    rails.w3.provider.make_request("evm_increaseTime", [rails.governance.delay()])
    rails.w3.provider.make_request("evm_mine", [])
    rails.governance.execute(operation)
