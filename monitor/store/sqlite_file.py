"""A SQLite file before and after it is opened, without SQLAlchemy: the checks that refuse a file which
cannot be our database (before SQLite writes into it), and the settings of every connection.

Both the SQLAlchemy engine (monitor/store/engine.py) and the plain connection that checks unchanged
articles (monitor/store/plain_sqlite.py) use them, so a file is refused, and a connection behaves, the same
way whichever opens it.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from monitor.errors import StoreError

SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 5000


def configure_connection(dbapi_conn: sqlite3.Connection) -> None:
    """WAL, synchronous=NORMAL, foreign keys and the busy timeout; transactions begun by the caller."""
    # Python's sqlite3 (3.11) only emits BEGIN before DML, so a SELECT followed by an INSERT would not be
    # one transaction. Take transaction control away from it; the caller emits BEGIN.
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


def check_sqlite_file(path: Path) -> None:
    """Refuse paths that cannot be our database before SQLite gets a chance to write into them."""
    if path.is_dir():
        raise StoreError(f"{path}: is a folder, not a SQLite database file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            return
        size = path.stat().st_size
        with path.open("rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise StoreError(f"{path}: cannot open the store: {exc.strerror or exc}") from exc
    if size == 0:
        # newsmon creates its file complete (see _create_sqlite_file), so an empty one is a damaged or
        # foreign file; taking it as a new store would silently start the history over.
        raise StoreError(f"{path}: is an empty file, not a newsmon database; delete it to start a new store")
    if not header.startswith(SQLITE_HEADER):
        raise StoreError(f"{path}: not a SQLite database (the file does not start with the "
                         "SQLite header); point storage at a new file or folder")
    truncated = _truncation(path, size, header)
    if truncated:
        raise StoreError(f"{path}: the database file is damaged ({truncated}); newsmon leaves it as it is: "
                         "restore it from a backup, or point storage at a new file or folder")


def _truncation(path: Path, size: int, header: bytes) -> str | None:
    """Why the file is shorter than its header says, or None. SQLite would open a truncated file and
    fail (or write) only when it reaches the missing pages, possibly in the middle of a check."""
    if len(header) < 100:
        return f"only {size} bytes, shorter than the SQLite header"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if size % page_size:
        return f"{size} bytes is not a whole number of {page_size}-byte pages"
    # The page count at offset 28 is valid only if the change counter (24) equals "version-valid-for" (92).
    pages = int.from_bytes(header[28:32], "big")
    if pages and header[24:28] == header[92:96] and size < pages * page_size:
        # With a write-ahead log present, the log may hold the newest pages; SQLite reconciles the two.
        wal = Path(f"{path}-wal")
        if not (wal.exists() and wal.stat().st_size > 0):
            return f"{size} bytes, but its header counts {pages} pages of {page_size} bytes"
    return None


# Below this many free bytes, a failure to open or create a SQLite file is most likely the full disk.
_NEARLY_FULL = 1 << 20


def full_disk_note(where: str) -> str:
    """Why SQLite's "disk I/O error" or "unable to open" happened, when the disk is full; else ''."""
    if "://" in where or where == ":memory:":
        return ""
    folder = Path(where).parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return ""
    return f" (the disk holding it is full: {free:,} bytes free)" if free < _NEARLY_FULL else ""
