"""Opening a database: URL checks, SQLite connection settings, and creating, verifying or upgrading the schema.

Every way a database can be wrong (not a database, an empty or truncated file, someone else's database,
a newer newsmon's, no server, a full disk) becomes a ``StoreError`` naming the path or URL and the
reason, never a driver traceback. An existing SQLite file is checked before it is opened for writing,
so a file that is refused is left as it was; a new one is created whole or not at all.

The schema is versioned by Alembic revisions (monitor/store/migrations/). Opening a database at the
current revision (``SCHEMA_REVISION``) reads its version table with plain SQL and never imports Alembic,
which would cost every ``newsmon check`` its start-up time; a new database is created from the models and
stamped; only a database of an older revision imports Alembic, to upgrade it.
"""

from __future__ import annotations

import os
import re
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    delete,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import URL, Connection, Engine, Inspector, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from monitor.errors import StoreError
from monitor.store.revision import LEGACY_REVISIONS, SCHEMA_REVISION, SCHEMA_VERSION, VERSION_TABLE
from monitor.store.schema import insert_ignore, meta, metadata
from monitor.store.sqlite_file import check_sqlite_file, configure_connection, full_disk_note

# Any constant: serialises schema creation and upgrades by several PostgreSQL workers.
_PG_SCHEMA_LOCK = 0x6E65_7773  # "news"

# Alembic's version table, as Alembic creates it: written here so that stamping needs no Alembic. Not on
# the models' MetaData: it is Alembic's, and the comparison of the models with a database leaves it out.
_revision_table = Table(
    VERSION_TABLE, MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
)


@dataclass(frozen=True)
class SchemaState:
    """Where a database is (its SQLite path, or its URL with the password hidden) and its revision."""

    where: str
    revision: str | None      # None: no newsmon database there yet
    stamped: bool = True      # False: its version table does not say ``revision`` yet (newsmon before Alembic)


def describe(url: URL) -> str:
    """The URL as it may appear in an error message: the password hidden."""
    return url.render_as_string(hide_password=True)


def open_engine(url: str) -> Engine:
    """An engine on a database with the newsmon schema, created if the database is new and upgraded if it
    is of an older revision."""
    return _open(url)[0]


def migrate(url: str) -> SchemaState:
    """Create the database at ``url`` or bring it to ``SCHEMA_REVISION``, as opening it does; returns its
    state before (``revision`` None: it was created)."""
    engine, before = _open(url)
    engine.dispose()
    return before


def schema_state(url: str) -> SchemaState:
    """The revision of the database at ``url``, read without writing anything (nor creating the database)."""
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        where = _sqlite_path(parsed)
        path = Path(where)
        if where == ":memory:" or not path.exists():
            return SchemaState(where, None)
        check_sqlite_file(path)
        return _verify_read_only(path)
    where = describe(parsed)
    engine = _postgresql_engine(parsed)
    try:
        with engine.connect() as conn:
            return _verify_schema(conn, where)
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise StoreError(f"{where}: cannot read the store: {reason}") from exc
    finally:
        engine.dispose()


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"{url}: not a database URL ({exc})") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(f"{describe(parsed)}: unsupported database; use sqlite:///PATH or "
                         "postgresql+psycopg://USER@HOST/DB")
    return parsed


def _open(url: str) -> tuple[Engine, SchemaState]:
    """The engine, and the database's state before it was opened."""
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        (engine, created), where = _sqlite_engine(parsed), _sqlite_path(parsed)
    else:
        engine, created, where = _postgresql_engine(parsed), False, describe(parsed)
    try:
        before = _prepare(engine, where)
    except StoreError:
        engine.dispose()
        raise
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = getattr(exc, "orig", None) or exc
        raise StoreError(f"{where}: cannot open the store: {reason}{full_disk_note(where)}") from exc
    return engine, SchemaState(where, None) if created else before


