"""The dashboard's suites run against a real chain with a varied history (tests/dashboard/history.py:
an anvil on a free port, the protocol deployed, the marketplace simulation run through the SDK),
indexed by the indexer into SQLite, and the dashboard as a real process on a free 127.0.0.1 port
(stopped by its pid). All module-scoped: each module builds its chain once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import computerails
from computerails.dashboard.process import DashboardProcess
from computerails.dashboard.queries import IndexReader
from computerails.devnet import Anvil
from computerails.indexer import index_until_head
from computerails.rails import ComputeRails
from tests.dashboard.history import History, build_history

ROOT = Path(__file__).resolve().parents[2]
#: Screenshots the browser tests save (reports/ is gitignored).
SHOTS = ROOT / "reports" / "dashboard"


@pytest.fixture(scope="module")
def node() -> Iterator[Anvil]:
    started = Anvil().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def history(node: Anvil, tmp_path_factory: pytest.TempPathFactory) -> History:
    return build_history(node, tmp_path_factory.mktemp("deployment"))


@pytest.fixture(scope="module")
def index_db(history: History, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The history indexed up to the head into a SQLite file."""
    db = tmp_path_factory.mktemp("index") / "index.db"
    index_until_head(history.url, history.deployment, db)
    return db


@pytest.fixture(scope="module")
def dashboard(index_db: Path, history: History, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardProcess]:
    with DashboardProcess(index_db, history.url, tmp_path_factory.mktemp("dashboard") / "dashboard.log") as process:
        yield process


@pytest.fixture(scope="module")
def reader(index_db: Path, history: History) -> IndexReader:
    return IndexReader.open(index_db, history.url)


@pytest.fixture(scope="module")
def onchain(history: History) -> ComputeRails:
    """A read-only connection to the indexed chain: what the numbers shown must equal."""
    return computerails.connect(history.url, deployment=history.deployment)
