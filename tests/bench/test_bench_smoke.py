"""The benchmark's measurement functions, at tiny sizes on a real anvil: every figure is there,
every gas figure is above 21,000 and at least its floor. Behaviour only: no timing is asserted."""

from __future__ import annotations

import pytest

from bench import costs
from bench.run import Chain, collect, markdown, write_readme

SIZES = (1, 2)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    chain = Chain(tmp_path_factory.mktemp("bench-deployment"))
    try:
        yield collect(chain, sizes=SIZES, ks=(1, 3), iterations=3, rounds=2)
    finally:
        chain.stop()


def test_operations__every_user_operation_measured(results):
    names = {row["name"] for row in results["operations"]}
    expected = {
        "createJob (approve path)",
        "createJobWithPermit",
        "accept",
        "submitAttestation, k=1",
        "submitAttestation, k=3",
        "submitUptimeReport, k=3, slash",
        "submitUptimeReport, k=3, no slash",
        "settleMany, 1 job",
        "settleMany, 2 jobs",
        "claim (escrow.withdraw) after 1 settled job",
        "claim (escrow.withdraw) after 2 settled jobs",
        "dispute",
        "resolveDispute (rejected)",
        "resolveDispute (upheld)",
        "register (first stake)",
        "addStake",
        "requestUnbond",
        "withdrawUnbonded",
        "MeteredEscrow.deposit (new account)",
        "MeteredEscrow.deposit (top-up)",
        "collect (provider's first)",
        "collect (steady)",
        "collect (new collection)",
        "collectMany, 50 vouchers",
    }
    assert expected <= names


def test_batches__each_entry_point_at_each_size(results):
    assert sorted((row["entry"], row["size"]) for row in results["batches"]) == sorted(
        (entry, n) for entry in ("createJobs", "submitAttestations", "settleMany") for n in SIZES
    )


def test_gas__above_base_cost_and_at_least_the_floor(results):
    for row in results["operations"] + results["batches"]:
        assert row["gas"] > costs.G_TX, row["name"]
        assert row["floor"] > costs.G_TX, row["name"]
        assert row["gas"] >= row["floor"], (row["name"], row["gas"], row["floor_terms"])
        assert row["floor"] == sum(row["floor_terms"].values()), row["name"]
        assert row["ratio"] == round(row["gas"] / row["floor"], 3)


def test_batches__amortized_cost_falls_with_size(results):
    per_job = {(row["entry"], row["size"]): row["gas_per_job"] for row in results["batches"]}
    for entry in ("createJobs", "submitAttestations", "settleMany"):
        assert per_job[(entry, 2)] < per_job[(entry, 1)], entry


def test_floors__grow_with_what_the_operation_must_do(results):
    by_name = {row["name"]: row for row in results["operations"]}
    assert (
        by_name["submitAttestation, k=3"]["floor"] - by_name["submitAttestation, k=1"]["floor"] >= 2 * costs.SIGNATURE
    )
    assert by_name["submitUptimeReport, k=3, slash"]["floor"] > by_name["submitUptimeReport, k=3, no slash"]["floor"]


def test_metered__per_request_against_the_per_job_path_of_the_same_run(results):
    m = results["metered"]
    assert [row["requests"] for row in m["collections"]] == [1, 100, 10_000, 1_000_000]
    lifecycle = {(row["entry"], row["size"]): row["gas"] for row in results["batches"]}
    for name, size in (("unbatched", min(SIZES)), ("batched", max(SIZES))):
        job = m["per_job"][name]
        assert job["jobs"] == size
        for entry, part in (("createJobs", "createJobs"), ("submitAttestations", "submitAttestations")):
            assert job["parts"][part] == lifecycle[(entry, size)]
        assert job["parts"]["settle"] == lifecycle[("settleMany", size)]
        assert job["gas_per_request"] == sum(job["parts"].values()) / size
    for row in m["collections"]:
        assert row["gas_per_request"]["collect"] == row["collect_gas"] / row["requests"]
        assert row["ratio_vs_job"]["batched"] == m["per_job"]["batched"]["gas_per_request"] / (
            row["collect_gas"] / row["requests"]
        )
    assert m["target"]["pass"] is True


def test_throughput__both_sides_measured_with_ratio(results):
    for kind in ("create_job", "attest"):
        t = results["throughput"][kind]
        assert t["iterations"] == 6
        assert t["sdk_per_s"] > 0 and t["raw_per_s"] > 0
        assert t["ratio_raw_over_sdk"] == pytest.approx(t["raw_per_s"] / t["sdk_per_s"], rel=0.01)
        assert len(t["round_ratios"]) == 2


def test_readme__table_written_between_markers(results, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:start -->\nold\n<!-- bench:end -->\noutro\n")
    write_readme(readme, markdown(results))
    text = readme.read_text()
    assert "old" not in text and text.startswith("intro\n") and text.endswith("<!-- bench:end -->\noutro\n")
    assert "| createJob (approve path) |" in text and "| settleMany | 2 |" in text and "Raw / SDK" in text
    assert "| Requests per collection | Metered: collect |" in text
    assert "Cost per request on an L2 at 0.01 gwei vs Ethereum at 10 gwei" in text
