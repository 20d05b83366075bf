"""``newsmon migrate``: bring the store's schema to this newsmon's revision, or (``--check``) only say where
it is. It registers on the same ``app`` as the commands in ``cli.py``, which imports this module at its end.

Opening a store upgrades an older schema anyway; the command is for doing it at a chosen moment: before
upgraded workers start on a shared PostgreSQL, or to see whether a deployment still has to.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .cli import DEFAULT_CONFIG, ConfigOption, app, fail, out, read_config
from .console import styled
from .errors import MonitorError


@app.command()
def migrate(
    config_path: ConfigOption = DEFAULT_CONFIG,
    check: Annotated[bool, typer.Option("--check", help="Only print the database's revision and this newsmon's; "
                                        "exit 1 if the database is behind. Changes nothing.")] = False,
) -> None:
    """Create the store's database, or upgrade its schema to this newsmon's revision.

    Example: newsmon migrate -c config.yaml --check
    """
    # Imported here, not with the CLI: the store (SQLAlchemy) would slow the start of every command.
    from .store.engine import migrate, schema_state
    from .store.revision import SCHEMA_REVISION

    config = read_config(config_path, required=False)
    try:
        state = schema_state(config.storage_url()) if check else migrate(config.storage_url())
    except MonitorError as exc:
        fail(str(exc))
    if check:
        found = "no newsmon database yet" if state.revision is None else f"at {state.revision}"
        out.print(styled(f"{state.where}: {found}, this newsmon's revision is {SCHEMA_REVISION}"))
        if state.revision != SCHEMA_REVISION:
            raise typer.Exit(1)
    elif state.revision is None:
        out.print(styled(f"{state.where}: created at {SCHEMA_REVISION}"))
    elif state.revision != SCHEMA_REVISION:
        out.print(styled(f"{state.where}: upgraded {state.revision} -> {SCHEMA_REVISION}"))
    else:
        # A database of newsmon before Alembic had its schema; only the version table was written.
        recorded = "" if state.stamped else " (revision recorded)"
        out.print(styled(f"{state.where}: already at {SCHEMA_REVISION}{recorded}"))
