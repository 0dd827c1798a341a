"""Alembic environment of the index's migrations, run in process by
:func:`computerails.indexer.db.migrate` (no alembic.ini: the connection comes in the config's
attributes)."""

from __future__ import annotations

from alembic import context

from computerails.indexer.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
