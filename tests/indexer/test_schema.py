"""The schema: Alembic's migrations build exactly the tables of schema.py on both backends, amounts
are exact uint256 text, and a database argument that is neither SQLite nor PostgreSQL fails with a
typed error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.exc import StatementError

from computerails.indexer import IndexerError, database_url, open_index
from computerails.indexer import schema as s
from computerails.indexer.db import alembic_config, engine_for

REWARDS_TABLES = {"rewards_roots", "rewards_claims", "rewards_funding", "rewards_accounts"}


def test_migrations__build_exactly_the_schema(db: str) -> None:
    engine = open_index(db)
    open_index(db).dispose()  # a second start migrates nothing and breaks nothing
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), s.metadata) == []
        tables = set(inspect(conn).get_table_names())
    assert {t.name for t in s.metadata.sorted_tables} | {"alembic_version"} == tables
    engine.dispose()


@pytest.mark.parametrize("value", [0, 1, 10**18, 2**255 + 7, 2**256 - 1])
def test_amount__round_trips_exactly_and_sorts(db: str, value: int) -> None:
    engine = open_index(db)
    row = {"account": "0x" + "11" * 20, "token": "0x" + "22" * 20, "updated_block": 1}
    with engine.begin() as conn:
        conn.execute(
            s.balances.insert(), [{**row, "source": "a", "amount": value}, {**row, "source": "b", "amount": 9}]
        )
        stored = conn.execute(select(s.balances.c.amount).order_by(s.balances.c.amount.desc())).scalars().all()
    assert stored == sorted([value, 9], reverse=True)
    engine.dispose()


@pytest.mark.parametrize("value", [-1, 2**256])
def test_amount__outside_uint256__refused(tmp_path: Path, value: int) -> None:
    engine = open_index(tmp_path / "i.sqlite")
    with pytest.raises(StatementError, match="is not a uint256"), engine.begin() as conn:
        conn.execute(s.balances.insert().values(account="a", token="t", source="s", amount=value, updated_block=1))


def test_database_url__paths_and_urls() -> None:
    assert database_url("index.sqlite") == "sqlite:///index.sqlite"
    assert database_url("postgresql://u@h:5/d") == "postgresql+psycopg://u@h:5/d"
    for bad, words in (
        ("mysql://u@h/d", "SQLite (a file path) or PostgreSQL"),
        ("postgresql://:x", "not a database URL"),
    ):
        with pytest.raises(IndexerError, match=re.escape(words)):
            database_url(bad)


def test_migration__0001_index__upgrades_to_0002_keeping_its_rows(db: str) -> None:
    """An index at revision 0001 (before the rewards tables) opened by this version: the rewards
    tables are added, its rows stay, and the schema is exactly schema.py's; down again drops them."""
    engine = engine_for(db)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        assert REWARDS_TABLES.isdisjoint(inspect(conn).get_table_names())
        conn.execute(s.meta.insert(), [{"key": "cursor", "value": "41"}, {"key": "deployment", "value": "{}"}])
        conn.execute(
            s.balances.insert().values(
                account="0x" + "11" * 20, token="0x" + "22" * 20, source="escrow", amount=7, updated_block=3
            )
        )
    engine.dispose()

    engine = open_index(db)
    with engine.connect() as conn:
        assert REWARDS_TABLES <= set(inspect(conn).get_table_names())
        assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), s.metadata) == []
        assert dict(conn.execute(select(s.meta.c.key, s.meta.c.value)).all()) == {"cursor": "41", "deployment": "{}"}
        assert conn.execute(select(s.balances.c.amount)).scalars().all() == [7]
        assert MigrationContext.configure(conn).get_current_revision() == "0002"
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")
        assert REWARDS_TABLES.isdisjoint(inspect(conn).get_table_names())
        assert conn.execute(select(s.balances.c.amount)).scalars().all() == [7]
    engine.dispose()
