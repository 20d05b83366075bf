"""Draft the next schema revision from the models: ``python -m monitor.store.migrations "what changed"``.

Builds a scratch SQLite database at the current head by running every revision, compares it with the
models (Alembic's autogenerate) and writes ``versions/NNNN_what_changed.py`` with the differences as batch
operations, numbered after the head. Read it before use: autogenerate takes a renamed column for a drop and
an add, and sees no change of a CHECK constraint. Then set SCHEMA_REVISION (monitor/store/revision.py) to
its number and update TABLE_COLUMNS there; tests/test_migrate.py runs it on SQLite and PostgreSQL and
compares the result with the models.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from monitor.store.migrations import config, head, upgrade


def draft(message: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{Path(folder) / 'scratch.db'}")
        try:
            with engine.begin() as conn:
                upgrade(conn)
                command.revision(config(conn), message=message, autogenerate=True, rev_id=f"{int(head()) + 1:04d}")
        finally:
            engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit('usage: python -m monitor.store.migrations "what changed"')
    draft(sys.argv[1])