def _prepare(engine: Engine, where: str) -> SchemaState:
    """Verify (and create, stamp or upgrade) the schema. Usually only reads; when a table must be added or
    the schema upgraded while another process writes (the daemon), a SQLite read transaction cannot take
    the write lock (it fails at once, "database is locked"), so it is done again holding the write lock
    from BEGIN, which waits for the other writer (busy_timeout).

    SQLite's foreign keys are off meanwhile (a switch that works only outside a transaction): a batch
    migration copies a table, drops it and renames the copy, which SQLite refuses while rows of other tables
    point at it, even with the checks deferred. ``_upgrade`` checks every reference before the commit.
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            conn.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")  # type: ignore[union-attr]
        try:
            try:
                with conn.begin():
                    return _prepare_schema(conn, where)
            except OperationalError as exc:
                if not sqlite or "locked" not in str(exc):
                    raise
                conn.execution_options(sqlite_begin="IMMEDIATE")
                with conn.begin():
                    return _prepare_schema(conn, where)
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys = ON")  # type: ignore[union-attr]


def _sqlite_path(url: URL) -> str:
    return url.database or ":memory:"


def _sqlite_engine(url: URL) -> tuple[Engine, bool]:
    """The engine, and whether it made the database file."""
    database = url.database
    kwargs: dict[str, Any] = {}
    created = False
    if database and database != ":memory:":
        path = Path(database)
        check_sqlite_file(path)
        if path.exists():
            _verify_read_only(path)
        else:
            _create_sqlite_file(path)
            created = True
    else:
        # One shared connection, otherwise every pooled connection would see its own empty database.
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn: Any, _record: Any) -> None:
        configure_connection(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Writers ask for IMMEDIATE: the write lock is taken at BEGIN (waiting up to busy_timeout)
        # instead of at the first INSERT, where a lock upgrade fails at once with "database is locked".
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine, created


def _verify_read_only(path: Path) -> SchemaState:
    """Check an existing file's tables through a read-only connection, so that a file we refuse is never
    written to (opening it for writing would switch it to WAL mode before any check could run)."""
    uri = path.resolve().as_uri() + "?mode=ro"
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=StaticPool)
    try:
        with engine.connect() as conn:
            return _verify_schema(conn, str(path))
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        # Only these two codes say the file itself is wrong; others (a full disk that leaves no room for
        # the -shm file, permissions, a lock) are about opening it.
        if getattr(reason, "sqlite_errorcode", 0) & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            raise StoreError(f"{path}: the database file is damaged or not a newsmon database ({reason}); "
                             "newsmon leaves it as it is: restore it from a backup, or point storage at a "
                             "new file or folder") from exc
        raise StoreError(f"{path}: cannot open the store: {reason}{full_disk_note(str(path))}") from exc
    finally:
        engine.dispose()


def _create_sqlite_file(path: Path) -> None:
    """Create a new database complete with its schema under a temporary name, then link it into place.

    A process killed while creating leaves a stray temporary file, never an empty or half-made
    ``newsmon.db`` (which the next start would refuse). If another process created the database
    meanwhile, theirs is kept and ours dropped.
    """
    temporary = path.with_name(f"{path.name}.new-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        temporary.unlink(missing_ok=True)
        engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(temporary), poolclass=StaticPool)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")  # persistent: stored in the file header
                _prepare_schema(conn, str(path))
                conn.commit()
        finally:
            engine.dispose()  # the last connection's close checkpoints and removes the -wal file
        try:
            os.link(temporary, path)  # unlike rename, never replaces a database another process created
        except FileExistsError:
            pass
        except OSError:
            # No hard links on this file system (FAT, some network shares): rename, which could only
            # replace a database another process created in this very instant, still empty of checks.
            if not path.exists():
                os.replace(temporary, path)
    except (OSError, SQLAlchemyError) as exc:
        reason = getattr(exc, "orig", None) or getattr(exc, "strerror", None) or exc
        raise StoreError(f"{path}: cannot create the store: {reason}{full_disk_note(str(path))}") from exc
    finally:
        for leftover in (temporary, Path(f"{temporary}-wal"), Path(f"{temporary}-shm")):
            leftover.unlink(missing_ok=True)


def _postgresql_engine(url: URL) -> Engine:
    # pre_ping: a long-running monitor outlives server restarts and idle-connection timeouts.
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def _prepare_schema(conn: Connection, where: str) -> SchemaState:
    """Create the tables in a new database; verify them in one we wrote before, upgrading or stamping it if
    it is of an older revision; refuse anything else. Returns the state the database was in.

    Runs in one transaction (DDL is transactional on both dialects), so a crash or an error leaves no half
    schema, and an older database as it was, still readable by the newsmon that wrote it.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SCHEMA_LOCK})
    found = _verify_schema(conn, where)
    if found.revision is None:
        metadata.create_all(conn, checkfirst=True)
        insert_ignore(conn, meta, [{"key": "schema_version", "value": str(SCHEMA_VERSION)}], key="key")
        _stamp(conn, SCHEMA_REVISION)
        return found
    if found.revision != SCHEMA_REVISION:
        _upgrade(conn, found.revision, where)
    elif not found.stamped:
        _stamp(conn, SCHEMA_REVISION)
    # Tables of modules imported since the database was made (scheduling, stories, ...) are added here.
    metadata.create_all(conn, checkfirst=True)
    return found


