"""How the main job scales: the demo (``python -m computerails.sim``) at growing job counts, with
its wall time and the peak memory of its two processes (the simulation and its anvil).

The demo's anvil runs without step tracing and with history pruning, so its memory should stay
far below what ape-foundry's traced anvil used (3.7 MB per job before), and time should grow
linearly with the number of jobs. Nothing here asserts a timing: the figures go to
``bench/results.json`` and the README's scaling table.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from computerails.sim.marketplace import default_sizes

ROOT = Path(__file__).resolve().parents[1]


def scenario(jobs: int) -> dict[str, int]:
    """What ``make demo-sim ARGS="--jobs N"`` runs: providers and clients grow with the job count
    (:func:`computerails.sim.marketplace.default_sizes`)."""
    providers, clients = default_sizes(jobs)
    return {"jobs": jobs, "providers": providers, "clients": clients}


def run_demo(jobs: int, seed: int = 7) -> dict[str, Any]:
    """One demo run at `jobs` jobs: wall time, per-job time, peak memory, and whether the books
    balanced."""
    shape = scenario(jobs)
    with tempfile.TemporaryDirectory(prefix="computerails-scaling-") as tmp:
        report_path = Path(tmp) / "report.json"
        args = [sys.executable, "-m", "computerails.sim", "--seed", str(seed), "--report", str(report_path)]
        for key, value in shape.items():
            args += [f"--{key}", str(value)]
        started = time.perf_counter()
        result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=6 * 3600)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            raise RuntimeError(f"the demo failed at {jobs} jobs:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        report = json.loads(report_path.read_text())
    resources = report.get("resources", {})
    return {
        **shape,
        "wall_seconds": round(wall, 1),
        "simulation_seconds": report["timings"]["total"],
        "ms_per_job": round(1000 * wall / jobs, 1),
        "anvil_peak_mb": round(resources.get("anvil", 0.0), 1),
        "simulation_peak_mb": round(resources.get("simulation", 0.0), 1),
        "result": report["result"],
    }


def measure(sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for jobs in sizes:
        row = run_demo(jobs)
        print(
            f"scaling: {jobs} jobs in {row['wall_seconds']} s ({row['ms_per_job']} ms/job), anvil peak "
            f"{row['anvil_peak_mb']} MB, simulation peak {row['simulation_peak_mb']} MB: {row['result']}",
            flush=True,
        )
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| Jobs | Providers | Clients | Wall time | Per job | anvil peak memory | Simulation peak memory | Books |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['jobs']:,} | {r['providers']} | {r['clients']} | {r['wall_seconds']} s | {r['ms_per_job']} ms | "
            f"{r['anvil_peak_mb']:.0f} MB | {r['simulation_peak_mb']:.0f} MB | {r['result']} |"
        )
    return "\n".join(lines)
