"""The keeper and a stand-in oracle node as real processes for tests/keeper_node.

- :class:`KeeperProcess`: the package's launcher (``python -m computerails.keeper_node.serve`` on
  a free 127.0.0.1 port, ready once ``/v1/health`` answers, stopped or killed by its own pid).
- :class:`ReportsServer`: a small FastAPI process serving ``GET /v1/reports`` from a JSON file,
  read again on every request (a test rewrites the file to change what it serves): what an
  oracle node serves to keepers, in the shape ``docs/ORACLE_NETWORK.md`` gives it.
- :func:`signed_report`: one item of that list, signed by the devnet oracles' quorum.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from computerails import _http
from computerails.devnet import dev_key, free_port
from computerails.devnet import oracle as devnet_oracle
from computerails.types import UptimeReport
from tests.support.agent import READY_TIMEOUT
from tests.support.sdk import ORACLES

POLL = 0.05  # seconds between readiness polls


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path, what: str) -> None:
    """Poll `url` until it answers 200; fail with the log when the process exits or never answers."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text()}")
        try:
            if _http.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(POLL)  # readiness polling
    process.kill()
    process.wait(timeout=30)
    raise RuntimeError(f"{what} not ready in {READY_TIMEOUT} s:\n{log.read_text()}")


class KeeperProcess(devnet_oracle.KeeperProcess):
    """One keeper process (the package's launcher); its log goes to ``<log_dir>/keeper-<n>.log``."""

    def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = _http.get(f"{self.url}/v1/health").json()
        return answer


#: The stand-in oracle node's program (``python -c``: it imports FastAPI and uvicorn only, so it
#: starts in a fraction of the time the SDK takes to import). Arguments: the JSON file, the port.
REPORTS_SERVER = """
import json, pathlib, sys
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

file, port = pathlib.Path(sys.argv[1]), int(sys.argv[2])
app = FastAPI()

@app.get("/v1/reports")
def reports():
    return JSONResponse(json.loads(file.read_text()))

uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
"""


class ReportsServer:
    """A stand-in oracle node serving ``GET /v1/reports`` from `file` (a JSON list)."""

    def __init__(self, file: Path, log_dir: Path) -> None:
        self.file = file
        self.log = log_dir / "reports-server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def serve(self, reports: list[dict[str, Any]]) -> None:
        """What the node serves from now on."""
        self.file.write_text(json.dumps(reports))

    def start(self) -> ReportsServer:
        if not self.file.exists():
            self.serve([])
        command = [sys.executable, "-c", REPORTS_SERVER, str(self.file), str(self.port)]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        wait_ready(self.process, f"{self.url}/v1/reports", self.log, "reports server")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def signed_report(rails: Any, provider: str, epoch: int, uptime_bps: int, relayer: str) -> dict[str, Any]:
    """An uptime report and the devnet oracles' quorum signatures over it, as JSON."""
    report = rails.oracle.prepare(UptimeReport(provider=provider, epoch=epoch, uptime_bps=uptime_bps, relayer=relayer))
    signatures = rails.oracle.collect_signatures(report, [dev_key(i) for i in ORACLES])
    return {"report": report.model_dump(mode="json"), "signatures": [s.model_dump(mode="json") for s in signatures]}
