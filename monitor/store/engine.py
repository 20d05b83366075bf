"""Opening a database: URL checks, SQLite connection settings, and creating or verifying the schema.

Every way a database can be wrong (not a database, someone else's database, a newer newsmon's, no
server) becomes a ``StoreError`` naming the path or URL and the reason, never a driver traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, select, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from monitor.errors import StoreError
from monitor.store.schema import SCHEMA_VERSION, insert_ignore, meta, metadata

SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 5000
# Any constant: serialises concurrent first-time schema creation by several PostgreSQL workers.
_PG_SCHEMA_LOCK = 0x6E65_7773  # "news"


def describe(url: URL) -> str:
    """The URL as it may appear in an error message: the password hidden."""
    return url.render_as_string(hide_password=True)


def open_engine(url: str) -> Engine:
    """An engine on a database with the newsmon schema, created if the database is new."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"{url}: not a database URL ({exc})") from exc
    if parsed.get_backend_name() == "sqlite":
        engine, where = _sqlite_engine(parsed), _sqlite_path(parsed)
    elif parsed.get_backend_name() == "postgresql":
        engine, where = _postgresql_engine(parsed), describe(parsed)
    else:
        raise StoreError(f"{describe(parsed)}: unsupported database; use sqlite:///PATH or "
                         "postgresql+psycopg://USER@HOST/DB")
    try:
        with engine.begin() as conn:
            _prepare_schema(conn, where)
    except StoreError:
        engine.dispose()
        raise
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = getattr(exc, "orig", None) or exc
        raise StoreError(f"{where}: cannot open the store: {reason}") from exc
    return engine


def _sqlite_path(url: URL) -> str:
    return url.database or ":memory:"


def _sqlite_engine(url: URL) -> Engine:
    database = url.database
    kwargs: dict[str, Any] = {}
    if database and database != ":memory:":
        path = Path(database)
        _check_sqlite_file(path)
    else:
        # One shared connection, otherwise every pooled connection would see its own empty database.
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn: Any, _record: Any) -> None:
        # Python's sqlite3 (3.11) only emits BEGIN before DML, so a SELECT followed by an INSERT would
        # not be one transaction. Take transaction control away from it; _begin() below emits BEGIN.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            # WAL: readers never block the writer. synchronous=NORMAL is durable against a process
            # crash (SIGKILL) in WAL mode; only an OS crash may lose the last commits, never corrupt.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Writers ask for IMMEDIATE: the write lock is taken at BEGIN (waiting up to busy_timeout)
        # instead of at the first INSERT, where a lock upgrade fails at once with "database is locked".
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _check_sqlite_file(path: Path) -> None:
    """Refuse paths that cannot be our database before SQLite gets a chance to write into them."""
    if path.is_dir():
        raise StoreError(f"{path}: is a folder, not a SQLite database file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > 0:
            with path.open("rb") as handle:
                header = handle.read(len(SQLITE_HEADER))
            if header != SQLITE_HEADER:
                raise StoreError(f"{path}: not a SQLite database (the file does not start with the "
                                 "SQLite header); point storage at a new file or folder")
    except OSError as exc:
        raise StoreError(f"{path}: cannot open the store: {exc.strerror or exc}") from exc


def _postgresql_engine(url: URL) -> Engine:
    # pre_ping: a long-running monitor outlives server restarts and idle-connection timeouts.
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def _prepare_schema(conn: Connection, where: str) -> None:
    """Create the tables in a new database; verify them in one we wrote before; refuse anything else.

    Runs in one transaction (DDL is transactional on both dialects), so a crash leaves no half schema.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SCHEMA_LOCK})
    inspector = inspect(conn)
    existing = set(inspector.get_table_names())
    ours = set(metadata.tables)
    if meta.name not in existing:
        # A SQLite file is ours alone: any table means someone else's database. A PostgreSQL database
        # (or schema) may be shared with other applications; only our table names must be free.
        clash = sorted(existing if conn.dialect.name == "sqlite" else existing & ours)
        if clash:
            listed = ", ".join(clash[:8]) + (", ..." if len(clash) > 8 else "")
            raise StoreError(f"{where}: not a newsmon database (it has other tables: {listed}); "
                             "point storage at a new file or database")
    else:
        stored = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
        if stored is None or not stored.isdigit():
            raise StoreError(f"{where}: newsmon_meta has no valid schema_version ({stored!r})")
        if int(stored) > SCHEMA_VERSION:
            raise StoreError(f"{where}: written by a newer newsmon (schema {stored}, this one reads "
                             f"{SCHEMA_VERSION}); upgrade newsmon")
        for name in sorted(existing & ours):
            have = {column["name"] for column in inspector.get_columns(name)}
            missing = sorted(set(metadata.tables[name].columns.keys()) - have)
            if missing:
                raise StoreError(f"{where}: table {name} lacks columns {', '.join(missing)}; "
                                 "the database is damaged or not newsmon's")
    metadata.create_all(conn, checkfirst=True)
    insert_ignore(conn, meta, [{"key": "schema_version", "value": str(SCHEMA_VERSION)}], key="key")
