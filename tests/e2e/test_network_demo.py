"""The network demo, end to end: ``python -m computerails.sim.network --small`` (what ``make
demo`` runs, with less traffic) as a process of its own. It starts anvil, five provider agents,
three oracle nodes, a link relay and a keeper, runs the five scripted faults, and must end in
accounting PASS with nothing left running. The tests read its JSON report and the chain facts
it records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SLA_BPS = 9_500
TIMEOUT = 900  # seconds; the run takes a few minutes on two cores


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    folder = tmp_path_factory.mktemp("network")
    report = folder / "report.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "computerails.sim.network",
            "--small",
            "--no-dashboard",  # the dashboard beside the demo: tests/dashboard (DemoDashboard)
            "--folder",
            str(folder / "run"),
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    failures = json.loads(report.read_text())["failures"] if report.exists() else ["no report written"]
    # The failures last: a CI log shows the message's tail.
    assert run.returncode == 0, run.stderr[-4000:] + run.stdout[-6000:] + "\nfailures: " + "; ".join(failures)
    return json.loads(report.read_text()), run.stdout


def by_name(rows, name):
    (row,) = [r for r in rows if r.get("name", r.get("provider")) == name]
    return row


def alive(pid: int) -> bool:
    """The pid runs a process of ours still (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"computerails" in cmdline or b"anvil" in cmdline


def test_network_demo__five_faults__accounting_passes_and_nothing_left_running(network):
    report, stdout = network
    assert "Accounting check: PASS" in stdout
    assert report["passed"] and not report["failures"]
    assert all(b["pass"] for b in report["books"].values())
    assert [f["fault"][0] for f in report["faults"]] == list("12345")
    assert all(f["done"] and f["caused"] for f in report["faults"])
    assert len(report["pids"]) >= 11 + 3  # anvil, 5 agents, 3 nodes, link, keeper, and 3 restarts at least
    assert not [pid for pid in report["pids"] if alive(pid)]


def test_network_demo__cheating_provider__caught_slashed_jailed_and_left(network):
    report, _ = network
    p1 = by_name(report["providers"], "p1")
    assert p1["wrong"] >= 1
    assert (p1["jailed"], p1["unjailed"], p1["status"]) == (1, 0, "left")
    assert float(p1["slashed mCRS"]) > 0
    assert sum(c["fraud verdicts"] for c in report["clients"]) >= 1
    assert sum(float(c["fraud compensation mCRS"]) for c in report["clients"]) > 0


def test_network_demo__provider_down__probes_median_slash_then_tops_up_unjails_serves(network):
    report, _ = network
    p2 = by_name(report["providers"], "p2")
    assert (p2["jailed"], p2["unjailed"], p2["status"]) == (1, 1, "active")
    facts = report["facts"]
    assert facts["p2_reported"]["epoch"] == 2 and facts["p2_reported"]["uptime_bps"] < SLA_BPS
    assert facts["p2_unjailed"] and facts["p2_served_after_unjail"] > 0
    (row,) = [r for r in report["uptime"] if r["provider"] == "p2" and r["epoch"] == 2]
    assert row["reported"] == "slashed"
    assert row["median"] == f"{facts['p2_reported']['uptime_bps'] / 100:.1f}%"
    measured = [float(row[o].rstrip("%")) for o in ("o0", "o1", "o2") if row[o] != "-"]
    assert len(measured) >= 2 and all(m < SLA_BPS / 100 for m in measured)
    honest = [r for r in report["uptime"] if r["provider"] in ("p0", "p4")]
    assert honest and all(r["reported"] == "no" for r in honest)


def test_network_demo__oracle_killed_and_cut__quorum_failover_and_catch_up(network):
    report, _ = network
    facts = report["facts"]
    assert by_name(report["oracles"], "o0")["restarts"] == 1
    assert report["jobs"]["settled"] <= facts["attested"] <= report["jobs"]["created"]
    assert facts["failed_over"] >= 1  # some attestation went out from a later transmitter
    assert len(facts["transmitters"]) >= 2
    assert facts["o2_caught_up"]


def test_network_demo__agent_killed__nothing_done_twice_no_voucher_lost(network):
    report, _ = network
    assert report["jobs"]["max_accepts_per_job"] == 1
    assert report["jobs"]["created"] == report["jobs"]["settled"] + report["jobs"]["refunded"]
    for v in report["vouchers"]:
        assert v["acknowledged"] == v["collected"] + v["outstanding"], v
    p3 = by_name(report["vouchers"], "p3")
    assert p3["acknowledged"] > 0
    assert by_name(report["providers"], "p3")["status"] == "active"
