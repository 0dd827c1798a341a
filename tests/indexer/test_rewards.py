"""The RewardsDistributor in the index (SQLite and PostgreSQL): rows equal to what the history
did on chain (roots, the veto on the right row of a root posted twice, claims, funding, per
account state), the immutables in meta, verify passing and catching a wrong value, a reorg that
takes a veto, a claim and a funding back, an index built before the distributor was followed
read again, and the flywheel series from the index."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import delete, func, select, update

from computerails.indexer import decode, verify
from computerails.indexer import schema as s
from computerails.indexer.flywheel import flywheel_series
from tests.indexer.conftest import Chain, ForkPoint, build, dump
from tests.support.rewards_history import STAKE, NodeDesk


def rows(engine: Any, table: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        q = select(table).order_by(table.c.block_number, table.c.log_index)
        return [dict(r) for r in conn.execute(q).mappings()]


def test_rewards__rows_equal_the_history__verify_passes(history: Chain, db: str) -> None:
    engine = build(history, db).engine
    run, who = history.rewards, history.rewards.accounts
    oracle = run.oracle_keys[1]
    roots = rows(engine, s.rewards_roots)
    assert [(r["root"], r["total"], r["through"]) for r in roots] == [
        ("0x" + p.post.root.hex(), p.post.total, p.post.through) for p in run.posted
    ]
    assert [r["vetoed"] for r in roots] == [p.vetoed for p in run.posted] == [False, True, False]
    assert roots[1]["root"] == roots[2]["root"]  # the vetoed tree posted again: only the first is vetoed
    assert roots[1]["vetoed_by"] == Account.from_key(oracle).address
    assert roots[1]["veto_reason"] == "fees misreported for the last epoch"
    assert roots[1]["vetoed_block"] > roots[1]["block_number"]
    with engine.connect() as conn:
        times = dict(conn.execute(select(s.blocks.c.number, s.blocks.c.timestamp)).all())
        meta = dict(conn.execute(select(s.meta.c.key, s.meta.c.value)).all())
        skipped = conn.execute(
            select(func.count()).select_from(s.events).where(s.events.c.event == "ClaimSkipped")
        ).scalar()
        payouts = conn.execute(
            select(func.count()).select_from(s.payouts).where(s.payouts.c.contract == "RewardsDistributor")
        ).scalar()
        accounts = {r.account: (r.recipient, r.claimed) for r in conn.execute(select(s.rewards_accounts))}
    desk = NodeDesk(history.url, history.deployment_file, run.oracle_keys)
    delay = desk.activation_delay
    assert all(r["activates_at"] == times[r["block_number"]] + delay for r in roots)
    assert [(c["account"], c["recipient"], c["amount"], c["cumulative"]) for c in rows(engine, s.rewards_claims)] == [
        (who["alice"], who["alice"], 100 * STAKE, 100 * STAKE),
        (who["alice"], who["alice"], 200 * STAKE, 300 * STAKE),
        (who["bob"], who["dave"], 90 * STAKE, 90 * STAKE),
    ]
    assert [(f["funder"], f["amount"]) for f in rows(engine, s.rewards_funding)] == [
        (who["funder"], 3_000 * STAKE),
        (who["funder"], 2_000 * STAKE),
    ]
    assert accounts == {who["alice"]: (who["alice"], 300 * STAKE), who["bob"]: (who["dave"], 90 * STAKE)}
    assert skipped == run.skipped == 1 and payouts == 0  # reward claims are not escrow payouts
    assert int(meta["rewards:genesis"]) == desk.genesis and int(meta["rewards:epoch_length"]) == desk.epoch_length
    assert meta["rewards:token"] == history.deployment.staking_token
    report = verify(engine, history.url, history.deployment)
    assert report.ok, [str(d) for d in report.differences]


def test_verify__wrong_rewards_values__reported(history: Chain, db: str) -> None:
    engine = build(history, db).engine
    alice = history.rewards.accounts["alice"]
    with engine.begin() as conn:
        conn.execute(update(s.rewards_accounts).where(s.rewards_accounts.c.account == alice).values(claimed=1))
        first = conn.execute(select(s.rewards_funding.c.block_number).limit(1)).scalar()
        conn.execute(delete(s.rewards_funding).where(s.rewards_funding.c.block_number == first))
    found = {
        (d.what, d.key, d.field): (d.indexed, d.chain)
        for d in verify(engine, history.url, history.deployment).differences
    }
    distributor = history.rewards.distributor
    assert found[("rewards account", alice, "claimed")] == (1, 300 * STAKE)
    assert found[("rewards", distributor, "funded")] == (2_000 * STAKE, 5_000 * STAKE)
    assert found[("rewards", distributor, "held (funded - claimed)")] == (1_610 * STAKE, 4_610 * STAKE)


def test_reorg__veto_claim_and_funding_on_the_lost_fork__rolled_back(
    history: Chain, fork_point: ForkPoint, db: str, new_db: Callable[[], str]
) -> None:
    """A root posted on the common chain, vetoed on fork A (with a claim and a funding there);
    fork B never vetoes it: after the reorg the row is pending again, as a rebuild on B has it."""
    run = history.rewards
    desk = NodeDesk(history.url, history.deployment_file, run.oracle_keys)
    last, three = run.posted[-1].post.through, run.posted[-1]
    desk.to_epoch(last + 1)
    four = desk.post({"alice": 300 * STAKE, "bob": 90 * STAKE, "carol": 45 * STAKE}, last + 1, last)
    indexer = build(history, db, page=3)
    posted = ForkPoint(history)

    desk.send(desk.as_(run.oracle_keys[0]), "veto", four.post.root, "fork A")
    desk.mint(7 * STAKE)
    desk.send(desk.funder, "fund", 7 * STAKE)
    desk.send(desk.funder, "claim", *desk.claim_item(three.tree, "carol"))
    indexer.run_until(history.head())
    assert rows(indexer.engine, s.rewards_roots)[-1]["vetoed"] is True
    assert rows(indexer.engine, s.rewards_claims)[-1]["account"] == run.accounts["carol"]

    posted.back()
    history.rpc("anvil_mine", ["0x8"])
    indexer.run_until(history.head())
    assert indexer.stats.reorgs == 1
    last_root = rows(indexer.engine, s.rewards_roots)[-1]
    assert (last_root["vetoed"], last_root["vetoed_by"], last_root["vetoed_block"]) == (False, None, None)
    assert run.accounts["carol"] not in {c["account"] for c in rows(indexer.engine, s.rewards_claims)}
    assert len(rows(indexer.engine, s.rewards_funding)) == 2
    assert dump(indexer.engine) == dump(build(history, new_db()).engine)
    report = verify(indexer.engine, history.url, history.deployment)
    assert report.ok, [str(d) for d in report.differences]


def test_index_built_before_the_distributor_was_followed__read_again_from_the_deploy_block(
    history: Chain, db: str, new_db: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(decode, "CONTRACTS", tuple(c for c in decode.CONTRACTS if c != "RewardsDistributor"))
        old = build(history, db)
        assert rows(old.engine, s.rewards_roots) == [] and not old.reindexed
    upgraded = build(history, db)
    assert upgraded.reindexed
    assert dump(upgraded.engine) == dump(build(history, new_db()).engine)


def test_flywheel_series__subsidy_by_epoch__fees_by_block_time(history: Chain, db: str) -> None:
    engine = build(history, db).engine
    run = history.rewards
    with engine.connect() as conn:
        series = flywheel_series(conn)
        genesis = int(conn.execute(select(s.meta.c.value).where(s.meta.c.key == "rewards:genesis")).scalar_one())
        length = int(conn.execute(select(s.meta.c.value).where(s.meta.c.key == "rewards:epoch_length")).scalar_one())
        settled = conn.execute(select(s.jobs.c.provider_net)).scalars().all()  # set by JobSettled only
        collected = conn.execute(select(s.collections.c.provider_net)).scalars().all()
    assert [p.epoch for p in series] == list(range(len(series)))
    assert all(p.start == genesis + p.epoch * length for p in series)
    one, three = run.posted[0].post, run.posted[2].post
    expected = [0] * three.through
    for e in range(one.through):
        expected[e] += one.total // one.through + (e < one.total % one.through)
    added = three.total - one.total
    span = three.through - one.through
    for i, e in enumerate(range(one.through, three.through)):
        expected[e] += added // span + (i < added % span)
    assert [p.subsidy for p in series[: three.through]] == expected
    assert sum(p.subsidy for p in series) == run.distributed
    assert sum(sum(p.fee_revenue.values()) for p in series) == sum(settled) + sum(collected) > 0
    for p in series:
        fees = sum(p.fee_revenue.values())
        if p.subsidy + fees:
            assert p.subsidy_share == pytest.approx(p.subsidy / (p.subsidy + fees))
        else:
            assert p.subsidy_share is None
