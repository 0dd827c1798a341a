"""Reorgs on a real anvil: ``evm_snapshot``, blocks of fork A indexed, ``evm_revert`` and other
blocks (fork B) built on the same parent. The index rolls back to the common ancestor and
reapplies fork B: it then equals an index built from scratch on fork B, row for row, and agrees
with the chain's views. (``evm_revert`` deletes its snapshot: a new one is taken after each.)"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

import computerails
from computerails.devnet import dev_key
from computerails.indexer import schema as s
from computerails.indexer import verify
from tests.indexer.conftest import Chain, ForkPoint, build, dump


def register(chain: Chain, key: int, uri: str) -> str:
    """A new provider registers (mint, approve, register: three blocks under automine)."""
    rails = computerails.connect(chain.url, chain.deployment_file, account=dev_key(key))
    token = rails.deployment.staking_token
    rails.send(rails.erc20(token).functions.mint(rails.address, 5_000 * 10**18), "mint")
    rails.provider.register(uri, Decimal(2_000))
    return rails.address


def providers(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {a for (a,) in conn.execute(select(s.providers.c.address))}


@pytest.mark.parametrize("extra_b", [0, 6], ids=["fork-b-shorter", "fork-b-longer"])
def test_reorg__rolls_back_to_ancestor__equals_rebuild_on_new_fork(
    history: Chain, fork_point: ForkPoint, db: str, new_db: Callable[[], str], extra_b: int
) -> None:
    indexer = build(history, db, page=2)  # the history, then fork A
    ancestor_head = history.head()
    a = register(history, 11, "ipfs://fork-a")
    history.rpc("anvil_mine", ["0x4"])
    indexer.run_until(history.head())
    assert a in providers(indexer.engine)
    top_a = indexer.cursor()

    fork_point.back()
    b = register(history, 12, "ipfs://fork-b")
    if extra_b:
        history.rpc("anvil_mine", [hex(extra_b)])
    assert (history.head() > top_a) == bool(extra_b)

    indexer.run_until(history.head())
    assert indexer.stats.reorgs == 1
    ((rolled_from, ancestor),) = indexer.stats.rolled_back
    assert rolled_from == top_a and ancestor <= ancestor_head
    assert b in providers(indexer.engine) and a not in providers(indexer.engine)
    assert dump(indexer.engine) == dump(build(history, new_db()).engine)
    report = verify(indexer.engine, history.url, history.deployment)
    assert report.ok, [str(d) for d in report.differences]
