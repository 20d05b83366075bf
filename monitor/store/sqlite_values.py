"""How the store's dates and hashes are written in SQLite, without SQLAlchemy: the one definition that
monitor.store.schema's column types and the plain-SQL paths (monitor/store/plain_sqlite.py,
monitor/store/reporting.py) share.

Dates are integer microseconds since 1970 (UTC): 8 bytes at most instead of 26 characters of ISO text, in
each row and again in each index over them, exact (integer arithmetic, no float), and they sort as the
times do. Hashes (sha256: blob keys, fingerprints, line keys) are their 32 bytes, half their hex text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def sqlite_time(value: datetime) -> int:
    """An aware datetime as the store keeps it on SQLite. One that falls outside years 1-9999 once in UTC
    (0001-01-01T00:00+01:00) raises OverflowError here, as PostgreSQL refuses it, rather than being stored
    as a number no datetime can be read back from."""
    return (value.astimezone(UTC) - _EPOCH) // _MICROSECOND


def read_time(value: int) -> datetime:
    """A datetime as ``sqlite_time`` stores it, aware (UTC) again."""
    return _EPOCH + timedelta(microseconds=value)


def sha256_bytes(value: str) -> bytes:
    """A sha256 hex digest as the store keeps it (on either dialect)."""
    return bytes.fromhex(value)


def sha256_text(value: bytes | None) -> str | None:
    """A stored sha256 as its lowercase hex digest (None stays None)."""
    return None if value is None else value.hex()
