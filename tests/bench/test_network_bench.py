"""The oracle network section of the benchmark (issue 14) at a tiny size on a real anvil, a real
provider agent and three real oracle nodes: every figure is in the results, every process exits
cleanly and the README rows are written. Behaviour only: no timing is asserted."""

from __future__ import annotations

import pytest

from bench import network
from bench.run import Chain, markdown, write_readme

JOBS = 3


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    chain = Chain(tmp_path_factory.mktemp("bench-network-deployment"))
    try:
        yield network.measure(chain, jobs=JOBS, probes=10)
    finally:
        chain.stop()


def test_percentile_ms__quantiles_in_milliseconds():
    assert network.percentile_ms([0.5], 99) == 500.0
    assert network.percentile_ms([0.001 * i for i in range(1, 102)], 50) == pytest.approx(51.0)
    with pytest.raises(ValueError):
        network.percentile_ms([], 50)


def test_batches__consecutive_slices():
    assert network.batches(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    assert network.batches([], 20) == []


def test_probe_load__probes_times_nodes_per_epoch():
    load = network.probe_load(12, 3, 3_600, cpu_ms=2.0)
    assert load["probes_per_epoch"] == 36
    assert load["probes_per_second"] == pytest.approx(0.01)
    assert load["agent_cpu_ms_per_epoch"] == 72.0
    assert load["agent_cpu_share"] == pytest.approx(72.0 / 1_000 / 3_600)


def test_measure__tiny_run__network_and_direct_attest_every_job(result):
    net, direct = result["network"], result["direct"]
    assert net["jobs"] == JOBS and net["per_s"] > 0 and net["end_to_end_per_s"] > 0
    assert sum(net["batch_sizes"]) == JOBS and net["transactions"] == len(net["batch_sizes"])
    assert max(net["batch_sizes"]) <= result["max_batch"]
    assert (result["nodes"], result["threshold"]) == (3, 2)  # the devnet's oracles, threshold 2 of 3
    # Each node signs each job at most once, and every job reached a quorum.
    signed = [node["signed"] for node in net["nodes"]]
    assert all(s <= JOBS for s in signed) and sum(signed) >= result["threshold"] * JOBS
    assert sum(node["transactions"] for node in net["nodes"]) == net["node_transactions"] >= net["transactions"]
    assert net["skipped"] >= 0 and net["gas_per_attestation"] > 0 and direct["gas_per_attestation"] > 0
    assert net["latency"]["n"] == JOBS and net["latency"]["max_ms"] >= net["latency"]["p99_ms"]
    assert [d["jobs"] for d in direct["rounds"]] == [JOBS, JOBS] and direct["per_s"] > 0
    assert result["ratio_direct_over_network"] == pytest.approx(direct["per_s"] / net["per_s"], rel=0.01)
    assert result["exit_codes"] == {"oracle-0": 0, "oracle-1": 0, "oracle-2": 0, "agent": 0}


def test_measure__tiny_run__probe_load(result):
    probes = result["probes"]
    assert probes["probes"] == 10 and probes["per_s"] > 0 and probes["p99_ms"] >= probes["p50_ms"]
    assert probes["probes_per_epoch"] == probes["probes_per_epoch_per_node"] * probes["nodes"]


def test_markdown__network_section_in_the_readme_block(result, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:start -->\nold\n<!-- bench:end -->\n")
    write_readme(readme, markdown({"operations": [], "batches": [], "network": result}))
    text = readme.read_text()
    assert "Oracle network (issue 14)" in text
    assert "| Path | Attestations | Attestations/s | Direct / path |" in text
    assert "| job result published → its attestation on chain |" in text
    assert "| Health probes per provider |" in text and "per node × 3 nodes" in text
