"""One daemon per storage: a second ``newsmon run`` on the same database stops at once and names the first.

- SQLite: an ``fcntl`` lock on ``<database>.lock`` next to the database file, which holds the PID of its
  owner. The kernel drops the lock when the process dies, however it dies, so a stale file from a crash
  never blocks the next start (its PID is simply overwritten).
- PostgreSQL: a session advisory lock, held by one connection kept open for the daemon's life. The
  server drops it when that session ends. The connection's ``application_name`` carries our PID and
  host, so a second daemon can say who holds the lock by reading ``pg_stat_activity``.

``acquire(url)`` returns a ``StorageLock`` (release it, or use it as a context manager) or raises
``LockHeld`` naming the holder.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import MonitorError, StoreError

__all__ = ["LOCK_KEY", "LockHeld", "StorageLock", "acquire", "holder", "lock_path"]

# The first half of a two-part advisory lock key ("nmon"); the second is a hash of the schema, so that
# daemons on two schemas of one database (one storage each) do not exclude each other.
LOCK_KEY = 0x6E6D_6F6E
_TRY = "SELECT pg_try_advisory_lock(:key, hashtext(current_schema()))"
_UNLOCK = "SELECT pg_advisory_unlock(:key, hashtext(current_schema()))"
_HOLDER = (
    "SELECT a.application_name, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid::bigint = :key AND l.objid::bigint = (hashtext(current_schema())::bigint & 4294967295)")


class LockHeld(MonitorError):
    """Another daemon already runs on this storage."""

    def __init__(self, where: str, holder: str) -> None:
        self.where = where
        self.holder = holder
        super().__init__(f"another newsmon daemon ({holder}) is already running on {where}; "
                         "stop it first (one daemon per storage)")


def lock_path(database: str) -> Path:
    return Path(database + ".lock")


class StorageLock:
    """A held lock; ``release()`` (or leaving the ``with`` block) gives it up."""

    def __init__(self, where: str, release: Any) -> None:
        self.where = where
        self._release = release

    def __enter__(self) -> StorageLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        if self._release is not None:
            release, self._release = self._release, None
            release()


def acquire(url: str) -> StorageLock:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            # An in-memory database belongs to one process: there is nothing to share.
            return StorageLock(":memory:", None)
        return _sqlite_lock(Path(database))
    if backend == "postgresql":
        return _postgresql_lock(url)
    raise StoreError(f"{parsed.render_as_string(hide_password=True)}: unsupported database for a lock")


def _sqlite_lock(database: Path) -> StorageLock:
    path = lock_path(str(database))
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_CREAT without O_TRUNC: truncating before holding the lock would erase the holder's PID.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown PID"
        os.close(fd)
        raise LockHeld(str(database), f"PID {holder}") from None
    except OSError as exc:
        os.close(fd)
        raise StoreError(f"{path}: cannot lock: {exc.strerror or exc}") from exc
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    os.fsync(fd)

    def release() -> None:
        # The file stays: removing it would race with a newcomer locking the old inode.
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)

    return StorageLock(str(database), release)


def _postgresql_lock(url: str) -> StorageLock:
    parsed = make_url(url)
    where = parsed.render_as_string(hide_password=True)
    name = f"newsmon run pid={os.getpid()} host={socket.gethostname()}"[:63]
    engine = create_engine(url, pool_size=1, max_overflow=0,
                           connect_args={"connect_timeout": 10, "application_name": name})
    try:
        conn = engine.connect()
        got = conn.execute(text(_TRY), {"key": LOCK_KEY}).scalar()
        conn.commit()
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"{where}: cannot take the daemon lock: {getattr(exc, 'orig', None) or exc}") from exc
    if not got:
        holder = conn.execute(text(_HOLDER), {"key": LOCK_KEY}).first()
        conn.close()
        engine.dispose()
        who = "unknown PID"
        if holder is not None:
            app = str(holder[0] or "")
            who = app.removeprefix("newsmon run ") if app.startswith("newsmon run") else f"server PID {holder[1]}"
        raise LockHeld(where, who.replace("pid=", "PID "))

    def release() -> None:
        try:
            conn.execute(text(_UNLOCK), {"key": LOCK_KEY})
            conn.commit()
        except SQLAlchemyError:
            pass                  # closing the session below releases it anyway
        finally:
            conn.close()
            engine.dispose()

    return StorageLock(where, release)



def holder(url: str) -> str | None:
    """Who runs a daemon on this storage ("PID 4242"), or None; reads only, never takes the lock.

    For SQLite: the PID in the lock file, if that process is alive (the file keeps the PID of a daemon
    that crashed; a PID reused since by another program is taken for ours, which only ``status`` reads).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return None
        try:
            pid = int(lock_path(parsed.database).read_text().strip() or 0)
        except (OSError, ValueError):
            return None
        if pid <= 0:
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass                      # alive, but another user's
        return f"PID {pid}"
    engine = create_engine(url, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            row = conn.execute(text(_HOLDER), {"key": LOCK_KEY}).first()
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    if row is None:
        return None
    app = str(row[0] or "")
    return app.removeprefix("newsmon run ").replace("pid=", "PID ") if app.startswith("newsmon run") \
        else f"server PID {row[1]}"
