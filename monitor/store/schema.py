"""The tables of the store: one SQLAlchemy Core model set for SQLite and PostgreSQL.

::

    sources   1 ─< articles 1 ─< versions >─ blobs (text, html; content-addressed, zstd)
                                              blobs >─ blobs (a delta's base)
                           1 ─< checks
    sources   1 ─< source_lines >─ 1 articles     (short lines seen per article: boilerplate learning)
    sources   1 ─< source_boilerplate              (lines learned as boilerplate; kept once learned)

``articles`` carries the denormalised state a check needs (latest version number and fingerprint,
validators, gone flag) so that ``Store.states()`` is one indexed query, not a join over history.
``versions`` has a surrogate ``id`` so later tables (figure ledger, stories) can point at a version
with one column. ``newsmon_meta`` marks a database as ours and records the schema version, so a
foreign database is refused instead of being written into.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import Executable

from monitor.store.sqlite_values import read_time, sha256_bytes, sqlite_time


class Sha256(TypeDecorator[str]):
    """sha256 digests (blob keys, fingerprints, line keys): lowercase hex strings in Python, their 32 bytes
    in the database. Half the size of the hex text, in each row and again in each index over the column."""

    impl = LargeBinary(32)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else sha256_bytes(value)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> str | None:
        return None if value is None else bytes(value).hex()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both dialects.

    PostgreSQL stores ``timestamptz``; SQLite has no date type, and stores integer microseconds since 1970
    (monitor/store/sqlite_values.py). Reading always gives an aware UTC datetime. Naive input is refused:
    guessing its zone would silently shift check times.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | int | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the store; pass an aware one")
        return sqlite_time(value) if dialect.name == "sqlite" else value.astimezone(UTC)

    def process_result_value(self, value: datetime | int | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, int):
            return read_time(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

meta = Table(
    "newsmon_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

sources = Table(
    "sources", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
)

articles = Table(
    "articles", metadata,
    Column("id", Integer, primary_key=True),
    Column("url", Text, nullable=False),
    Column("source_id", Integer, ForeignKey("sources.id"), nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_checked", UTCDateTime),
    Column("latest_version", Integer),
    Column("fingerprint", Sha256),          # of the latest version
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_sha256", Sha256),          # of the last fetched body: skips extraction of identical pages
    Column("gone", Boolean, nullable=False, default=False),
    # A drastically shorter text held back as a likely extraction failure until a second check confirms it.
    Column("pending_fingerprint", Sha256),
    # For the scheduler (a later issue): when to look again, and consecutive failed checks for backoff.
    Column("next_check_at", UTCDateTime),
    Column("failures", Integer, nullable=False, default=0),
    Index("ix_articles_url", "url", unique=True),
    Index("ix_articles_source_id", "source_id"),
    Index("ix_articles_next_check_at", "next_check_at"),
)

blobs = Table(
    "blobs", metadata,
    # Versions and delta bases refer to a blob by this id: 8 bytes at most, where the key is 32.
    Column("id", Integer, primary_key=True),
    Column("sha256", Sha256, nullable=False),        # of the uncompressed bytes: the content's address
    Column("size", BigInteger, nullable=False),      # uncompressed length in bytes
    # "zstd" (standalone) or "zstd-delta" (compressed against ``base``), see monitor/store/blobs.py.
    Column("codec", String(32), nullable=False),
    Column("data", LargeBinary, nullable=False),
    # The blob whose bytes are the dictionary of a "zstd-delta" blob; NULL for a standalone one. The
    # foreign key makes the database itself refuse a delta whose base is not stored.
    Column("base", Integer, ForeignKey("blobs.id")),
    Index("ix_blobs_sha256", "sha256", unique=True),
)

versions = Table(
    "versions", metadata,
    Column("id", Integer, primary_key=True),
    Column("article_id", Integer, ForeignKey("articles.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("title", Text, nullable=False),
    Column("byline", Text),
    Column("published", Text),
    Column("modified", Text),
    Column("final_url", Text),
    Column("fingerprint", Sha256, nullable=False),   # comparable title + text (Version.text_sha256)
    Column("text_blob", Integer, ForeignKey("blobs.id"), nullable=False),
    Column("html_blob", Integer, ForeignKey("blobs.id"), nullable=False),
    Column("size", Integer, nullable=False),         # characters of body text
    # The guard against duplicate versions from a crash-and-retry or two racing workers.
    UniqueConstraint("article_id", "number", name="uq_versions_article_number"),
    CheckConstraint("number >= 1", name="ck_versions_number_positive"),
)

checks = Table(
    "checks", metadata,
    Column("id", Integer, primary_key=True),
    Column("article_id", Integer, ForeignKey("articles.id"), nullable=False),
    Column("checked_at", UTCDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),   # an EventName
    Column("status", SmallInteger),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("wire_bytes", BigInteger, nullable=False, default=0),
    Column("body_bytes", BigInteger, nullable=False, default=0),
    Column("duration", Float, nullable=False, default=0.0),
    Column("error", Text),
    Column("final_url", Text),
    # The version this check wrote (NULL if none): lets a crash audit match versions to checks.
    Column("version", Integer),
    CheckConstraint("wire_bytes >= 0 AND body_bytes >= 0 AND duration >= 0", name="ck_checks_counts"),
    Index("ix_checks_article_checked_at", "article_id", "checked_at"),
)

# Boilerplate learning (monitor/boilerplate.py). A "line" is a short paragraph of an article's text, keyed
# by the sha256 of its comparable form. One row per line and article, however many versions or checks
# repeat it: learning counts articles, never versions. The primary key's prefix (source_id, line_key)
# serves the count of articles per line. Both tables are part of revision 0001 (monitor/store/migrations).
source_lines = Table(
    "source_lines", metadata,
    Column("source_id", Integer, ForeignKey("sources.id"), nullable=False),
    Column("line_key", Sha256, nullable=False),
    Column("article_id", Integer, ForeignKey("articles.id"), nullable=False),
    PrimaryKeyConstraint("source_id", "line_key", "article_id", name="pk_source_lines"),
)

# Lines once learned as boilerplate stay learned. Otherwise a retired sign-off, still in old stored
# versions, would come back as "removed" once the source grows and the line's share of its articles
# falls below the threshold.
source_boilerplate = Table(
    "source_boilerplate", metadata,
    Column("source_id", Integer, ForeignKey("sources.id"), nullable=False),
    Column("line_key", Sha256, nullable=False),
    PrimaryKeyConstraint("source_id", "line_key", name="pk_source_boilerplate"),
)


def insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]], key: str | tuple[str, ...]) -> None:
    """``INSERT ... ON CONFLICT (key) DO NOTHING`` on either dialect; ``key`` is a column or a tuple of
    columns with a unique index (or the primary key) over them.

    Both SQLite (3.24+) and PostgreSQL have the clause, but SQLAlchemy spells it per dialect. It is
    race-free, unlike select-then-insert, which matters once several workers share PostgreSQL.
    """
    if rows:
        conn.execute(_insert_ignore_statement(conn.dialect.name, table, key), rows)


@cache
def _insert_ignore_statement(dialect: str, table: Table, key: str | tuple[str, ...]) -> Executable:
    # Built once: constructing statements costs more than executing them in SQLAlchemy.
    return dialect_insert(dialect)(table).on_conflict_do_nothing(
        index_elements=[key] if isinstance(key, str) else list(key))


def dialect_insert(dialect: str) -> Any:
    """The dialect's own ``insert`` (with ON CONFLICT). Imported here, not at the top: importing
    SQLAlchemy's PostgreSQL dialect costs 20 ms at every start of newsmon, most of which use SQLite."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert
