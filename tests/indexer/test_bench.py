"""bench/indexer.py at a tiny size: both databases index the same history (every event, checked
by verify inside the bench), and the README block gets both rows. No timing is asserted."""

from __future__ import annotations

from bench import indexer


def test_measure__tiny_history__both_databases_same_events__markdown_rows() -> None:
    result = indexer.measure(jobs=10, rounds=1)
    lite, pg = result["sqlite"], result["postgres"]
    assert lite["events"] == pg["events"] > 100
    assert lite["blocks"] == pg["blocks"]
    assert lite["per_s"] > 0 and pg["per_s"] > 0
    table = indexer.markdown(result)
    assert "| SQLite (file, WAL) |" in table and f"| PostgreSQL {result['postgres_version']} " in table
    assert f"{lite['events']:,}" in table
