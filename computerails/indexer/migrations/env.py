"""Alembic environment of the index's migrations, run in process by
:func:`computerails.indexer.db.migrate` (no alembic.ini: the connection comes in the config's
attributes). Imported outside a migration run (a plain ``import``), it does nothing."""

from __future__ import annotations

from alembic import context

from computerails.indexer.schema import metadata

config = getattr(context, "config", None)  # set only while Alembic runs this environment
if config is not None:
    context.configure(
        connection=config.attributes["connection"], target_metadata=metadata, render_as_batch=True, compare_type=True
    )
    with context.begin_transaction():
        context.run_migrations()
