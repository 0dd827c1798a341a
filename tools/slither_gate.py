#!/usr/bin/env python3
"""Static-analysis gate: run slither over contracts/ and fail on any medium or high finding
that slither.config.json does not triage with a reason, or when nothing was analysed.

slither.config.json carries slither's own settings plus a "triage" list of
{"check", "match", "reason"}: a finding is triaged when its detector is `check` and its
description contains `match`. Every triage entry must still match something, so stale
entries are reported too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "slither.config.json"
BLOCKING = {"Medium", "High"}


def run_slither() -> tuple[list[dict], int, str]:
    bridge = ROOT / ".solc" / "solc-v0.8.37"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "slither.json"
        proc = subprocess.run(
            [
                str(Path(sys.executable).parent / "slither"),
                "contracts/",
                "--config-file",
                str(CONFIG),
                "--solc",
                str(bridge),
                "--solc-standard-json",
                "--solc-remaps",
                "@openzeppelin/contracts=node_modules/@openzeppelin/contracts",
                "--solc-disable-warnings",
                "--json",
                str(out),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        log = proc.stdout + proc.stderr
        if not out.exists():
            sys.exit(f"slither gate: slither produced no report (exit {proc.returncode}):\n{log[-3000:]}")
        report = json.loads(out.read_text())
    if not report.get("success", False):
        sys.exit(f"slither gate: slither failed: {report.get('error')}\n{log[-3000:]}")
    found = re.search(r"analyzed \((\d+) contracts", log)
    analyzed = int(found.group(1)) if found else 0
    return report.get("results", {}).get("detectors", []), analyzed, log


def main() -> int:
    config = json.loads(CONFIG.read_text())
    triage = config.get("triage", [])
    findings, analyzed, log = run_slither()
    if analyzed == 0:
        print("slither gate: FAIL: 0 contracts analyzed (wrong target or compiler bridge?)")
        print(log[-2000:])
        return 1
    used = [False] * len(triage)
    blocking = []
    for finding in findings:
        if finding.get("impact") not in BLOCKING:
            continue
        description = finding.get("description", "")
        matches = [i for i, t in enumerate(triage) if t["check"] == finding["check"] and t["match"] in description]
        for i in matches:
            used[i] = True
        if not matches:
            blocking.append(finding)
    for finding in blocking:
        print(f"[{finding['impact']}] {finding['check']}: {finding['description'].strip()}")
    stale = [t for t, u in zip(triage, used) if not u]
    for t in stale:
        print(f"stale triage entry (matches nothing): {t['check']} / {t['match']}")
    print(
        f"slither gate: {analyzed} contracts analyzed, {len(findings)} findings at medium+ or filtered level, "
        f"{len(blocking)} untriaged medium/high, {sum(used)} triaged"
    )
    return 1 if blocking or stale else 0


if __name__ == "__main__":
    sys.exit(main())
