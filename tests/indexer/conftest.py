"""The indexer suites' fixtures: a chain with a varied history (the marketplace simulation at
small size: jobs settled, refunded, disputed; uptime slashes; metered collections and fraud
punished; timelock operations; then rewards: funding, roots posted by the oracle quorum, one
vetoed, claims), one per module; a real PostgreSQL per worker; and a fresh
database on either backend per test (``db`` is parametrized: every test that takes it runs on
SQLite and on PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from computerails.deployments import Deployment
from computerails.devnet import dev_key
from computerails.indexer import Indexer, JsonRpc, open_index
from computerails.indexer import schema as s
from computerails.sim.marketplace import Config, Marketplace
from tests.support.anvil import Anvil
from tests.support.postgres import Postgres
from tests.support.rewards_history import RewardsRun, run_rewards

#: The history every module indexes: small, but every kind of event the protocol emits in use.
HISTORY = Config(providers=3, clients=3, jobs=8, metered_payers=1, metered_requests=30, senders=2)


@dataclass
class Chain:
    node: Anvil
    deployment_file: Path
    deployment: Deployment
    rewards: RewardsRun

    @property
    def url(self) -> str:
        return self.node.url

    def rpc(self, method: str, params: list[Any]) -> Any:
        rpc = JsonRpc(self.url)
        try:
            return rpc.call(method, params)
        finally:
            rpc.close()

    def head(self) -> int:
        return int(self.rpc("eth_blockNumber", []), 16)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """An anvil with the protocol deployed and the marketplace's history on it (one per module)."""
    node = Anvil().start()
    try:
        deployment_file = node.deploy(tmp_path_factory.mktemp("deployments"))
        market = Marketplace(node.url, deployment_file, HISTORY, dev_key(0))
        report = market.run()
        assert report.passed, "the marketplace's own books do not balance"
        rewards = run_rewards(node.url, deployment_file, [o.key for o in market.oracles])
        yield Chain(node, deployment_file, Deployment.from_file(deployment_file), rewards)
    finally:
        node.stop()


class ForkPoint:
    """The history's head as a snapshot: :meth:`back` reverts to it (and snapshots it again,
    ``evm_revert`` having deleted the snapshot)."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.snapshot = str(chain.rpc("evm_snapshot", []))

    def back(self) -> None:
        assert self.chain.rpc("evm_revert", [self.snapshot]) is True
        self.snapshot = str(self.chain.rpc("evm_snapshot", []))


@pytest.fixture
def fork_point(history: Chain) -> Iterator[ForkPoint]:
    """A snapshot of the history's head; the chain goes back to it after the test."""
    point = ForkPoint(history)
    yield point
    point.back()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL server (initdb + pg_ctl in a temporary directory), one per worker."""
    with Postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def new_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """``new_db()``: the URL of a new empty database on the test's backend."""

    def make() -> str:
        if backend == "sqlite":
            return str(tmp_path / f"index-{uuid.uuid4().hex[:8]}.sqlite")
        server: Postgres = request.getfixturevalue("postgres")
        return server.create_database(f"index_{uuid.uuid4().hex[:12]}")

    return make


@pytest.fixture
def db(new_db: Any) -> str:
    """A new empty database on the test's backend (SQLite path or PostgreSQL URL)."""
    url: str = new_db()
    return url


def build(
    chain: Chain,
    url: str,
    *,
    page: int = 5000,
    target: int | None = None,
    rpc: JsonRpc | None = None,
    start_block: int | None = None,
) -> Indexer:
    """Indexes `chain` into `url` up to `target` (default: the head) with pages of `page` blocks."""
    engine = open_index(url)
    indexer = Indexer(rpc or JsonRpc(chain.url), chain.deployment, engine, page=page, start_block=start_block)
    indexer.run_until(chain.head() if target is None else target)
    return indexer


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: what "equal row for row" compares."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in s.metadata.sorted_tables:
            rows = conn.execute(select(table)).all()
            out[table.name] = sorted(tuple(repr(v) for v in r) for r in rows)
    return out
