"""The store's schema migrations (Alembic): ``versions/`` holds one revision per change of the tables,
numbered 0001, 0002, ...; ``monitor.store.revision.SCHEMA_REVISION`` names the newest.

Importing this package imports Alembic and every module that defines tables, so only a migration does it:
opening a store at the current revision reads the revision with plain SQL (monitor/store/engine.py).
Alembic is configured here in code (no alembic.ini) and always runs on a connection it is handed, inside
that connection's transaction.

``python -m monitor.store.migrations "what changed"`` drafts the next revision from the models (see
docs/DESIGN.md, "Schema migrations").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import TypeDecorator
from sqlalchemy.engine import Connection

# Every module that defines tables on the store's MetaData adds them when imported: a migration, and the
# comparison of the models with a database, must see them all.
import monitor.notify  # noqa: F401
import monitor.store.outbox  # noqa: F401
import monitor.store.scheduling  # noqa: F401
import monitor.stories.tables  # noqa: F401
from monitor.store.schema import UTCDateTime, metadata

__all__ = ["config", "head", "metadata", "render_item", "upgrade"]


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration: this folder's scripts, run on ``connection`` (env.py reads it)."""
    alembic_config = Config()
    alembic_config.set_main_option("script_location", str(Path(__file__).parent))
    alembic_config.attributes["connection"] = connection
    return alembic_config


def head() -> str:
    """The newest revision of the scripts."""
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None, "monitor/store/migrations/versions holds no revision"
    return revision


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Run the revisions after the database's (its version table's row; none: an empty database) up to
    ``revision``, in the connection's transaction."""
    command.upgrade(config(connection), revision)


def render_item(kind: str, item: Any, autogen_context: Any) -> str | Literal[False]:
    """How autogenerate (env.py) writes a type of ours: as the type it stores on each dialect, so that a
    revision keeps the DDL of its time whatever becomes of the class."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return 'sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")'
    if kind == "type" and isinstance(item, TypeDecorator):
        return f"sa.{item.impl!r}"
    return False
