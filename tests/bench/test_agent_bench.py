"""The provider agent section of the benchmark (issue 13) at a tiny size on a real anvil and two
real agent processes: every figure is in the results and the README rows are written. Behaviour
only: no timing is asserted."""

from __future__ import annotations

import pytest

from bench import agent
from bench.run import Chain, markdown, write_readme


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    chain = Chain(tmp_path_factory.mktemp("bench-agent-deployment"))
    try:
        yield agent.measure(
            chain, requests=4, rounds=2, concurrency=(1, 3), end_to_end=3, profile=True, profile_requests=3
        )
    finally:
        chain.stop()


def test_measure__tiny_run__paid_and_free_at_each_concurrency(result):
    assert [level["concurrency"] for level in result["levels"]] == [1, 3]
    for level in result["levels"]:
        assert level["paid_per_s"] > 0 and level["free_per_s"] > 0
        assert level["ratio_free_over_paid"] == pytest.approx(level["free_per_s"] / level["paid_per_s"], rel=0.01)
        assert len(level["round_ratios"]) == 2
        assert level["pass"] is (level["ratio_free_over_paid"] <= agent.TARGET_RATIO)
        assert set(level["load_generator_cpu"]) == {"paid", "free"}
        own = level["agent_cpu_ms_per_request"]
        assert set(own) == {"paid", "free"} and min(own.values()) >= 0
        assert level["payment_cpu_ms_per_request"] == pytest.approx(own["paid"] - own["free"], abs=0.002)
        floor = result["signature_floor"]
        if own["free"]:
            assert level["cpu_ratio_paid_over_free"] == pytest.approx(own["paid"] / own["free"], rel=0.01)
            least = 1 + (floor["recover_us"] + floor["sign_us"]) / 1_000 / own["free"]
            assert level["floor_cpu_ratio"] == pytest.approx(least, rel=0.01)
        else:
            assert level["cpu_ratio_paid_over_free"] is None and level["floor_cpu_ratio"] is None
    assert result["pass"] is all(level["pass"] for level in result["levels"])
    assert result["worst_ratio"] == max(level["ratio_free_over_paid"] for level in result["levels"])


def test_measure__tiny_run__latency_end_to_end_and_profile(result):
    lat = result["latency_c1"]
    assert lat["paid"]["n"] == lat["free"]["n"] == 2 * 4  # two rounds of four requests at concurrency 1
    for q in ("p50_ms", "p99_ms"):
        assert lat["added_ms"][q] == pytest.approx(lat["paid"][q] - lat["free"][q], abs=0.002)
    assert result["end_to_end"]["requests"] == 3 and result["end_to_end"]["per_s"] > 0
    assert set(result["profile"]["ms_per_request"]) == {"decode", "paid", "infer"}
    assert any("admit_and_serve" in line for line in result["profile"]["cprofile_top"])
    assert (
        result["sqlite_commit"]["n"] == 100 and result["sqlite_commit"]["p99_ms"] >= result["sqlite_commit"]["p50_ms"]
    )
    assert result["sqlite_commit"]["cpu_p50_ms"] >= 0
    floor = result["signature_floor"]
    assert floor["n"] == 1_000 and floor["recover_us"] > 0 and floor["sign_us"] > 0
    assert result["exit_codes"] == {"paid": 0, "free": 0}  # both agents stopped gracefully by their pids


def test_markdown__agent_section_in_the_readme_block(result, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:start -->\nold\n<!-- bench:end -->\n")
    write_readme(readme, markdown({"operations": [], "batches": [], "agent": result}))
    text = readme.read_text()
    assert "Provider agent: paid inference" in text
    assert "| Concurrent payers | Paid requests/s | Free requests/s | Free / paid |" in text
    assert "Agent CPU per request, paid / free (ms) | Least CPU ratio payment allows" in text
    assert "recovering the voucher's signer" in text
    assert "| 1 | " in text and "| 3 | " in text
    assert "| added by payment |" in text
    assert "End to end through the paying client" in text and "durable SQLite commit" in text
    assert ("**PASS**" in text) is result["pass"]
