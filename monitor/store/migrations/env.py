"""Alembic's environment: the revisions run on the connection ``monitor.store.migrations.config`` was
given, inside its transaction, so the caller commits the whole upgrade or none of it."""

from __future__ import annotations

from alembic import context

from monitor.store.migrations import metadata, render_item
from monitor.store.revision import VERSION_TABLE

connection = context.config.attributes["connection"]
# render_as_batch: autogenerate writes ALTERs as batch operations, which SQLite runs by copying the table.
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                  render_as_batch=True, render_item=render_item)
with context.begin_transaction():
    context.run_migrations()
