"""The flywheel phase of `make demo` (computerails.sim.flywheel) at its fast size (`--fast`), as
a subprocess: 8 epochs of growing honest demand and a fixed wash, a root per settled epoch, every
provider's claims. The demo checks itself (it exits 1 if a check fails); the test reads what it
wrote and checks the claims again."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_flywheel_demo(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.setdefault("SOLCX_BINARY_PATH", str(ROOT / ".solc"))
    result = subprocess.run(
        [sys.executable, "-m", "computerails.sim.flywheel", "--fast", "--seed", "3", "--folder", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (out,) = tmp_path.glob("flywheel-*")
    png = out / "flywheel.png"
    assert png.read_bytes().startswith(b"\x89PNG")
    doc = json.loads((out / "flywheel.json").read_text())
    assert doc["result"] == "PASS"
    epochs = doc["epochs"]
    assert len(epochs) == 8
    shares = [e["subsidy_share"] for e in epochs]
    assert shares[-1] < shares[0]
    assert all(later <= earlier for earlier, later in zip(shares, shares[1:])), shares
    assert all(e["washer_net"] < 0 for e in epochs)
    assert all(e["wash_fees"] > 0 for e in epochs)
    fees = [int(e["fees"]) for e in epochs]
    assert fees[-1] > fees[0]
    c = {k: int(v) for k, v in doc["contract"].items()}
    assert c["claimed"] <= c["root_total"] <= c["released"] <= c["funded"]
    assert c["claimed"] > 0
    assert "subsidy share" in result.stdout
    # the dashboard over the demo's index: its Rewards page carries the same curve (same subsidy per epoch)
    assert doc["checks"]["the dashboard's flywheel curve has the demo's subsidy per epoch"] is True
    rewards_page = (out / "dashboard" / "rewards.html").read_text()
    assert "flywheel" in rewards_page.lower() and "canvas" in rewards_page
