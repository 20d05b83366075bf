"""Alembic's environment: the revisions run on the connection ``monitor.store.migrations.config`` was
given, inside its transaction, so the caller commits the whole upgrade or none of it."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import TypeDecorator

from monitor.store.migrations import metadata
from monitor.store.revision import VERSION_TABLE


def render_item(kind: str, item: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """How autogenerate writes a type of ours (UTCDateTime): as the type it stores, so that a revision
    keeps the DDL of its time whatever becomes of the class."""
    if kind == "type" and isinstance(item, TypeDecorator):
        return f"sa.{item.impl!r}"
    return False


connection = context.config.attributes["connection"]
# render_as_batch: autogenerate writes ALTERs as batch operations, which SQLite runs by copying the table.
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                  render_as_batch=True, render_item=render_item)
with context.begin_transaction():
    context.run_migrations()
