"""The tables of stories and of the figure ledger, on the store's shared ``MetaData``.

::

    stories 1 ─< story_members >─ 1 articles          (every article with a version is in exactly one story)
    versions 1 ─ 1 ledger_versions                     (a version whose figures are in the ledger)
    versions 1 ─< figure_occurrences                   (every figure of every version)

Like ``monitor/store/scheduling.py`` they are defined on the store's ``metadata``, so ``open_store``'s
``create_all`` adds them to any database once this module is imported; ``ensure_tables`` also creates them
on a store opened before the import (so a database may lack them at any revision, and a migration that
changes them must allow for that). They are derived data: dropping them loses nothing that the next refresh cannot
rebuild from the stored versions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, String, Table, Text, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import StoreError
from monitor.store import Store
from monitor.store.schema import UTCDateTime, metadata

stories = Table(
    "stories", metadata,
    Column("id", Integer, primary_key=True),
    Column("title", Text, nullable=False),          # the headline of its earliest article
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# One row per article: which story it is in now, and the signature (terms of the headline and opening,
# JSON {term: count}) of the version it was grouped by. A new version, or another threshold, makes the row
# stale: the article is regrouped.
story_members = Table(
    "story_members", metadata,
    Column("article_id", Integer, ForeignKey("articles.id"), primary_key=True),
    Column("story_id", Integer, ForeignKey("stories.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("threshold", Float, nullable=False),      # the grouping threshold it was grouped at
    Column("terms", Text, nullable=False),
    Column("joined_at", UTCDateTime, nullable=False),
    Index("ix_story_members_story_id", "story_id"),
)

ledger_versions = Table(
    "ledger_versions", metadata,
    Column("version_id", Integer, ForeignKey("versions.id"), primary_key=True),
    Column("figures", Integer, nullable=False),      # how many figures it holds (0 is a valid answer)
)

figure_occurrences = Table(
    "figure_occurrences", metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", Integer, ForeignKey("versions.id"), nullable=False),
    Column("article_id", Integer, ForeignKey("articles.id"), nullable=False),
    Column("position", Integer, nullable=False),     # order in the version: headline first, then the text
    Column("text", Text, nullable=False),            # as written, without its qualifier: "11,000"
    Column("value", Float, nullable=False),
    Column("unit", String(32)),
    Column("qualifier", String(32)),
    Column("kind", String(16), nullable=False),      # number, percent, money, vague, time, date, year, ordinal
    Column("context", Text),                         # the counted noun or subject as the parser found it
    Column("subject", Text),                         # its canonical key (see figure_ledger.subject_key)
    Column("sentence", Text, nullable=False),
    Index("ix_figure_occurrences_article_id", "article_id"),
    Index("ix_figure_occurrences_version_id", "version_id"),
)

_TABLES = [stories, story_members, ledger_versions, figure_occurrences]


def ensure_tables(store: Store) -> None:
    """Create the tables if the store was opened before this module was imported. Looks first with a read:
    the report and the listings call this on every run, and must neither wait for a writer (the daemon)
    nor fail on a database they may only read."""
    with transaction(store, "look for the story tables") as conn:
        existing = set(inspect(conn).get_table_names())
    if all(table.name in existing for table in _TABLES):
        return
    with transaction(store, "create the story tables", write=True) as conn:
        metadata.create_all(conn, tables=_TABLES, checkfirst=True)


# Any constant: serialises writers of these tables on PostgreSQL ("stor").
_PG_LOCK = 0x7374_6F72


@contextmanager
def transaction(store: Store, action: str, *, write: bool = False) -> Iterator[Connection]:
    """One transaction on the store's engine; database errors become a StoreError saying what failed.

    Writers take turns: SQLite's write lock is taken at BEGIN, PostgreSQL's advisory transaction lock
    right after, so a check's refresh and a `newsmon stories` never regroup the same article at once."""
    try:
        with store.engine.connect() as conn:
            if write:
                conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                if write and conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
                yield conn
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise StoreError(f"cannot {action}: {reason}") from exc