def _upgrade(conn: Connection, revision: str, where: str) -> None:
    """Run the revisions after ``revision`` in the caller's transaction, then check the result as any
    database at the current revision is checked."""
    from monitor.store import migrations  # Alembic: imported only when a database needs upgrading

    _stamp(conn, revision)   # a database written before Alembic has no version table yet
    try:
        migrations.upgrade(conn)
    except ValueError as exc:   # a value a revision cannot convert, which it names
        raise StoreError(f"{where}: cannot upgrade from revision {revision} to {SCHEMA_REVISION}: {exc}; the "
                         "database is left as it was") from exc
    if conn.dialect.name == "sqlite" and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
        raise StoreError(f"{where}: upgrading from revision {revision} to {SCHEMA_REVISION} would leave rows "
                         "pointing at missing ones; the database is left as it was")
    _check_columns(inspect(conn), where)


def _stamp(conn: Connection, revision: str) -> None:
    """Record the database's revision as Alembic does: one row in its version table."""
    _revision_table.create(conn, checkfirst=True)
    conn.execute(delete(_revision_table))
    conn.execute(insert(_revision_table).values(version_num=revision))


def _verify_schema(conn: Connection, where: str) -> SchemaState:
    """Refuse a database that is not newsmon's (or a newer newsmon's, or lacks columns); reads only.
    Returns its state, with no revision for a database without our tables (a new one)."""
    inspector = inspect(conn)
    existing = set(inspector.get_table_names())
    if meta.name not in existing:
        # A SQLite file is ours alone: any table means someone else's database. A PostgreSQL database
        # (or schema) may be shared with other applications; only our table names must be free.
        clash = sorted(existing if conn.dialect.name == "sqlite" else existing & set(metadata.tables))
        if clash:
            listed = ", ".join(clash[:8]) + (", ..." if len(clash) > 8 else "")
            raise StoreError(f"{where}: not a newsmon database (it has other tables: {listed}); "
                             "point storage at a new file or database")
        return SchemaState(where, None)
    stored = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    if stored is None or not stored.isdigit():
        raise StoreError(f"{where}: newsmon_meta has no valid schema_version ({stored!r})")
    if int(stored) > SCHEMA_VERSION:
        raise StoreError(f"{where}: written by a newer newsmon (schema {stored}, this one reads "
                         f"{SCHEMA_VERSION}); upgrade newsmon")
    recorded = None
    if VERSION_TABLE in existing:
        recorded = conn.execute(select(_revision_table.c.version_num)).scalar()
        _refuse_unknown(recorded, where)
    # Schemas 1 and 2 are one revision each, whatever the version table says: a newsmon before Alembic
    # changed the schema and its schema_version without knowing the table.
    revision = LEGACY_REVISIONS.get(int(stored), recorded)
    if revision is None:
        raise StoreError(f"{where}: schema {stored} but no revision in {VERSION_TABLE}; the database is "
                         "damaged or not newsmon's")
    if revision == SCHEMA_REVISION:
        _check_columns(inspector, where)
    return SchemaState(where, revision, stamped=recorded == revision)


def _refuse_unknown(recorded: str | None, where: str) -> None:
    """Refuse a revision this newsmon has no script for. Revisions are numbered 0001, 0002, ... in order
    (tests/test_migrate.py holds the scripts to it), so every number up to the head is known."""
    if recorded is None or not re.fullmatch(r"\d{4}", recorded):
        raise StoreError(f"{where}: unknown schema revision {recorded!r} in {VERSION_TABLE} (this newsmon "
                         f"knows 0001 to {SCHEMA_REVISION}); the database is damaged or not newsmon's")
    if recorded > SCHEMA_REVISION:
        raise StoreError(f"{where}: written by a newer newsmon (schema revision {recorded}, this one reads "
                         f"up to {SCHEMA_REVISION}); upgrade newsmon")


def _check_columns(inspector: Inspector, where: str) -> None:
    """Refuse a database at the current revision whose tables lack columns of the models."""
    for name in sorted(set(inspector.get_table_names()) & set(metadata.tables)):
        have = {column["name"] for column in inspector.get_columns(name)}
        missing = sorted(set(metadata.tables[name].columns.keys()) - have)
        if missing:
            raise StoreError(f"{where}: table {name} lacks columns {', '.join(missing)}; "
                             "the database is damaged or not newsmon's")
