"""bench/rewards.py on a small tree: every row measured from a real receipt, within the issue's
budget and above its floor (gas is deterministic: the budgets hold at 100,000 leaves too, where
proofs are longer: tests/contracts/rewards/test_rewards_gas.py)."""

from __future__ import annotations

from bench import rewards


def test_measure__small_tree__every_row_within_budget_and_above_its_floor():
    result = rewards.measure(leaves=300)

    names = [row["name"] for row in result["rows"]]
    assert names == [
        "postRoot, k = 3, steady",
        "claim, an account's first",
        "claim, repeat",
        "claimMany @ 50, per claim",
    ]
    for row in result["rows"]:
        assert row["floor"] < row["gas"] <= row["budget"], row
    assert result["proof_hashes"] in (8, 9)
    assert "| claim, repeat |" in rewards.markdown(result)
