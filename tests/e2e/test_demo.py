"""The main job, end to end: `python -m computerails.sim` (what `make demo` runs) on a small
scenario (2 providers, 2 clients, 4 jobs; one provider dishonest, the other offline for an
epoch; then the metered phase: both clients pay both providers per request, the dishonest one
answers some requests wrongly and an oracle's spot check catches it by its own signed receipts).
Runs twice with one seed to show the run is reproducible."""

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from computerails import receipts
from computerails.deployments import load_deployment
from computerails.receipts import ResponseReceipt
from computerails.vouchers import VoucherDomain

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


def test_demo__paid_inference__through_one_real_agent(runs):
    (report, stdout), _ = runs
    assert report["agent"]["requests"] == 300 and report["agent"]["per_s"] > 0
    assert re.search(r"paid inference: 300 requests, [\d,]+ requests/s through one agent \(payment on\)", stdout)


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
    # The vouchers and fraud attestations carry the chain's clock, so their gas may differ by a
    # few units too (calldata prices zero and non-zero bytes differently).
    varying = ("collect_gas", "gas_per_request", "fraud_gas")

    def same(metered):
        slashes = [{k: v for k, v in s.items() if k != "gas"} for s in metered["slashes"]]
        return {k: v for k, v in metered.items() if k not in varying} | {"slashes": slashes}

    assert same(first["metered"]) == same(second["metered"])
    # Gas can differ by a few units: signed deadlines follow the node's clock, and calldata
    # prices zero and non-zero bytes differently. What was sent is the same.
    assert [(g["operation"], g["count"]) for g in first["gas"]] == [(g["operation"], g["count"]) for g in second["gas"]]


METERED_CHECKS = (
    "metered escrow == accounts + claimable",
    "metered: each payer's spend == provider net + fees",
    "metered: each payer's spend == its latest vouchers",
)


def test_demo__metered_phase__escrow_and_payers_balance(runs):
    (report, stdout), _ = runs
    usd = report["accounting"]["mUSD"]
    assert {name: usd["checks"][name] for name in METERED_CHECKS} == dict.fromkeys(METERED_CHECKS, True)
    metered = report["metered"]
    # 2 payers x 2 providers x 100 requests, one collect transaction per provider (collectMany)
    assert (metered["requests"], metered["collections"], metered["collect_transactions"]) == (400, 4, 2)
    assert metered["gas_per_request"] == round(metered["collect_gas"] / 400, 1) < 1_000
    for payer in metered["payers"]:
        spent = Decimal(payer["spent"])
        assert spent > 0 and spent == Decimal(payer["provider_net"]) + Decimal(payer["fees"])
        assert Decimal(payer["deposited"]) == 2 * spent  # each account keeps half its deposit as a tab
    left = sum(Decimal(p["deposited"]) - Decimal(p["spent"]) for p in metered["payers"])
    assert Decimal(usd["metered_accounts"]) == left
    assert Decimal(usd["claimable_metered"]) == 0  # providers and treasury claimed everything
    fees = sum(Decimal(p["fees"]) for p in metered["payers"])
    assert Decimal(metered["fees_claimed"]) == fees
    for provider in metered["providers"]:
        assert Decimal(provider["claimed"]) == Decimal(provider["net"]) > 0
    assert "gas per paid request" in stdout


def test_demo__metered_phase__cheater_caught_by_its_own_signed_receipts(runs):
    (report, stdout), _ = runs
    metered = report["metered"]
    dishonest = by_role(report)["dishonest"]
    providers = {p["role"]: p for p in metered["providers"]}
    assert providers["dishonest"]["wrong_answers"] > 0 and providers["honest"]["wrong_answers"] == 0
    assert providers["dishonest"]["caught"] == len(metered["evidence"]) > 0
    assert providers["honest"]["caught"] == 0
    deployment = load_deployment(ROOT / report["deployment"]["file"])
    domain = VoucherDomain(deployment.chain_id, deployment.address("MeteredEscrow"))
    for evidence in metered["evidence"]:
        receipt = ResponseReceipt(
            payer=evidence["payer"],
            provider=evidence["provider"],
            token=deployment.payment_tokens[0],
            collection_id=evidence["collection_id"],
            request_index=evidence["request_index"],
            request_hash=evidence["request_hash"],
            response_hash=evidence["signed_response_hash"],
            units=1,
        )
        # The provider's own key signed the wrong answer: that signature is the proof.
        assert receipts.recover(domain, receipt, bytes.fromhex(evidence["signature"][2:])) == dishonest["address"]
        assert evidence["recomputed_response_hash"] != evidence["signed_response_hash"]
    assert "Fraud evidence (the provider's own signed receipts)" in stdout
    assert f"fraud evidence: {dishonest['name']} signed response" in stdout


def test_demo__metered_phase__cheater_slashed_jailed_payers_compensated(runs):
    (report, stdout), _ = runs
    metered = report["metered"]
    dishonest = by_role(report)["dishonest"]
    providers = {p["role"]: p for p in metered["providers"]}
    slashes = metered["slashes"]
    # one on-chain fraud attestation per piece of evidence, all against the cheater
    assert len(slashes) == len(metered["evidence"]) > 0
    assert {s["provider"] for s in slashes} == {dishonest["name"]}
    assert providers["dishonest"]["jailed"] and not providers["honest"]["jailed"]
    assert Decimal(providers["dishonest"]["slashed"]) == sum(Decimal(s["slashed"]) for s in slashes) > 0
    assert Decimal(providers["honest"]["slashed"]) == 0
    assert slashes[0]["jailed"] and not any(s["jailed"] for s in slashes[1:])  # jailed once
    assert Decimal(slashes[0]["from_locked"]) > 0  # the collections' stake lock is taken first
    # each wronged payer claimed exactly half of what its receipts' slashes took
    owed: dict[str, Decimal] = {}
    for s in slashes:
        assert Decimal(s["slashed"]) - 2 * Decimal(s["payer_share"]) in (0, Decimal("1e-18"))  # half, floored
        owed[s["payer"]] = owed.get(s["payer"], Decimal(0)) + Decimal(s["payer_share"])
    assert {k: Decimal(v) for k, v in metered["payers_compensated"].items()} == owed
    assert "already punished" in metered["replay_refused"]
    assert report["accounting"]["mCRS"]["pass"]
    assert "replayed fraud attestation refused" in stdout
