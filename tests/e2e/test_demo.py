"""The main job, end to end: `python -m computerails.sim` (what `make demo` runs) on a small
scenario (2 providers, 2 clients, 4 jobs; one provider dishonest, the other offline for an
epoch). Runs twice with one seed to show the run is reproducible."""

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ["--providers", "2", "--clients", "2", "--jobs", "4", "--oracles", "3", "--threshold", "2", "--seed", "11"]


def run_demo(report: Path) -> tuple[dict, str]:
    env = dict(os.environ)
    env.setdefault("SOLCX_BINARY_PATH", str(ROOT / ".solc"))
    result = subprocess.run(
        [sys.executable, "-m", "computerails.sim", *SCENARIO, "--report", str(report)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(report.read_text()), result.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    return run_demo(folder / "first.json"), run_demo(folder / "second.json")


def by_role(report: dict) -> dict[str, dict]:
    return {p["role"]: p for p in report["providers"]}


def test_demo__small_scenario__accounting_passes(runs):
    (report, stdout), _ = runs
    assert report["result"] == "PASS"
    assert all(token["pass"] for token in report["accounting"].values())
    assert set(report["accounting"]) == {"mUSD", "mCRS"}
    assert "Accounting check: PASS" in stdout
    assert "Report written to" in stdout and "Wall time:" in stdout
    assert "Peak memory: anvil " in stdout and report["resources"]["anvil"] > 0


def test_demo__small_scenario__every_path_taken(runs):
    (report, _), _ = runs
    # jobs 0 and 2 go to the offline provider (one disputed, one expired), 1 and 3 to the dishonest one
    assert report["jobs"] == {"total": 4, "settled": 0, "disputed": 1, "failed": 2, "expired": 1}


def test_demo__dishonest_provider__failed_and_slashed(runs):
    (report, _), _ = runs
    dishonest = by_role(report)["dishonest"]
    assert dishonest["jobs_failed"] == 2 and dishonest["jobs_done"] == 0
    assert Decimal(dishonest["slashed"]) > 0
    assert Decimal(dishonest["earned"]) == 0 and Decimal(dishonest["claimed"]) == 0


def test_demo__offline_provider__uptime_slash_then_unjailed(runs):
    (report, _), _ = runs
    offline = by_role(report)["offline"]
    assert offline["uptime_bps"] < 9_500  # below the SLA
    # 5% of its stake (well under the 500 cap) plus the expired job's collateral
    assert Decimal(offline["slashed"]) >= Decimal(offline["stake"]) * Decimal("0.05") * Decimal("0.99")
    assert offline["jailed"] is False  # topped up and unjailed
    assert offline["jobs_done"] == 1 and offline["jobs_failed"] == 1  # the disputed one paid, one expired
    assert Decimal(offline["claimed"]) == Decimal(offline["earned"]) + Decimal(report_bond(report))


def report_bond(report: dict) -> Decimal:
    # The rejected dispute's bond went to the provider: what the clients locked beyond their escrow.
    return sum(Decimal(c["locked"]) - Decimal(c["paid"]) - Decimal(c["refunded"]) for c in report["clients"])


def test_demo__clients__refunded_and_compensated(runs):
    (report, _), _ = runs
    refunded = sum(Decimal(c["refunded"]) for c in report["clients"])
    compensation = sum(Decimal(c["slash_compensation"]) for c in report["clients"])
    assert refunded > 0  # two failed jobs and one expired job came back in full
    assert compensation > 0  # half of the slashed collateral goes to the wronged clients


def test_demo__oracles__each_signed_every_statement(runs):
    (report, _), _ = runs
    # 3 attestations (4 jobs less the expired one) + 2 uptime reports
    assert [o["signatures"] for o in report["oracles"]] == [5, 5, 5]


def test_demo__gas_table__covers_operations(runs):
    (report, _), _ = runs
    ops = {g["operation"]: g for g in report["gas"]}
    for op in (
        "createJob",
        "accept",
        "submitAttestations",
        "submitUptimeReport",
        "dispute",
        "resolveDispute",
        "reclaimExpired",
        "withdraw",
        "claim",
        "register",
        "unjail",
    ):
        assert ops[op]["count"] >= 1 and ops[op]["mean"] > 21_000, op
        assert ops[op]["total"] == pytest.approx(ops[op]["mean"] * ops[op]["count"], abs=ops[op]["count"])


def test_demo__same_seed__same_outcomes(runs):
    (first, _), (second, _) = runs
    for key in ("jobs", "providers", "clients", "oracles", "accounting"):
        assert first[key] == second[key], key
    # Gas can differ by a few units: signed deadlines follow the node's clock, and calldata
    # prices zero and non-zero bytes differently. What was sent is the same.
    assert [(g["operation"], g["count"]) for g in first["gas"]] == [(g["operation"], g["count"]) for g in second["gas"]]
