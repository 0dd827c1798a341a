"""Opening an index: a SQLite path or a ``postgresql://`` URL, migrated to the current schema by
Alembic (run in process, configured in code: no alembic.ini)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from computerails.indexer.rpc import IndexerError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def database_url(db: str | Path) -> str:
    """A SQLAlchemy URL for `db`: a file path (SQLite), ``sqlite:///...``, or
    ``postgresql://...`` (driven by psycopg 3).

    Raises:
        IndexerError: `db` is a URL of another database, or not a URL at all.
    """
    text = str(db)
    if "://" not in text:
        path = Path(text).expanduser()
        if path.is_dir():
            raise IndexerError(f"--db {text} is a directory: give a file path or a postgresql:// URL")
        return f"sqlite:///{path}"
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise IndexerError(f"--db {text!r} is not a database URL: {exc}") from None
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if url.drivername == "sqlite":
        return text
    raise IndexerError(f"--db {text!r}: the index lives in SQLite (a file path) or PostgreSQL (postgresql://...)")


def _sqlite_pragmas(dbapi_connection: Any, record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # the dashboard reads while the indexer writes
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def engine_for(db: str | Path) -> Engine:
    """An engine for `db` (see :func:`database_url`), without migrating it."""
    url = database_url(db)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(connection: Any) -> Config:
    from alembic.config import Config  # Alembic loads when an index is opened, not with the package

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine) -> None:
    """Brings the database to the newest schema (``alembic upgrade head``)."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")


def open_index(db: str | Path, *, migrate_schema: bool = True) -> Engine:
    """The index at `db` (a SQLite path or a ``postgresql://`` URL) as a SQLAlchemy engine,
    its schema brought up to date (tables: :mod:`computerails.indexer.schema`).

    Raises:
        IndexerError: `db` is not a SQLite path or PostgreSQL URL, or cannot be opened (no
            server there, not a SQLite file).
    """
    engine = engine_for(db)
    try:
        if migrate_schema:
            migrate(engine)
        else:
            engine.connect().close()
    except DBAPIError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise IndexerError(f"cannot open the index at {db}: {reason}") from None
    return engine
