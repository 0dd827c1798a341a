"""The event indexer (issue 15): every event of a deployment into SQLite or PostgreSQL.

The schema is in :mod:`computerails.indexer.schema`."""
