"""Indexing a varied history on SQLite and PostgreSQL: what lands where, agreement with the
chain's views (and verify catching a wrong value), rebuild equals incremental build at any page
sizes, and pages that shrink when the node refuses a range and grow back after."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from computerails.indexer import JsonRpc, RangeTooLarge, open_index, verify
from computerails.indexer import schema as s
from computerails.indexer.decode import Decoder
from tests.indexer.conftest import Chain, build, dump


def test_until_head__every_log_decoded_once__state_matches_chain_views(history: Chain, db: str) -> None:
    indexer = build(history, db, page=5000)
    engine = indexer.engine
    raw = JsonRpc(history.url).logs(
        Decoder(history.deployment).addresses, history.deployment.deploy_block, history.head()
    )
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.events)).scalar() == len(raw)
        kinds = {k for (k,) in conn.execute(select(s.slashes.c.kind).distinct())}
        contracts = {c for (c,) in conn.execute(select(s.events.c.contract).distinct())}
        counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar() for t in s.metadata.sorted_tables}
        statuses = {st for (st,) in conn.execute(select(s.jobs.c.status).distinct())}
        timeless = conn.execute(
            select(func.count()).select_from(s.events).where(~s.events.c.block_number.in_(select(s.blocks.c.number)))
        ).scalar()
    # every slash kind, every contract, every table the history can fill
    assert kinds == {"ProviderSlashed", "CollateralSlashed", "FraudSlashed", "UptimeReported"}
    assert contracts == {
        "AttestationHub",
        "JobEscrow",
        "MeteredEscrow",
        "ProviderStaking",
        "UptimeSlasher",
        "ProtocolTimelock",
        "RewardsDistributor",
    }
    assert {name for name, n in counts.items() if n == 0} == set()
    assert counts["jobs"] == 8 and counts["providers"] == 3
    assert {"settled", "failed"} <= statuses
    assert timeless == 0  # every event's block (and so its time) is in blocks
    report = verify(engine, history.url, history.deployment)
    assert report.ok, [str(d) for d in report.differences]
    assert report.checked > 50


def test_verify__a_wrong_indexed_value__is_reported_with_both_values(history: Chain, db: str) -> None:
    engine = build(history, db).engine
    with engine.begin() as conn:
        address, staked = conn.execute(select(s.providers.c.address, s.providers.c.staked).limit(1)).one()
        conn.execute(update(s.providers).where(s.providers.c.address == address).values(staked=staked + 1))
        conn.execute(update(s.escrow_accounts).values(balance=0))
    report = verify(engine, history.url, history.deployment)
    fields = {(d.what, d.key, d.field): (d.indexed, d.chain) for d in report.differences}
    assert fields[("provider", address, "staked")] == (staked + 1, staked)
    assert any(d.what == "escrow account" and d.field == "balance" for d in report.differences)


@pytest.fixture(scope="module")
def references() -> dict[str, Any]:
    """backend -> the dump of the history indexed in one go (what every rebuild must equal)."""
    return {}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    segments=st.lists(
        st.tuples(st.floats(0, 1), st.one_of(st.sampled_from([1, 5000]), st.integers(1, 5000))),
        min_size=1,
        max_size=3,
    )
)
@example(segments=[(1.0, 1)])
@example(segments=[(1.0, 5000)])
def test_rebuild__equals_incremental_build__row_for_row(
    history: Chain, new_db: Any, backend: str, references: dict[str, Any], segments: list[tuple[float, int]]
) -> None:
    """The index built in runs (each a new indexer, as after a restart) to random cut points with
    random page sizes equals the one built in one go."""
    head = history.head()
    start = history.deployment.deploy_block
    if backend not in references:  # the one-go build from block 0, once per backend
        reference = build(history, new_db(), page=5000, target=head, start_block=0).engine
        references[backend] = dump(reference)
        reference.dispose()
    url = new_db()
    for fraction, page in sorted(segments):
        build(history, url, page=page, target=start + round(fraction * (head - start)))
    incremental = build(history, url, page=segments[-1][1], target=head).engine
    assert dump(incremental) == references[backend]
    incremental.dispose()


class RefusingRpc(JsonRpc):
    """A node that refuses (as Infura does: -32005) any eth_getLogs spanning more than `limit` blocks."""

    def __init__(self, url: str, limit: int) -> None:
        super().__init__(url)
        self.limit = limit
        self.spans: list[tuple[int, bool]] = []  # (blocks asked, refused)

    def post(self, payload: Any) -> Any:
        if isinstance(payload, dict) and payload["method"] == "eth_getLogs":
            q = payload["params"][0]
            span = int(q["toBlock"], 16) - int(q["fromBlock"], 16) + 1
            refused = span > self.limit
            self.spans.append((span, refused))
            if refused:
                message = "query returned more than 10000 results. Try with this block range"
                return {"jsonrpc": "2.0", "id": payload["id"], "error": {"code": -32005, "message": message}}
        return super().post(payload)


def test_pages__refused_range__shrink_then_grow_back(history: Chain, db: str, new_db: Any) -> None:
    rpc = RefusingRpc(history.url, limit=12)
    indexer = build(history, db, page=5000, rpc=rpc)
    assert indexer.stats.refusals > 0
    refused = [span for span, r in rpc.spans if r]
    served = [span for span, r in rpc.spans if not r]
    whole = history.head() - history.deployment.deploy_block + 1  # the first page: everything
    assert refused[0] == whole and max(served) <= 12
    # after the first accepted page, the indexer tried larger pages again (which were refused)
    first_ok = next(i for i, (_, r) in enumerate(rpc.spans) if not r)
    assert any(r and span > rpc.spans[first_ok][0] for span, r in rpc.spans[first_ok:])
    assert dump(indexer.engine) == dump(build(history, new_db()).engine)


def test_pages__a_single_block_refused__raises_range_too_large(history: Chain, db: str) -> None:
    rpc = RefusingRpc(history.url, limit=0)
    engine = open_index(db)
    from computerails.indexer import Indexer

    indexer = Indexer(rpc, history.deployment, engine, page=8)
    try:
        indexer.run_until_head()
    except RangeTooLarge as exc:
        assert exc.code == -32005
    else:
        raise AssertionError("a node refusing even one block must stop the indexer with RangeTooLarge")
    assert indexer.cursor() == history.deployment.deploy_block - 1
