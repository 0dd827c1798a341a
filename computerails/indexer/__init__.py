"""The event indexer (issue 15): every event of a deployment into SQLite or PostgreSQL.

Python API (what ``computerails index`` and the dashboard use)::

    from computerails.indexer import open_index, index_until_head, verify_index

    engine = open_index("index.sqlite")            # or "postgresql://user@host:5432/db"
    stats = index_until_head("http://127.0.0.1:8545", "deployments/31337.json", "index.sqlite")
    report = verify_index("index.sqlite", "http://127.0.0.1:8545", "deployments/31337.json")

* :func:`open_index` returns a SQLAlchemy :class:`~sqlalchemy.Engine` on the index, its schema
  migrated to the newest version (the tables: :mod:`computerails.indexer.schema`; amounts are
  read back as ``int`` through the :class:`~computerails.indexer.schema.Amount` column type).
* :func:`index_until_head` indexes everything up to the head (less `confirmations`) once.
* :class:`Indexer` is the follower itself (``step``, ``run_until_head``, ``follow``, ``rollback``).
* :func:`verify_index` compares the index with the chain's views (a :class:`Report`).
"""

from __future__ import annotations

from pathlib import Path

from computerails.deployments import Deployment, load_deployment
from computerails.indexer.db import database_url, open_index
from computerails.indexer.follower import DEFAULT_PAGE, ChainMoved, Indexer, Page, Stats, rebuild_state
from computerails.indexer.rpc import IndexerError, JsonRpc, RangeTooLarge, RpcError
from computerails.indexer.verify import Difference, Report, verify

__all__ = [
    "DEFAULT_PAGE",
    "ChainMoved",
    "Difference",
    "Indexer",
    "IndexerError",
    "JsonRpc",
    "Page",
    "RangeTooLarge",
    "Report",
    "RpcError",
    "Stats",
    "database_url",
    "index_until_head",
    "open_index",
    "rebuild_state",
    "verify",
    "verify_index",
]


def _deployment(deployment: str | Path | Deployment, rpc: JsonRpc) -> Deployment:
    return load_deployment(deployment, chain_id=rpc.chain_id())


def index_until_head(
    rpc_url: str,
    deployment: str | Path | Deployment,
    db: str | Path,
    *,
    page: int = DEFAULT_PAGE,
    confirmations: int = 0,
) -> Stats:
    """Indexes `deployment`'s events from its deploy block (or where the index left off) up to
    the head less `confirmations`, into `db` (a SQLite path or a ``postgresql://`` URL).

    Raises:
        IndexerError: `db` is not a usable database, or holds another deployment's index.
        DeploymentError: the deployment cannot be loaded.
        RPCUnavailable: the node does not answer.
    """
    rpc = JsonRpc(rpc_url)
    engine = open_index(db)
    try:
        return Indexer(
            rpc, _deployment(deployment, rpc), engine, page=page, confirmations=confirmations
        ).run_until_head()
    finally:
        rpc.close()
        engine.dispose()


def verify_index(db: str | Path, rpc_url: str, deployment: str | Path | Deployment) -> Report:
    """Compares the index at `db` with the chain's views at the index's last block."""
    rpc = JsonRpc(rpc_url)
    engine = open_index(db)
    try:
        return verify(engine, rpc_url, _deployment(deployment, rpc))
    finally:
        rpc.close()
        engine.dispose()
